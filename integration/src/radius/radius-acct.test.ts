/**
 * radius-acct against a real FreeRADIUS 3.2 writing to a detail file and to MariaDB radacct.
 * Records come from the proxy's two sinks (journal, MySQL acc/missed_calls); the SIPp call
 * through the proxy joins these tests once the proxy accounts calls (startFreeRadius() and
 * the helpers in radius-harness.ts are what it needs).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accRecordUniqueId, JournalAccountingSink, MysqlAccountingSink, type AccRecord, type AccountingSink } from '@voip/acc';
import { startFreeRadius, type FreeRadiusServer } from './freeradius.js';
import { createTestDatabase, radacctRows, RadiusAcctProcess, runRadiusAcct, waitUntil, type TestDatabase } from './radius-harness.js';

const SECRET = 'acct-s3cret';
/** Fast retransmission so outages resolve within the suite's time budget. */
const FAST = ['--retransmit-ms', '200', '--max-retransmit-ms', '1000', '--dead-time-ms', '1000', '--tries-per-server', '2'];

function call(n: number, t0: number, over: Partial<AccRecord> = {}): AccRecord {
  return {
    kind: 'acc',
    method: 'INVITE',
    from_tag: `from-${n}`,
    to_tag: `to-${n}`,
    callid: `call-${n}@lab.example`,
    sip_code: 200,
    sip_reason: 'OK',
    time: t0,
    src_user: 'alice',
    src_domain: 'lab.example',
    src_ip: '127.0.0.1',
    dst_ouser: 'bob',
    dst_user: 'bob',
    dst_domain: 'lab.example',
    user_agent: 'SIPp',
    ...over,
  };
}

/** An answered call's Start and Stop (BYE from the caller), or a missed call's one record. */
function callRecords(n: number, t0: number): AccRecord[] {
  if (n % 5 === 4) return [call(n, t0, { kind: 'missed_call', sip_code: 486, sip_reason: 'Busy Here', to_tag: `busy-${n}` })];
  return [call(n, t0), call(n, t0 + 1500 + n, { method: 'BYE', sip_reason: 'OK' })];
}

describe('radius-acct with FreeRADIUS', { timeout: 170_000 }, () => {
  const cleanups: (() => Promise<void>)[] = [];
  const processes: RadiusAcctProcess[] = [];
  let work = '';

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'radius-acct-it-'));
  });
  after(async () => {
    for (const p of processes) await p.kill('SIGKILL');
    for (const c of cleanups.reverse()) await c().catch(() => {});
    rmSync(work, { recursive: true, force: true });
  });

  async function setup(name: string): Promise<{ db: TestDatabase; fr: FreeRadiusServer; state: string }> {
    const db = await createTestDatabase(`radius_${name}`);
    cleanups.push(() => db.drop());
    const fr = await startFreeRadius({ secret: SECRET, database: db.name });
    cleanups.push(() => fr.close());
    return { db, fr, state: join(work, name) };
  }

  function emitter(args: string[]): RadiusAcctProcess {
    const p = RadiusAcctProcess.start([...args, '--secret', SECRET, '--log-level', 'info', ...FAST]);
    processes.push(p);
    return p;
  }

  it('journal: Start, Stop and Failed reach FreeRADIUS with the Kamailio attributes; a bad record is parked; cdr joins the call', async () => {
    const { db, fr, state } = await setup('journal');
    const path = join(work, 'journal.ndjson');
    const sink = await JournalAccountingSink.open({ path });
    const t0 = Date.now() - 60_000;
    sink.write(call(1, t0));
    sink.write(call(1, t0 + 42_500, { method: 'BYE', from_tag: 'to-1', to_tag: 'from-1', src_user: 'bob', dst_user: 'alice' }));
    sink.write(call(2, t0 + 1000, { kind: 'missed_call', sip_code: 486, sip_reason: 'Busy Here', to_tag: 'busy-2' }));
    sink.write(call(3, t0 + 2000, { callid: `${'x'.repeat(250)}@lab` })); // 254 octets: over RFC 2865's 253
    await sink.close();

    const proc = emitter(['--journal', path, '--radius', fr.address, '--state-dir', state]);
    assert.match(await proc.startupLine(), /no saved progress: starting at the beginning of journal:/);
    await waitUntil('3 radacct rows', 20_000, async () => (await radacctRows(db)).length >= 3);
    await waitUntil('the parked record', 10_000, async () => (await runRadiusAcct(['parked', '--state-dir', state])).stdout.includes('253'));

    const detail = fr.readDetail();
    assert.equal(detail.length, 3, 'one Accounting-Request per deliverable record');
    // The window sends records concurrently: find each by its status type.
    const byStatus = (s: string): Record<string, string> => detail.find((d) => d.attrs['Acct-Status-Type'] === s)?.attrs ?? {};
    const [start, stop, failed] = [byStatus('Start'), byStatus('Stop'), byStatus('Failed')];
    assert.equal(start['Acct-Status-Type'], 'Start');
    assert.equal(stop['Acct-Status-Type'], 'Stop');
    assert.equal(failed['Acct-Status-Type'], 'Failed');
    assert.equal(start['Acct-Session-Id'], 'call-1@lab.example');
    assert.equal(stop['Acct-Session-Id'], 'call-1@lab.example');
    assert.equal(start['Sip-From-Tag'], 'from-1');
    assert.equal(start['Sip-To-Tag'], 'to-1');
    assert.equal(stop['Sip-From-Tag'], 'to-1', 'BYE from the callee carries swapped tags');
    assert.equal(start['Sip-Method-Code'], 'INVITE');
    assert.equal(stop['Sip-Method-Code'], 'BYE');
    assert.equal(failed['Sip-Method-Code'], 'INVITE');
    assert.equal(start['Sip-Response-Code'], '200');
    assert.equal(failed['Sip-Response-Code'], '486');
    assert.equal(start['User-Name'], 'alice@lab.example');
    assert.equal(start['Calling-Station-Id'], 'sip:alice@lab.example');
    assert.equal(start['Called-Station-Id'], 'sip:bob@lab.example');
    assert.equal(start['Service-Type'], 'IAPP-Register', 'Service-Type 15 (Sip-Session), named by IANA in FreeRADIUS 3.2');
    assert.equal(start['NAS-Identifier'], 'voip-proxy');
    // Event-Timestamp is the record's time; Acct-Delay-Time how late it was sent (about 60 s).
    assert.equal(Date.parse(start['Event-Timestamp']), Math.floor(t0 / 1000) * 1000, start['Event-Timestamp']);
    assert.ok(Number(start['Acct-Delay-Time']) >= 59, `Acct-Delay-Time ${start['Acct-Delay-Time']}`);
    const streamId = `journal:${sink.journalId}`;
    assert.equal(start['Acct-Unique-Session-Id'], accRecordUniqueId(streamId, '1'));
    assert.equal(failed['Acct-Unique-Session-Id'], accRecordUniqueId(streamId, '3'));

    const rows = await radacctRows(db);
    assert.deepEqual(rows.map((r) => r.acctterminatecause).sort(), ['Failed', 'Start', 'Stop']);
    assert.deepEqual(rows.map((r) => r.acctuniqueid).sort(), ['1', '2', '3'].map((k) => accRecordUniqueId(streamId, k)).sort());

    const parked = (await runRadiusAcct(['parked', '--state-dir', state])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { key: string; reason: string });
    assert.equal(parked.length, 1);
    assert.equal(parked[0].key, '4');
    assert.match(parked[0].reason, /Acct-Session-Id is 254 octets/);

    const cdr = await runRadiusAcct(['cdr', '--journal', path, '--format', 'json', '--include-failed']);
    assert.equal(cdr.code, 0, cdr.stderr);
    const cdrs = cdr.stdout.trim().split('\n').map((l) => JSON.parse(l) as { callid: string; status: string; duration: number | null; released_by: string | null });
    const answered = cdrs.find((c) => c.callid === 'call-1@lab.example');
    assert.deepEqual({ status: answered?.status, duration: answered?.duration, released_by: answered?.released_by }, { status: 'completed', duration: 42.5, released_by: 'callee' });
    assert.equal(cdrs.find((c) => c.callid === 'call-2@lab.example')?.status, 'failed');

    await proc.kill('SIGTERM');
    // Restart: nothing is resent.
    const again = emitter(['--journal', path, '--radius', fr.address, '--state-dir', state]);
    assert.match(await again.startupLine(), /resuming journal .* after record 4/);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fr.readDetail().length, 3);
    await again.kill('SIGTERM');
  });

  it('mysql: records from MysqlAccountingSink (Kamailio acc/missed_calls) are delivered, through failover to the second server', async () => {
    const { db, fr, state } = await setup('mysql');
    // The first --radius server is down for the whole test: every record fails over.
    const dead = await startFreeRadius({ secret: SECRET });
    cleanups.push(() => dead.close());
    await dead.stop();
    const sink: AccountingSink = new MysqlAccountingSink({ uri: db.uri });
    const t0 = Date.now() - 5000;
    for (let n = 0; n < 5; n++) for (const r of callRecords(n, t0 + n * 10)) sink.write(r);
    await sink.close();
    const proc = emitter(['--db', db.uri, '--radius', dead.address, '--radius', fr.address, '--state-dir', state]);
    assert.match(await proc.startupLine(), new RegExp(`starting at the beginning of mysql:${db.name}`));
    await waitUntil('9 radacct rows', 30_000, async () => (await radacctRows(db)).length >= 9);
    const rows = await radacctRows(db);
    assert.equal(rows.length, 9);
    const keys = [
      ...[1, 2, 3, 4, 5, 6, 7, 8].map((id) => `acc:${id}`),
      'missed_calls:1',
    ].map((k) => accRecordUniqueId(`mysql:${db.name}`, k));
    assert.deepEqual(new Set(rows.map((r) => r.acctuniqueid)), new Set(keys));
    assert.equal(rows.filter((r) => r.acctterminatecause === 'Failed').length, 1);
    await proc.kill('SIGTERM');
    const again = emitter(['--db', db.uri, '--radius', fr.address, '--state-dir', state]);
    assert.match(await again.startupLine(), new RegExp(`resuming database ${db.name} after acc.id 8 and missed_calls.id 1`));
    await again.kill('SIGTERM');
  });

  it('FreeRADIUS stopped for 30 s during a stream of calls: every record arrives exactly once', async () => {
    const { db, fr, state } = await setup('outage');
    const path = join(work, 'outage.ndjson');
    const sink = await JournalAccountingSink.open({ path });
    const proc = emitter(['--journal', path, '--radius', fr.address, '--state-dir', state]);
    await proc.startupLine();
    let written = 0;
    const t0 = Date.now();
    const write = async (calls: number, gapMs: number): Promise<void> => {
      for (let i = 0; i < calls; i++) {
        for (const r of callRecords(written, Date.now())) sink.write(r);
        written++;
        await new Promise((r) => setTimeout(r, gapMs));
      }
    };
    await write(20, 50);
    await fr.stop();
    const down = Date.now();
    await write(60, 450); // ~30 s of calls while the server is down
    while (Date.now() - down < 30_000) await new Promise((r) => setTimeout(r, 100));
    await fr.start();
    await write(20, 50);
    await sink.close();
    const expected = new Set<string>();
    let id = 0;
    for (let n = 0; n < written; n++) for (let k = 0; k < callRecords(n, 0).length; k++) expected.add(accRecordUniqueId(`journal:${sink.journalId}`, String(++id)));
    await waitUntil(`${expected.size} radacct rows`, 40_000, async () => (await radacctRows(db)).length >= expected.size).catch(async (err: Error) => {
      throw new Error(`${err.message}; have ${(await radacctRows(db)).length}\nradius-acct:\n${proc.output.slice(-4000)}\nfreeradius:\n${fr.logTail().slice(-2000)}`);
    });
    const rows = await radacctRows(db);
    assert.equal(rows.length, expected.size, 'no record lost, none stored twice');
    assert.deepEqual(new Set(rows.map((r) => r.acctuniqueid)), expected);
    const detail = fr.readDetail();
    assert.ok(detail.length >= expected.size);
    const delayed = detail.filter((d) => Number(d.attrs['Acct-Delay-Time']) >= 5).length;
    assert.ok(delayed > 0, 'records held during the outage carry Acct-Delay-Time');
    assert.ok(Date.now() - t0 < 120_000);
  });

  it('radius-acct SIGKILLed mid-stream and restarted: every record arrives exactly once', async () => {
    const { db, fr, state } = await setup('kill');
    const sink = new MysqlAccountingSink({ uri: db.uri, flushIntervalMs: 5 });
    let written = 0;
    const write = async (calls: number, gapMs: number): Promise<void> => {
      for (let i = 0; i < calls; i++) {
        for (const r of callRecords(written, Date.now())) sink.write(r);
        written++;
        await new Promise((r) => setTimeout(r, gapMs));
      }
    };
    const first = emitter(['--db', db.uri, '--radius', fr.address, '--state-dir', state, '--window', '16']);
    await first.startupLine();
    await write(100, 15);
    await waitUntil('some records delivered', 10_000, async () => (await radacctRows(db)).length > 20);
    await first.kill('SIGKILL');
    await write(100, 15);
    const second = emitter(['--db', db.uri, '--radius', fr.address, '--state-dir', state, '--window', '16']);
    assert.match(await second.startupLine(), /resuming database .* after acc.id \d+ and missed_calls.id \d+/);
    await write(50, 15);
    await sink.close();
    const [[acc], [missed]] = await Promise.all([
      db.conn.query(`SELECT COUNT(*) AS n FROM \`${db.name}\`.acc`),
      db.conn.query(`SELECT COUNT(*) AS n FROM \`${db.name}\`.missed_calls`),
    ]);
    const total = Number((acc as { n: number }[])[0].n) + Number((missed as { n: number }[])[0].n);
    assert.equal(total, [...Array(written).keys()].reduce((s, n) => s + callRecords(n, 0).length, 0));
    await waitUntil(`${total} radacct rows`, 30_000, async () => (await radacctRows(db)).length >= total);
    const rows = await radacctRows(db);
    assert.equal(rows.length, total, 'every record exactly once');
    assert.equal(new Set(rows.map((r) => r.acctuniqueid)).size, total);
    await second.kill('SIGTERM');
  });
});
