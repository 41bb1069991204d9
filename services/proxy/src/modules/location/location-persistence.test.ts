import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { MemoryStorage } from '@voip/storage';
import { MysqlStorage } from '@voip/storage';
import { createTestDatabase, type TestDatabase } from '@voip/storage/testing';
import { silentStorageLogger } from '@voip/storage';
import type { LocationRepository, LocationRow } from '@voip/storage';
import type { Binding } from './binding.js';
import { LocationPersistence, PERMANENT_EXPIRES, bindingToRow, rowToBinding, type LocationDbMode } from './location-persistence.js';
import { LocationStore } from './location-store.js';

let seq = 0;
function binding(over: Partial<Binding> = {}): Binding {
  const now = Math.floor(Date.now() / 1000) * 1000;
  seq++;
  return {
    ruid: `ruid-${seq}-${Math.random().toString(36).slice(2, 8)}`, aor: 'alice@example.com', contact: `sip:alice@192.0.2.${seq % 250}:5060`,
    received: null, path: null, expires: now + 3_600_000, q: -1, callId: `c${seq}@x`, cseq: 1, lastModified: now, flags: 0, cflags: 0,
    userAgent: 'test', socket: 'udp:127.0.0.1:5060', methods: null, instance: null, regId: 0, ...over,
  };
}

/** A repository that fails while `down` is set (a database outage). */
class FlakyRepo implements LocationRepository {
  down = false;
  calls = 0;
  constructor(readonly inner: LocationRepository) {}
  private gate(): void {
    this.calls++;
    if (this.down) throw new Error('connect ECONNREFUSED');
  }
  async upsert(r: LocationRow) { this.gate(); return this.inner.upsert(r); }
  async upsertMany(r: readonly LocationRow[]) { this.gate(); return this.inner.upsertMany(r); }
  async remove(ruid: string) { this.gate(); return this.inner.remove(ruid); }
  async removeMany(ruids: readonly string[]) { this.gate(); return this.inner.removeMany(ruids); }
  async byAor(u: string, d: string | null) { this.gate(); return this.inner.byAor(u, d); }
  async live(now: number) { this.gate(); return this.inner.live(now); }
  async removeExpired(now: number) { this.gate(); return this.inner.removeExpired(now); }
}

function persistence(mode: Exclude<LocationDbMode, 'memory'>, repo: LocationRepository, store = new LocationStore(), now?: () => number) {
  const p = new LocationPersistence({ mode, repo, store, logger: silentStorageLogger, flushIntervalMs: 3_600_000, cleanupIntervalMs: 3_600_000, ...(now ? { now } : {}) });
  return { p, store };
}

describe('binding <-> location row', () => {
  it('maps every field and the permanent expiry both ways', () => {
    const b = binding({ q: 0.7, received: 'sip:203.0.113.1:4000', path: '<sip:p;lr>', methods: 31, instance: '<urn:uuid:1>', regId: 2, flags: 1, cflags: 4 });
    const row = bindingToRow(b, 7);
    assert.equal(row.username, 'alice');
    assert.equal(row.domain, 'example.com');
    assert.equal(row.serverId, 7);
    assert.deepEqual(rowToBinding(row), b);
    const perm = binding({ expires: PERMANENT_EXPIRES });
    assert.equal(bindingToRow(perm, 0).expires, 0);
    assert.equal(rowToBinding(bindingToRow(perm, 0)).expires, PERMANENT_EXPIRES);
    const hostOnly = binding({ aor: 'gw.example.com' });
    assert.equal(rowToBinding(bindingToRow(hostOnly, 0)).aor, 'gw.example.com');
  });
});

describe('LocationPersistence (memory repository)', () => {
  it('write-through: every change reaches the table; a new store loads it (restart)', async () => {
    const db = new MemoryStorage();
    const { p, store } = persistence('write-through', db.location);
    await p.start();
    const a = binding();
    const b = binding({ aor: 'bob@example.com' });
    store.upsert(a);
    store.upsert(b);
    store.upsert({ ...a, cseq: 2 });
    store.remove(b);
    await p.idle();
    assert.deepEqual([...db.location.rows.keys()], [a.ruid]);
    assert.equal(db.location.rows.get(a.ruid)?.cseq, 2);
    await p.close();
    const restarted = persistence('write-through', db.location);
    assert.equal(await restarted.p.start(), 1);
    assert.equal(restarted.store.lookup('alice@example.com')[0]?.cseq, 2);
    await restarted.p.close();
  });

  it('write-through keeps the newest state when changes of one binding overlap a write in flight', async () => {
    const db = new MemoryStorage();
    const { p, store } = persistence('write-through', db.location);
    await p.start();
    const a = binding();
    for (let i = 1; i <= 20; i++) store.upsert({ ...a, cseq: i });
    store.remove({ ...a });
    store.upsert({ ...a, cseq: 99 });
    await p.idle();
    assert.equal(db.location.rows.get(a.ruid)?.cseq, 99);
    await p.close();
  });

  it('write-back: nothing is written until the flush, then one batch; close flushes the rest', async () => {
    const db = new MemoryStorage();
    const flaky = new FlakyRepo(db.location);
    const { p, store } = persistence('write-back', flaky);
    await p.start();
    const callsAfterLoad = flaky.calls;
    const list = Array.from({ length: 50 }, () => binding({ aor: `u${seq}@example.com` }));
    for (const b of list) store.upsert(b);
    store.remove(list[0]!);
    assert.equal(db.location.rows.size, 0);
    assert.equal(p.pending, 50);
    await p.flush();
    assert.equal(flaky.calls - callsAfterLoad, 2, 'one upsert batch and one delete batch');
    assert.equal(db.location.rows.size, 49);
    store.upsert(binding({ aor: 'late@example.com' }));
    await p.close();
    assert.equal(db.location.rows.size, 50);
  });

  it('a database outage loses nothing: failed writes are retried after back-off', async () => {
    let t = 1_800_000_000_000;
    const db = new MemoryStorage();
    const flaky = new FlakyRepo(db.location);
    const { p, store } = persistence('write-through', flaky, new LocationStore(() => t), () => t);
    await p.start();
    flaky.down = true;
    const a = binding({ expires: t + 3_600_000 });
    store.upsert(a);
    await p.idle();
    assert.equal(p.stats.failedWrites, 1);
    assert.equal(p.pending, 1);
    flaky.down = false;
    await p.flush();
    assert.equal(db.location.rows.size, 0, 'still backing off');
    t += 1_000;
    await p.flush();
    assert.equal(db.location.rows.get(a.ruid)?.ruid, a.ruid);
    assert.equal(p.pending, 0);
    await p.close();
  });

  it('expired bindings leave memory and the table (sweep + periodic cleanup of rows of other proxies)', async () => {
    let t = 1_800_000_000_000;
    const db = new MemoryStorage();
    const store = new LocationStore(() => t);
    const { p } = persistence('write-through', db.location, store, () => t);
    await p.start();
    const a = binding({ expires: t + 60_000 });
    store.upsert(a);
    await db.location.upsert(bindingToRow(binding({ aor: 'other@example.com', expires: t + 30_000 }), 2));
    await p.idle();
    t += 61_000;
    assert.equal(store.sweep(), 1);
    await p.idle();
    assert.equal(db.location.rows.has(a.ruid), false);
    assert.equal(await p.cleanup(), 1);
    assert.equal(db.location.rows.size, 0);
    await p.close();
  });

  it('db-only: two proxies on one table see each other\'s registrations', async () => {
    const db = new MemoryStorage();
    const one = persistence('db-only', db.location);
    const two = persistence('db-only', db.location);
    await one.p.start();
    await two.p.start();
    const a = binding();
    one.store.upsert(a);
    await one.p.idle();
    assert.equal(two.store.lookup('alice@example.com').length, 0);
    await two.p.syncAor('alice@example.com');
    assert.equal(two.store.lookup('alice@example.com')[0]?.contact, a.contact);
    // Proxy two removes it (REGISTER with Expires: 0 arriving there); proxy one follows.
    two.store.remove(two.store.lookup('alice@example.com')[0]!);
    await two.p.idle();
    await one.p.syncAor('alice@example.com');
    assert.equal(one.store.lookup('alice@example.com').length, 0);
    assert.equal(db.location.rows.size, 0);
    await one.p.close();
    await two.p.close();
  });
});

describe('LocationPersistence on MariaDB', () => {
  let tdb: TestDatabase;
  let storage: MysqlStorage;
  before(async () => {
    tdb = await createTestDatabase('voip_usrloc');
    storage = await MysqlStorage.connect(tdb.parsed);
    await storage.initSchema();
  });
  after(async () => {
    await storage?.close();
    await tdb?.drop();
  });

  for (const mode of ['write-through', 'write-back'] as const) {
    it(`${mode}: bindings survive a restart of the proxy`, async () => {
      await storage.query('DELETE FROM location', [], 'reset');
      const { p, store } = persistence(mode, storage.location);
      await p.start();
      const bindings = Array.from({ length: 5 }, (_, i) => binding({ aor: `${mode}-${i}@example.com`, q: i / 10 }));
      for (const b of bindings) store.upsert(b);
      await p.close();
      const again = persistence(mode, storage.location);
      assert.equal(await again.p.start(), 5);
      for (const b of bindings) assert.deepEqual(again.store.lookup(b.aor), [b]);
      await again.p.close();
    });
  }

  it('a NATed binding keeps its received address and NAT cflags across a restart (docs/nat.md)', async () => {
    await storage.query('DELETE FROM location', [], 'reset');
    const { p, store } = persistence('write-through', storage.location);
    await p.start();
    const nated = binding({ aor: 'nated@example.com', contact: 'sip:nated@10.0.0.5:5060', received: 'sip:203.0.113.2:40123;transport=udp', cflags: 64 | 128 });
    store.upsert(nated);
    await p.close();
    const again = persistence('write-through', storage.location);
    assert.equal(await again.p.start(), 1);
    const [b] = again.store.lookup('nated@example.com');
    assert.equal(b!.contact, 'sip:nated@10.0.0.5:5060');
    assert.equal(b!.received, 'sip:203.0.113.2:40123;transport=udp');
    assert.equal(b!.cflags, 192);
    await again.p.close();
  });
});
