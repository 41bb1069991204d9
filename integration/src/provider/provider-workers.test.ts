/**
 * The provider route with worker threads (`--workers 2`): each worker holds its own copy of the
 * in-memory tables, and worker 0 serves the admin API. A sipctl change reloaded through the
 * admin API must reach every worker: calls spread over both workers (by Call-ID) all use the
 * new gateway at once, not after the periodic reload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, type Backend } from '../harness/index.js';
import { sipctlOk } from '../mysql/ch5-lab.js';
import { createTestDatabase, type TestDatabase } from '../mysql/mysql-database.js';
import { DOMAIN, GW_B_HOST, password, provisionWithSipctl, scenario, startProviderProxy, type ProviderPorts, type ProviderProxy } from './provider-lab.js';

const CALLS = 6;

describe('provider route with worker threads on MariaDB', () => {
  let lab: Backend;
  let db: TestDatabase;
  let ports: ProviderPorts;
  let proxy: ProviderProxy;

  before(async () => {
    lab = await createBackend('provider-workers');
    db = await createTestDatabase('voip_it_provider_workers');
    const [sip, admin, gwA, gwB, voicemail] = await allocatePorts(5);
    ports = { sip: sip!, admin: admin!, gwA: gwA!, gwB: gwB!, voicemail: voicemail! };
    await provisionWithSipctl(db.url, ports);
    proxy = await startProviderProxy(lab, { dbUrl: db.url, ports, workers: 2 });
  });

  after(async () => {
    await lab?.close();
    await db?.drop();
  });

  it('sipctl lcr gw/rule add with --proxy-admin reaches every worker', async () => {
    await sipctlOk(['--db', db.url, '--proxy-admin', proxy.adminUrl, 'lcr', 'gw', 'add', 'gw-c', `${GW_B_HOST}:${ports.gwB}`, '--strip', '1', '--prefix', '9']);
    await sipctlOk(['--db', db.url, '--proxy-admin', proxy.adminUrl, 'lcr', 'rule', 'add', '+1415', '--gw', 'gw-c:1', '--stopper']);
    const gw = await lab.startSipp({ name: 'gw-c', scenario: 'uas-answer', localPort: ports.gwB, calls: CALLS, timeoutMs: 30_000, extraArgs: ['-i', GW_B_HOST] });
    const uac = await lab.runSipp({
      name: 'uac-alice-calls', scenario: scenario('uac-call-digest'), remote: proxy.sipAddress, calls: CALLS,
      keys: { caller: 'alice', callee: '14155550123', domain: DOMAIN }, timeoutMs: 30_000, extraArgs: ['-au', 'alice', '-ap', password('alice')],
    });
    const uas = await gw.result(30_000);
    assertSippOk([uac, uas]);
    const invites = receivedBy(uas, { method: 'INVITE' });
    assert.equal(invites.length, CALLS, explain([uac, uas]));
    for (const inv of invites) assert.match(inv.requestUri ?? '', /^sip:914155550123@/);
  });
});
