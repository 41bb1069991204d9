/**
 * MysqlPortalStore on the real MariaDB (a database per run, `db init` schema): subscriber pages
 * with literal search, disable/enable keeping Kamailio's columns consistent, the CDR search over
 * acc/missed_calls (duration from the BYE, keyset pages, UTC times, indexes used), portal
 * accounts and sign-ups.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RowDataPacket } from 'mysql2/promise';
import { subscriberHashes } from './ha1.js';
import { MysqlPortalStore } from './mysql-portal-store.js';
import { MysqlStorage } from './mysql-storage.js';
import { createTestDatabase, type TestDatabase } from './mysql-test-database.js';
import { isStorageError } from './storage-error.js';

describe('MysqlPortalStore', () => {
  let db: TestDatabase;
  let storage: MysqlStorage;
  let store: MysqlPortalStore;

  before(async () => {
    db = await createTestDatabase();
    storage = await MysqlStorage.connect(db.parsed);
    await storage.initSchema();
    store = new MysqlPortalStore(storage);
    for (const u of ['alice', 'bob', 'carol', '50%_off']) {
      await storage.subscribers.add({ username: u, domain: 'example.com', password: '', ...subscriberHashes(u, 'example.com', `${u}-pw`), emailAddress: `${u}@mail.example` });
    }
    await storage.subscribers.add({ username: 'zed', domain: 'other.example', password: 'zed-pw', ha1: '', ha1b: '', emailAddress: null });
    // acc rows as @voip/acc's sink writes them (UTC DATETIME): carol's answered call with its BYE 42 s later, bob's call without BYE.
    await storage.query(
      `INSERT INTO acc (method, from_tag, to_tag, callid, sip_code, sip_reason, time, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain, user_agent) VALUES
        ('INVITE','f1','t1','call-1','200','OK','2026-01-02 10:00:00','carol','example.com','127.0.0.1','12125551234','+12125551234','127.0.0.2',''),
        ('BYE','f1','t1','call-1','200','OK','2026-01-02 10:00:42','carol','example.com','127.0.0.1','12125551234','+12125551234','127.0.0.2',''),
        ('INVITE','f2','t2','call-2','200','OK','2026-01-03 09:00:00','bob','example.com','127.0.0.1','alice','alice','example.com',''),
        ('INVITE','f3','t3','call-3','200','OK','2026-01-04 09:00:00','alice','example.com','127.0.0.1','carol','carol','example.com','')`,
      [],
      'seeding acc',
    );
    await storage.query(
      "INSERT INTO missed_calls (method, from_tag, to_tag, callid, sip_code, sip_reason, time, src_user, src_domain, src_ip, dst_ouser, dst_user, dst_domain, user_agent) VALUES ('INVITE','f4','t4','call-4','486','Busy Here','2026-01-05 08:00:00','alice','example.com','127.0.0.1','bob','bob','example.com','')",
      [],
      'seeding missed_calls',
    );
  });

  after(async () => {
    await storage?.close();
    await db?.drop();
  });

  it('pages subscribers with a total, and searches % and _ literally', async () => {
    const all = await store.subscriberPage({ offset: 0, limit: 2 });
    assert.equal(all.total, 5);
    assert.deepEqual(all.rows.map((r) => r.username), ['50%_off', 'alice']);
    const next = await store.subscriberPage({ offset: 4, limit: 2 });
    assert.deepEqual(next.rows.map((r) => `${r.username}@${r.domain}`), ['zed@other.example']);
    const literal = await store.subscriberPage({ search: '%_', offset: 0, limit: 10 });
    assert.deepEqual(literal.rows.map((r) => r.username), ['50%_off']);
    const byMail = await store.subscriberPage({ search: 'carol@mail', offset: 0, limit: 10 });
    assert.deepEqual(byMail.rows.map((r) => r.username), ['carol']);
    assert.equal((await store.subscriberPage({ domain: 'other.example', offset: 0, limit: 10 })).total, 1);
  });

  it('disable moves the credentials aside (random ones in subscriber), enable puts them back', async () => {
    const before = await storage.subscribers.get('bob', 'example.com');
    assert.equal(await store.disable('bob', 'example.com', 'admin'), true);
    assert.equal(await store.disable('bob', 'example.com', 'admin'), false);
    const locked = await storage.subscribers.get('bob', 'example.com');
    assert.notEqual(locked!.ha1, before!.ha1);
    assert.match(locked!.password, /^[0-9a-f]{64}$/);
    assert.equal(await store.isDisabled('bob', 'example.com'), true);
    assert.equal((await store.subscriberPage({ search: 'bob', offset: 0, limit: 5 })).rows[0]!.disabled, true);
    // A new password while disabled waits with the saved credentials.
    const h = subscriberHashes('bob', 'example.com', 'new-pw');
    assert.equal(await store.setCredentials('bob', 'example.com', '', h.ha1, h.ha1b), true);
    assert.equal((await storage.subscribers.get('bob', 'example.com'))!.ha1, locked!.ha1);
    assert.equal(await store.enable('bob', 'example.com'), true);
    assert.equal((await storage.subscribers.get('bob', 'example.com'))!.ha1, h.ha1);
    assert.equal(await store.enable('bob', 'example.com'), false);
    assert.equal(await store.setEmail('bob', 'example.com', `b'ob@x`), true);
    assert.equal(await store.setEmail('bob', 'example.com', `b'ob@x`), true);
    assert.equal((await storage.subscribers.get('bob', 'example.com'))!.emailAddress, `b'ob@x`);
    assert.equal(await store.setEmail('nobody', 'example.com', 'x'), false);
  });

  it('finds calls by account, user, number prefix and UTC date range, with the duration from the BYE', async () => {
    const carol = await store.cdrs({ kind: 'acc', account: { username: 'carol', domain: 'example.com' }, limit: 10 });
    assert.deepEqual(carol.rows.map((r) => [r.callid, r.duration]), [['call-3', null], ['call-1', 42]]);
    assert.equal(carol.rows[1]!.time, Date.UTC(2026, 0, 2, 10, 0, 0));
    assert.deepEqual((await store.cdrs({ kind: 'acc', user: 'bob', limit: 10 })).rows.map((r) => r.callid), ['call-2']);
    assert.deepEqual((await store.cdrs({ kind: 'acc', number: '+1212', limit: 10 })).rows.map((r) => r.callid), ['call-1']);
    assert.deepEqual((await store.cdrs({ kind: 'acc', number: '1212', limit: 10 })).rows.map((r) => r.callid), ['call-1']);
    assert.deepEqual((await store.cdrs({ kind: 'acc', number: 'a', account: { username: 'carol', domain: 'example.com' }, limit: 10 })).rows.map((r) => r.callid), []);
    assert.deepEqual((await store.cdrs({ kind: 'acc', number: 'a', limit: 10 })).rows.map((r) => r.callid), ['call-2']);
    assert.deepEqual((await store.cdrs({ kind: 'acc', number: '%', limit: 10 })).rows, []);
    const range = await store.cdrs({ kind: 'acc', from: Date.UTC(2026, 0, 3), to: Date.UTC(2026, 0, 4), limit: 10 });
    assert.deepEqual(range.rows.map((r) => r.callid), ['call-2']);
    const missed = await store.cdrs({ kind: 'missed', account: { username: 'bob', domain: 'example.com' }, limit: 10 });
    assert.deepEqual(missed.rows.map((r) => [r.callid, r.sipCode, r.duration]), [['call-4', 486, null]]);
  });

  it('pages calls by id (keyset): every call once, newest first', async () => {
    const first = await store.cdrs({ kind: 'acc', limit: 2 });
    assert.deepEqual(first.rows.map((r) => r.callid), ['call-3', 'call-2']);
    assert.notEqual(first.nextBefore, null);
    const second = await store.cdrs({ kind: 'acc', limit: 2, before: first.nextBefore! });
    assert.deepEqual(second.rows.map((r) => r.callid), ['call-1']);
    assert.equal(second.nextBefore, null);
  });

  it('db init added the CDR search indexes to acc (time, src_user, dst_user, dst_ouser)', async () => {
    const idx = await storage.query<RowDataPacket[]>("SHOW INDEX FROM acc WHERE Key_name IN ('time_idx','src_user_idx','dst_user_idx','dst_ouser_idx')", [], 'show index');
    assert.deepEqual([...new Set(idx.map((r) => String(r.Key_name)))].sort(), ['dst_ouser_idx', 'dst_user_idx', 'src_user_idx', 'time_idx']);
  });

  it('keeps portal accounts and one-time sign-up tokens; expired sign-ups take their disabled account with them', async () => {
    await store.addAccount({ name: 'root', role: 'admin', passwordHash: 'scrypt$x', created: Date.UTC(2026, 0, 1) });
    await assert.rejects(store.addAccount({ name: 'root', role: 'admin', passwordHash: 'scrypt$y', created: 0 }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
    assert.equal((await store.getAccount('root'))!.created, Date.UTC(2026, 0, 1));
    assert.equal(await store.setAccountHash('root', 'scrypt$z'), true);
    assert.deepEqual((await store.listAccounts()).map((a) => [a.name, a.passwordHash]), [['root', 'scrypt$z']]);

    const now = Date.UTC(2026, 5, 1);
    await store.addDisabled({ username: 'dave', domain: 'example.com', password: '', ...subscriberHashes('dave', 'example.com', 'd'), emailAddress: 'd@x' }, 'signup');
    await store.addSignup({ tokenHash: 'a'.repeat(64), username: 'dave', domain: 'example.com', email: 'd@x', expires: now + 60_000 });
    assert.equal(await store.takeSignup('a'.repeat(64), now + 120_000), null);
    const row = await store.takeSignup('a'.repeat(64), now);
    assert.equal(row?.username, 'dave');
    assert.equal(await store.takeSignup('a'.repeat(64), now), null);
    assert.equal(await store.enable('dave', 'example.com'), true);

    await store.addDisabled({ username: 'erin', domain: 'example.com', password: '', ...subscriberHashes('erin', 'example.com', 'e'), emailAddress: 'e@x' }, 'signup');
    await store.addSignup({ tokenHash: 'b'.repeat(64), username: 'erin', domain: 'example.com', email: 'e@x', expires: now });
    assert.equal(await store.purgeSignups(now + 1), 1);
    assert.equal(await storage.subscribers.get('erin', 'example.com'), null);
    assert.ok(await storage.subscribers.get('dave', 'example.com'));
  });
});
