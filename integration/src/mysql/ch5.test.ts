/**
 * Chapter 5 over real SIP against the real MariaDB: sip-proxy --db, subscribers provisioned
 * with sipctl, phones played by SIPp. Digest REGISTER (401 then 200), wrong passwords never get
 * a 200, calls challenged 407 and completed, From spoofing 403, aliases, the live-state sipctl
 * commands, a restart with bindings kept and a call reaching the phone, and a database created
 * by Kamailio's kamdbctl used as is. Each run creates and drops its own databases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allocatePorts, assertSippOk, createBackend, explain, receivedBy, type Backend, type SippResult } from '../harness/index.js';
import { DOMAIN, registerPhone, scenario, sipctl, sipctlOk, startCh5Proxy, type Ch5Proxy } from './ch5-lab.js';
import { adminQuery, createKamdbctlDatabase, createTestDatabase, type KamailioDatabase, type TestDatabase } from './mysql-database.js';

const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' } as const;

function flowOf(r: SippResult): string {
  return explain([r]);
}

/** Every final response SIPp received for method `m`, as status codes. */
function finals(r: SippResult, m: string): number[] {
  return receivedBy(r, { cseqMethod: m }).map((x) => x.status!).filter((s) => s >= 200);
}

describe('chapter 5 on MariaDB: sip-proxy --db with sipctl-provisioned subscribers', () => {
  let lab: Backend;
  let db: TestDatabase;
  let proxy: Ch5Proxy;
  let ports: number[];
  let sipPort: number;
  let adminPort: number;
  let bobPort: number;

  before(async () => {
    lab = await createBackend('mysql-ch5');
    db = await createTestDatabase();
    [sipPort, adminPort, bobPort, ...ports] = await allocatePorts(12);
    const init = await sipctlOk(['--db', db.url, 'db', 'init']);
    assert.match(init, /created: version, subscriber, location/);
    await sipctlOk(['--db', db.url, 'domain', 'add', DOMAIN]);
    for (const [u, p] of Object.entries(USERS)) await sipctlOk(['--db', db.url, 'add', `${u}@${DOMAIN}`, p, `${u}@mail.example.com`]);
    await sipctlOk(['--db', db.url, 'alias', 'add', `8590@${DOMAIN}`, `bob@${DOMAIN}`]);
    proxy = await startCh5Proxy(lab, { dbUrl: db.url, sipPort: sipPort!, adminPort: adminPort! });
  });

  after(async () => {
    await lab?.close();
    await db?.drop();
  });

  it('REGISTER with digest: 401 with WWW-Authenticate, then 200; the binding is in the location table', async () => {
    const r = await registerPhone(lab, proxy, { user: 'bob', password: USERS.bob, contactPort: bobPort! });
    assertSippOk([r]);
    const challenge = receivedBy(r, { status: 401 });
    assert.equal(challenge.length, 1, flowOf(r));
    const offered = challenge[0]!.values('www-authenticate');
    assert.ok(offered.some((v) => /algorithm=MD5/.test(v)) && offered.some((v) => /algorithm=SHA-256/.test(v)), offered.join(' | '));
    assert.deepEqual(finals(r, 'REGISTER'), [401, 200]);
    const rows = await adminQuery<{ contact: string }[]>('SELECT contact FROM location WHERE username = ? AND domain = ?', ['bob', DOMAIN], db.name);
    assert.deepEqual(rows.map((x) => x.contact), [`sip:bob@${lab.host}:${bobPort}`]);
  });

  it('a wrong password is answered 401 again and never 200', async () => {
    const r = await registerPhone(lab, proxy, { user: 'alice', password: 'not-her-password', contactPort: ports[0]! });
    assert.notEqual(r.exitCode, 0, flowOf(r));
    assert.deepEqual(finals(r, 'REGISTER'), [401, 401], flowOf(r));
  });

  it('registering alice with bob\'s credentials is 403 (check_to)', async () => {
    const r = await registerPhone(lab, proxy, { user: 'alice', authUser: 'bob', password: USERS.bob, contactPort: ports[0]! });
    assert.deepEqual(finals(r, 'REGISTER'), [401, 403], flowOf(r));
  });

  async function callBob(callee: string, name: string): Promise<{ uac: SippResult; uas: SippResult }> {
    const uas = await lab.startSipp({ name: `uas-${name}`, scenario: 'uas-answer', localPort: bobPort!, timeoutMs: 20_000 });
    const uac = await lab.runSipp({
      name: `uac-${name}`, scenario: scenario('uac-call-digest'), remote: proxy.sipAddress,
      keys: { caller: 'alice', callee, domain: DOMAIN }, timeoutMs: 20_000, extraArgs: ['-au', 'alice', '-ap', USERS.alice],
    });
    return { uac, uas: await uas.result(25_000) };
  }

  it('an INVITE from a local user is challenged with 407 and completed; our credentials are not forwarded', async () => {
    const { uac, uas } = await callBob('bob', 'call');
    assertSippOk([uac, uas]);
    assert.deepEqual(finals(uac, 'INVITE'), [407, 200], flowOf(uac));
    const inv = receivedBy(uas, { method: 'INVITE' });
    assert.equal(inv.length, 1, flowOf(uas));
    assert.equal(inv[0]!.header('proxy-authorization'), undefined, 'consume_credentials');
  });

  it('From spoofing (authenticated as bob, From alice) is answered 403', async () => {
    const r = await lab.runSipp({
      name: 'uac-spoof', scenario: scenario('uac-invite-spoofed'), remote: proxy.sipAddress,
      keys: { caller: 'alice', callee: 'carol', domain: DOMAIN }, timeoutMs: 15_000, extraArgs: ['-au', 'bob', '-ap', USERS.bob],
    });
    assertSippOk([r]);
    const forbidden = receivedBy(r, { status: 403 });
    assert.equal(forbidden[0]?.reason, 'Forbidden, use From=ID');
  });

  it('a wrong password on a call is challenged again, never relayed', async () => {
    const r = await lab.runSipp({
      name: 'uac-wrong-pw', scenario: scenario('uac-invite-wrong-password'), remote: proxy.sipAddress,
      keys: { caller: 'alice', callee: 'bob', domain: DOMAIN }, timeoutMs: 15_000, extraArgs: ['-au', 'alice', '-ap', 'wrong'],
    });
    assertSippOk([r]);
    assert.deepEqual(finals(r, 'INVITE'), [407, 407], flowOf(r));
  });

  it('lookup("aliases"): a call to 8590@example.com rings bob', async () => {
    const { uac, uas } = await callBob('8590', 'alias');
    assertSippOk([uac, uas]);
    assert.match(receivedBy(uas, { method: 'INVITE' })[0]!.requestUri ?? '', /^sip:bob@/);
  });

  it('sipctl against the running proxy: ul show, online, ping, monitor', async () => {
    const ul = JSON.parse(await sipctlOk(['--json', '--proxy-admin', proxy.adminUrl, 'ul', 'show', `bob@${DOMAIN}`]));
    assert.equal(ul.bindings[0].contact, `sip:bob@${lab.host}:${bobPort}`);
    assert.match(await sipctlOk(['--proxy-admin', proxy.adminUrl, 'online']), /^bob@example\.com$/m);
    assert.match(await sipctlOk(['ping', `sip:${proxy.sipAddress}`]), /^200 OK from /);
    const stats = JSON.parse(await sipctlOk(['--json', '--proxy-admin', proxy.adminUrl, 'monitor']));
    assert.ok(stats.requests_received > 0);
    const missing = await sipctl(['--proxy-admin', proxy.adminUrl, 'ul', 'show', `nobody@${DOMAIN}`]);
    assert.equal(missing.code, 3);
  });

  it('a restarted proxy keeps its bindings and calls reach the phone registered before the restart', async () => {
    await proxy.handle.stop();
    proxy = await startCh5Proxy(lab, { dbUrl: db.url, sipPort: sipPort!, adminPort: adminPort!, name: 'proxy-restarted' });
    const ul = JSON.parse(await sipctlOk(['--json', '--proxy-admin', proxy.adminUrl, 'ul', 'show', `bob@${DOMAIN}`]));
    assert.equal(ul.bindings.length, 1);
    const { uac, uas } = await callBob('bob', 'after-restart');
    assertSippOk([uac, uas]);
  });
});

describe('chapter 5 on a database created by Kamailio\'s kamdbctl, used as is', () => {
  let lab: Backend;
  let kam: KamailioDatabase;

  before(async () => {
    lab = await createBackend('mysql-kamdbctl');
    kam = await createKamdbctlDatabase();
  });

  after(async () => {
    await lab?.close();
    await kam?.drop();
  });

  it('subscribers added with kamctl register with digest; the binding lands in Kamailio\'s location table', async () => {
    await kam.kamctl(['add', `dave@${DOMAIN}`, 'dave-pw']);
    // sipctl edits the Kamailio database without `db init`: the schema is Kamailio's own.
    await sipctlOk(['--db', kam.url, 'domain', 'add', DOMAIN]);
    const check = await sipctlOk(['--db', kam.url, 'db', 'check']);
    assert.match(check, /^schema OK/);
    const [sipPort, adminPort, phonePort] = await allocatePorts(3);
    const proxy = await startCh5Proxy(lab, { dbUrl: kam.url, sipPort: sipPort!, adminPort: adminPort! });
    const ok = await registerPhone(lab, proxy, { user: 'dave', password: 'dave-pw', contactPort: phonePort! });
    assertSippOk([ok]);
    const bad = await registerPhone(lab, proxy, { user: 'dave', password: 'guess', contactPort: phonePort! });
    assert.deepEqual(finals(bad, 'REGISTER'), [401, 401], flowOf(bad));
    const rows = await adminQuery<{ contact: string; expires: Date }[]>('SELECT contact, expires FROM location WHERE username = ? AND domain = ?', ['dave', DOMAIN], kam.name);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.contact, `sip:dave@${lab.host}:${phonePort}`);
    assert.ok(rows[0]!.expires.getTime() > Date.now());
    // Kamailio's own tool reads what the proxy wrote.
    assert.match(await kam.kamctl(['db', 'show', 'location']), /dave/);
  });
});
