/**
 * Issue 5 end to end: SIPp calls through sip-proxy, the proxy's acc module writes the journal,
 * radius-acct sends it to a real FreeRADIUS (detail file + MariaDB radacct).
 *   - an answered call of known length yields a Start and a Stop with the call's Call-ID as
 *     Acct-Session-Id, and the CDR joins them with that duration;
 *   - a busy call yields one Failed record with 486.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocatePort, assertSippOk, createBackend, explain, one, sentBy, type Backend, type RunningProxy } from '../harness/index.js';
import { failureTracker, phoneContact, register } from '../proxy/support.js';
import { startFreeRadius, type FreeRadiusServer } from './freeradius.js';
import { createTestDatabase, radacctRows, RadiusAcctProcess, runRadiusAcct, waitUntil, type TestDatabase } from './radius-harness.js';

const SECRET = 'proxy-acct-s3cret';
const CALL_MS = 2000;

describe('accounting: SIPp calls through sip-proxy reach FreeRADIUS', { timeout: 120_000 }, () => {
  let lab: Backend;
  let proxy: RunningProxy;
  let db: TestDatabase;
  let fr: FreeRadiusServer;
  let emitter: RadiusAcctProcess | null = null;
  let work = '';
  const t = failureTracker();

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'proxy-acct-it-'));
    db = await createTestDatabase('radius_proxy_call');
    fr = await startFreeRadius({ secret: SECRET, database: db.name });
    lab = await createBackend('radius-proxy-call');
    proxy = await lab.startProxy({ accountingJournal: join(work, 'acc.journal') });
  });

  after(async () => {
    await emitter?.kill('SIGKILL');
    await lab?.close({ failed: t.failed() });
    await fr?.close();
    await db?.drop();
    rmSync(work, { recursive: true, force: true });
  });

  it('an answered call gives Start + Stop with its Call-ID and duration; a busy call gives Failed', t.track(async () => {
    const [uasPort, busyPort, uacPort] = [await allocatePort(lab.host), await allocatePort(lab.host), await allocatePort(lab.host)];
    await register(lab, proxy, { user: 'bob', contact: phoneContact('bob', lab.host, uasPort), expires: 600 });
    await register(lab, proxy, { user: 'carol', contact: phoneContact('carol', lab.host, busyPort), expires: 600 });

    const uas = await lab.startSipp({ name: 'uas-acct', scenario: 'uas-answer', localPort: uasPort, timeoutMs: 20_000 });
    const call = await lab.runSipp({
      name: 'uac-acct', scenario: 'uac-call', remote: proxy.sipAddress, localPort: uacPort,
      keys: { caller: 'alice', callee: 'bob' }, timeoutMs: 20_000, extraArgs: ['-d', String(CALL_MS)],
    });
    const uasResult = await uas.result(25_000);
    assertSippOk([call, uasResult], proxy);
    const callId = one(sentBy(call, { method: 'INVITE' }), 'INVITE sent by the caller', explain([call])).header('call-id')!;

    const busy = await lab.startSipp({ name: 'uas-busy-acct', scenario: 'uas-busy', localPort: busyPort, timeoutMs: 20_000 });
    const busyCall = await lab.runSipp({
      name: 'uac-busy-acct', scenario: 'uac-expect-486', remote: proxy.sipAddress, localPort: uacPort,
      keys: { caller: 'alice', callee: 'carol' }, timeoutMs: 20_000,
    });
    assertSippOk([busyCall, await busy.result(25_000)], proxy);
    const busyCallId = one(sentBy(busyCall, { method: 'INVITE' }), 'INVITE sent by the caller', explain([busyCall])).header('call-id')!;

    emitter = RadiusAcctProcess.start([
      '--journal', join(work, 'acc.journal'), '--radius', fr.address, '--secret', SECRET,
      '--state-dir', join(work, 'state'), '--log-level', 'info',
    ]);
    await emitter.startupLine();
    await waitUntil('3 radacct rows', 30_000, async () => (await radacctRows(db)).length >= 3);

    const detail = fr.readDetail();
    const ofCall = detail.filter((d) => d.attrs['Acct-Session-Id'] === callId);
    const start = ofCall.find((d) => d.attrs['Acct-Status-Type'] === 'Start')?.attrs;
    const stop = ofCall.find((d) => d.attrs['Acct-Status-Type'] === 'Stop')?.attrs;
    assert.ok(start && stop, `Start and Stop for ${callId}; detail: ${JSON.stringify(detail.map((d) => d.attrs['Acct-Status-Type']))}`);
    assert.equal(start['Sip-Method-Code'], 'INVITE');
    assert.equal(start['Sip-Response-Code'], '200');
    assert.equal(stop['Sip-Method-Code'], 'BYE');
    assert.match(start['User-Name'] ?? '', /^alice@/);
    assert.match(start['Called-Station-Id'] ?? '', /^sip:bob@/);
    const seconds = (Date.parse(stop['Event-Timestamp']!) - Date.parse(start['Event-Timestamp']!)) / 1000;
    assert.ok(seconds >= 1 && seconds <= 4, `Stop - Start = ${seconds} s for a ${CALL_MS} ms call`);

    const failed = detail.filter((d) => d.attrs['Acct-Session-Id'] === busyCallId);
    assert.equal(failed.length, 1, 'one record for the busy call');
    assert.equal(failed[0]!.attrs['Acct-Status-Type'], 'Failed');
    assert.equal(failed[0]!.attrs['Sip-Response-Code'], '486');

    const rows = await radacctRows(db);
    assert.equal(rows.length, 3, 'each record stored once');

    const cdr = await runRadiusAcct(['cdr', '--journal', join(work, 'acc.journal'), '--format', 'json', '--include-failed']);
    assert.equal(cdr.code, 0, cdr.stderr);
    const cdrs = cdr.stdout.trim().split('\n').map((l) => JSON.parse(l) as { callid: string; status: string; duration: number | null });
    const answered = cdrs.find((c) => c.callid === callId);
    assert.equal(answered?.status, 'completed');
    assert.ok(answered!.duration! >= CALL_MS / 1000 && answered!.duration! < CALL_MS / 1000 + 2, `CDR duration ${answered?.duration}`);
    assert.equal(cdrs.find((c) => c.callid === busyCallId)?.status, 'failed');
  }));
});
