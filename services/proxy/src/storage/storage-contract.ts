/**
 * The behaviour every Storage implementation owes its callers, as one test suite run against
 * MemoryStorage and against MysqlStorage on a real MariaDB (our schema and kamdbctl's).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscriberHashes } from './ha1.js';
import { isStorageError } from './storage-error.js';
import type { LocationRow, Storage } from './storage.js';

export function locationRow(over: Partial<LocationRow> = {}): LocationRow {
  // DATETIME keeps whole seconds: test times are whole seconds.
  const now = Math.floor(Date.now() / 1000) * 1000;
  return {
    ruid: `ruid-${Math.random().toString(36).slice(2)}`,
    username: 'alice',
    domain: 'example.com',
    contact: 'sip:alice@192.0.2.10:5062;transport=udp',
    received: null,
    path: null,
    expires: now + 3_600_000,
    q: -1,
    callid: 'call-1@192.0.2.10',
    cseq: 7,
    lastModified: now,
    flags: 0,
    cflags: 0,
    userAgent: 'contract-test/1.0',
    socket: 'udp:127.0.0.1:5060',
    methods: null,
    instance: null,
    regId: 0,
    serverId: 0,
    connectionId: 0,
    keepalive: 0,
    partition: 0,
    ...over,
  };
}

export function describeStorageContract(name: string, open: () => Promise<Storage>, opts: { emailColumn: boolean } = { emailColumn: true }): void {
  describe(`Storage contract: ${name}`, () => {
    it('subscribers: add, get, duplicate, change credentials, list, remove', async () => {
      const s = await open();
      const h = subscriberHashes('alice', 'example.com', 'secret');
      await s.subscribers.add({ username: 'alice', domain: 'example.com', password: 'secret', ...h, emailAddress: opts.emailColumn ? 'alice@example.com' : null });
      const got = await s.subscribers.get('alice', 'example.com');
      assert.ok(got);
      assert.equal(got.password, 'secret');
      assert.equal(got.ha1, h.ha1);
      assert.equal(got.ha1b, h.ha1b);
      assert.equal(got.emailAddress, opts.emailColumn ? 'alice@example.com' : null);
      assert.equal(await s.subscribers.get('alice', 'other.example.com'), null);
      assert.equal(await s.subscribers.get('nobody', 'example.com'), null);
      await assert.rejects(
        s.subscribers.add({ username: 'alice', domain: 'example.com', password: 'x', ha1: '', ha1b: '', emailAddress: null }),
        (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'),
      );
      const h2 = subscriberHashes('alice', 'example.com', 'n3w');
      assert.equal(await s.subscribers.setCredentials('alice', 'example.com', 'n3w', h2.ha1, h2.ha1b), true);
      assert.equal(await s.subscribers.setCredentials('ghost', 'example.com', 'n3w', h2.ha1, h2.ha1b), false);
      assert.equal((await s.subscribers.get('alice', 'example.com'))?.ha1, h2.ha1);
      await s.subscribers.add({ username: 'bob', domain: 'example.com', password: '', ha1: h.ha1, ha1b: h.ha1b, emailAddress: null });
      await s.subscribers.add({ username: 'carol', domain: 'other.example.com', password: 'c', ha1: '', ha1b: '', emailAddress: null });
      assert.deepEqual((await s.subscribers.list('example.com')).map((x) => x.username), ['alice', 'bob']);
      assert.equal((await s.subscribers.list()).length, 3);
      assert.equal(await s.subscribers.remove('bob', 'example.com'), true);
      assert.equal(await s.subscribers.remove('bob', 'example.com'), false);
    });

    it('aliases: resolve to their targets, refuse exact duplicates, list by target, remove', async () => {
      const s = await open();
      await s.aliases.add({ aliasUsername: '8590', aliasDomain: 'example.com', username: 'flavio', domain: 'example.com' });
      await s.aliases.add({ aliasUsername: 'sales', aliasDomain: 'example.com', username: 'flavio', domain: 'example.com' });
      await s.aliases.add({ aliasUsername: 'sales', aliasDomain: 'example.com', username: 'bob', domain: 'example.com' });
      await assert.rejects(
        s.aliases.add({ aliasUsername: '8590', aliasDomain: 'example.com', username: 'flavio', domain: 'example.com' }),
        (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'),
      );
      assert.deepEqual(await s.aliases.resolve('8590', 'example.com'), [{ aliasUsername: '8590', aliasDomain: 'example.com', username: 'flavio', domain: 'example.com' }]);
      assert.deepEqual((await s.aliases.resolve('sales', 'example.com')).map((r) => r.username), ['flavio', 'bob']);
      assert.deepEqual(await s.aliases.resolve('8590', 'other.example.com'), []);
      assert.deepEqual((await s.aliases.list({ username: 'flavio', domain: 'example.com' })).map((r) => r.aliasUsername).sort(), ['8590', 'sales']);
      assert.equal((await s.aliases.list()).length, 3);
      assert.equal(await s.aliases.remove('sales', 'example.com'), 2);
      assert.equal(await s.aliases.remove('sales', 'example.com'), 0);
    });

    it('domains: add, duplicate, list, remove', async () => {
      const s = await open();
      await s.domains.add('example.com');
      await s.domains.add('voip.example.net', 'did-1');
      await assert.rejects(s.domains.add('example.com'), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      const list = await s.domains.list();
      assert.deepEqual(list.map((d) => [d.domain, d.did]), [['example.com', null], ['voip.example.net', 'did-1']]);
      assert.equal(await s.domains.remove('example.com'), true);
      assert.equal(await s.domains.remove('example.com'), false);
    });

    it('groups: grant, duplicate, groupsOf, revoke one or all', async () => {
      const s = await open();
      await s.groups.grant('alice', 'example.com', 'local');
      await s.groups.grant('alice', 'example.com', 'ld');
      await s.groups.grant('bob', 'example.com', 'int');
      await assert.rejects(s.groups.grant('alice', 'example.com', 'ld'), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      assert.deepEqual((await s.groups.groupsOf('alice', 'example.com')).sort(), ['ld', 'local']);
      assert.equal((await s.groups.list()).length, 3);
      assert.equal(await s.groups.revoke('alice', 'example.com', 'ld'), 1);
      assert.deepEqual(await s.groups.groupsOf('alice', 'example.com'), ['local']);
      assert.equal(await s.groups.revoke('bob', 'example.com'), 1);
      assert.deepEqual(await s.groups.list({ username: 'bob', domain: 'example.com' }), []);
    });

    it('preferences: add, filter, remove by attribute or all', async () => {
      const s = await open();
      await s.preferences.add({ uuid: '', username: 'alice', domain: 'example.com', attribute: 'callfwd', type: 0, value: 'sip:bob@example.com' });
      await s.preferences.add({ uuid: '', username: 'alice', domain: 'example.com', attribute: 'fwdbusy', type: 0, value: 'sip:vm@example.com' });
      await s.preferences.add({ uuid: '', username: 'bob', domain: 'example.com', attribute: 'callfwd', type: 0, value: 'sip:carol@example.com' });
      assert.deepEqual((await s.preferences.list({ username: 'alice', domain: 'example.com', attribute: 'callfwd' })).map((p) => p.value), ['sip:bob@example.com']);
      assert.equal((await s.preferences.list({ attribute: 'callfwd' })).length, 2);
      assert.equal(await s.preferences.remove('alice', 'example.com', 'callfwd'), 1);
      assert.equal(await s.preferences.remove('alice', 'example.com'), 1);
      assert.equal((await s.preferences.list()).length, 1);
    });

    it('location: upsert by ruid, byAor, live, removeExpired keeps permanent bindings, batches', async () => {
      const s = await open();
      const now = Math.floor(Date.now() / 1000) * 1000;
      const a = locationRow({ ruid: 'r-a', q: 0.5, received: 'sip:203.0.113.7:40000', path: '<sip:edge.example.com;lr>', methods: 8191, instance: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>', regId: 1 });
      await s.location.upsert(a);
      assert.deepEqual(await s.location.byAor('alice', 'example.com'), [a]);
      const a2 = { ...a, cseq: 8, expires: now + 7_200_000 };
      await s.location.upsert(a2);
      assert.deepEqual(await s.location.byAor('alice', 'example.com'), [a2]);
      const expired = locationRow({ ruid: 'r-old', expires: now - 10_000 });
      const permanent = locationRow({ ruid: 'r-perm', username: 'gw', expires: 0 });
      const others = Array.from({ length: 3 }, (_, i) => locationRow({ ruid: `r-b${i}`, username: `bob${i}` }));
      await s.location.upsertMany([expired, permanent, ...others]);
      const live = (await s.location.live(now)).map((r) => r.ruid).sort();
      assert.deepEqual(live, ['r-a', 'r-b0', 'r-b1', 'r-b2', 'r-perm']);
      assert.equal((await s.location.byAor('gw', 'example.com'))[0]?.expires, 0);
      assert.equal(await s.location.removeExpired(now), 1);
      assert.equal(await s.location.removeMany(['r-b0', 'r-b1', 'nope']), 2);
      assert.equal(await s.location.remove('r-b2'), true);
      assert.equal(await s.location.remove('r-b2'), false);
      assert.deepEqual((await s.location.live(now)).map((r) => r.ruid).sort(), ['r-a', 'r-perm']);
    });
  });
}
