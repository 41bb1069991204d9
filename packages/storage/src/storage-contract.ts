/**
 * The behaviour every Storage implementation owes its callers, as one test suite run against
 * MemoryStorage and against MysqlStorage on a real MariaDB (our schema and kamdbctl's).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { subscriberHashes } from './ha1.js';
import { isStorageError } from './storage-error.js';
import type { LcrGatewayRow, LocationRow, NewRow, Storage } from './storage.js';

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

export function gatewayRow(over: Partial<NewRow<LcrGatewayRow>> = {}): NewRow<LcrGatewayRow> {
  return {
    lcrId: 1,
    gwName: 'gw-a',
    ipAddr: '192.0.2.50',
    hostname: null,
    port: 5060,
    params: null,
    uriScheme: 1,
    transport: 1,
    strip: 0,
    prefix: null,
    tag: null,
    flags: 0,
    defunct: null,
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

    it('trusted: add returns ids, refuses an identical row, keeps patterns and NULLs, removes by source IP', async () => {
      const s = await open();
      const a = await s.trusted.add({ srcIp: '192.0.2.50', proto: 'udp', fromPattern: '^sip:.*@pstn\\.example\\.net$', ruriPattern: null, tag: 'gw-a', priority: 0 });
      const b = await s.trusted.add({ srcIp: '192.0.2.50', proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 5 });
      const c = await s.trusted.add({ srcIp: '2001:db8::7', proto: 'tls', fromPattern: null, ruriPattern: '^sip:\\+1', tag: null, priority: 0 });
      assert.ok(a > 0 && b > a && c > b);
      await assert.rejects(
        s.trusted.add({ srcIp: '192.0.2.50', proto: 'any', fromPattern: null, ruriPattern: null, tag: 'other', priority: 0 }),
        (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'),
      );
      assert.deepEqual(await s.trusted.list(), [
        { id: a, srcIp: '192.0.2.50', proto: 'udp', fromPattern: '^sip:.*@pstn\\.example\\.net$', ruriPattern: null, tag: 'gw-a', priority: 0 },
        { id: b, srcIp: '192.0.2.50', proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 5 },
        { id: c, srcIp: '2001:db8::7', proto: 'tls', fromPattern: null, ruriPattern: '^sip:\\+1', tag: null, priority: 0 },
      ]);
      assert.equal(await s.trusted.removeBySrcIp('192.0.2.50'), 2);
      assert.equal(await s.trusted.removeBySrcIp('192.0.2.50'), 0);
      assert.deepEqual((await s.trusted.list()).map((r) => r.srcIp), ['2001:db8::7']);
    });

    it('addresses: add, refuse the same range twice in a group, list, remove by id', async () => {
      const s = await open();
      const a = await s.addresses.add({ grp: 1, ipAddr: '198.51.100.0', mask: 24, port: 0, tag: 'carrier-b' });
      const b = await s.addresses.add({ grp: 2, ipAddr: '198.51.100.0', mask: 24, port: 5060, tag: null });
      await assert.rejects(s.addresses.add({ grp: 1, ipAddr: '198.51.100.0', mask: 24, port: 0, tag: null }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      assert.deepEqual(await s.addresses.list(), [
        { id: a, grp: 1, ipAddr: '198.51.100.0', mask: 24, port: 0, tag: 'carrier-b' },
        { id: b, grp: 2, ipAddr: '198.51.100.0', mask: 24, port: 5060, tag: null },
      ]);
      assert.equal(await s.addresses.remove(a), true);
      assert.equal(await s.addresses.remove(a), false);
      assert.deepEqual((await s.addresses.list()).map((r) => r.id), [b]);
    });

    it('lcr: gateways (unique names per instance), rules (unique prefix+from), targets; removals cascade to targets', async () => {
      const s = await open();
      const gwA = await s.lcr.addGateway(gatewayRow({ tag: 'a', prefix: '9', strip: 1 }));
      const gwB = await s.lcr.addGateway(gatewayRow({ gwName: 'gw-b', ipAddr: null, hostname: 'pstn.example.net', port: null, transport: 2, params: ';user=phone', defunct: 4294967295 }));
      await s.lcr.addGateway(gatewayRow({ lcrId: 2 }));
      await assert.rejects(s.lcr.addGateway(gatewayRow({ ipAddr: '192.0.2.99' })), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      const gws = await s.lcr.gateways();
      assert.equal(gws.length, 3);
      assert.deepEqual(gws[0], { id: gwA, ...gatewayRow({ tag: 'a', prefix: '9', strip: 1 }) });
      assert.deepEqual(gws[1], {
        id: gwB,
        ...gatewayRow({ gwName: 'gw-b', ipAddr: null, hostname: 'pstn.example.net', port: null, transport: 2, params: ';user=phone', defunct: 4294967295 }),
      });

      const r1 = await s.lcr.addRule({ lcrId: 1, prefix: '+1', fromUri: null, requestUri: null, mtTvalue: null, stopper: 0, enabled: 1 });
      const r2 = await s.lcr.addRule({ lcrId: 1, prefix: '+1', fromUri: '^sip:.*@example\\.com$', requestUri: null, mtTvalue: null, stopper: 1, enabled: 1 });
      const r3 = await s.lcr.addRule({ lcrId: 1, prefix: null, fromUri: null, requestUri: null, mtTvalue: null, stopper: 0, enabled: 0 });
      for (const dup of [
        { prefix: '+1', fromUri: null },
        { prefix: null, fromUri: null },
      ]) {
        await assert.rejects(s.lcr.addRule({ lcrId: 1, ...dup, requestUri: null, mtTvalue: null, stopper: 0, enabled: 1 }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      }
      assert.deepEqual(
        (await s.lcr.rules()).map((r) => [r.id, r.prefix, r.fromUri, r.stopper, r.enabled]),
        [[r1, '+1', null, 0, 1], [r2, '+1', '^sip:.*@example\\.com$', 1, 1], [r3, null, null, 0, 0]],
      );

      const t1 = await s.lcr.addTarget({ lcrId: 1, ruleId: r1, gwId: gwA, priority: 1, weight: 1 });
      const t2 = await s.lcr.addTarget({ lcrId: 1, ruleId: r1, gwId: gwB, priority: 2, weight: 10 });
      await s.lcr.addTarget({ lcrId: 1, ruleId: r2, gwId: gwB, priority: 0, weight: 1 });
      await assert.rejects(s.lcr.addTarget({ lcrId: 1, ruleId: r1, gwId: gwA, priority: 3, weight: 1 }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      assert.deepEqual((await s.lcr.targets()).slice(0, 2), [
        { id: t1, lcrId: 1, ruleId: r1, gwId: gwA, priority: 1, weight: 1 },
        { id: t2, lcrId: 1, ruleId: r1, gwId: gwB, priority: 2, weight: 10 },
      ]);

      assert.equal(await s.lcr.removeGateway(1, 'gw-b'), true);
      assert.equal(await s.lcr.removeGateway(1, 'gw-b'), false);
      assert.deepEqual((await s.lcr.targets()).map((t) => t.id), [t1]);
      assert.deepEqual((await s.lcr.gateways()).map((g) => [g.lcrId, g.gwName]), [[1, 'gw-a'], [2, 'gw-a']]);
      assert.equal(await s.lcr.removeRule(r1), true);
      assert.equal(await s.lcr.removeRule(r1), false);
      assert.deepEqual(await s.lcr.targets(), []);
      assert.deepEqual((await s.lcr.rules()).map((r) => r.id), [r2, r3]);
    });

    it('speed dial: add, lookup, refuse a taken short number, list per user, remove', async () => {
      const s = await open();
      const row = { username: 'alice', domain: 'example.com', sdUsername: '01', sdDomain: 'example.com', newUri: 'sip:+12125550100@example.com', fname: '', lname: '', description: '' };
      const id = await s.speedDial.add(row);
      await s.speedDial.add({ ...row, sdUsername: '02', newUri: 'sip:bob@example.com', description: 'Bob' });
      await s.speedDial.add({ ...row, username: 'bob', newUri: 'sip:alice@example.com' });
      await assert.rejects(s.speedDial.add({ ...row, newUri: 'sip:other@example.com' }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_DUPLICATE'));
      assert.deepEqual(await s.speedDial.lookup('alice', 'example.com', '01'), { id, ...row });
      assert.equal(await s.speedDial.lookup('alice', 'example.com', '03'), null);
      assert.equal(await s.speedDial.lookup('carol', 'example.com', '01'), null);
      assert.deepEqual((await s.speedDial.list({ username: 'alice', domain: 'example.com' })).map((r) => `${r.sdUsername}=${r.newUri}`), ['01=sip:+12125550100@example.com', '02=sip:bob@example.com']);
      assert.deepEqual((await s.speedDial.list()).map((r) => `${r.username}:${r.sdUsername}`), ['alice:01', 'alice:02', 'bob:01']);
      assert.equal(await s.speedDial.remove('alice', 'example.com', '01'), true);
      assert.equal(await s.speedDial.remove('alice', 'example.com', '01'), false);
      assert.equal((await s.speedDial.list()).length, 2);
    });

    it('dialplan: add, list in load order (dpid, pr, id) or of one dpid, remove', async () => {
      const s = await open();
      const base = { dpid: 1, matchOp: 1, matchLen: 0, substExp: '', replExp: '', attrs: '' };
      const intl = await s.dialplan.add({ ...base, pr: 3, matchExp: '^011[0-9]+$', substExp: '^011(.*)$', replExp: '+\\1', attrs: 'group=int' });
      const ld = await s.dialplan.add({ ...base, pr: 2, matchExp: '^1[2-9][0-9]{9}$', substExp: '^1(.*)$', replExp: '+1\\1', attrs: 'group=ld' });
      const local = await s.dialplan.add({ ...base, pr: 1, matchExp: '^[2-9][0-9]{6}$', substExp: '^(.*)$', replExp: '+1\\1', attrs: 'group=local' });
      const other = await s.dialplan.add({ ...base, dpid: 2, pr: 0, matchOp: 0, matchExp: '*98', matchLen: 3 });
      assert.deepEqual((await s.dialplan.list()).map((r) => r.id), [local, ld, intl, other]);
      assert.deepEqual(await s.dialplan.list(2), [{ id: other, ...base, dpid: 2, pr: 0, matchOp: 0, matchExp: '*98', matchLen: 3 }]);
      const got = (await s.dialplan.list(1))[1]!;
      assert.deepEqual(got, { id: ld, ...base, pr: 2, matchExp: '^1[2-9][0-9]{9}$', substExp: '^1(.*)$', replExp: '+1\\1', attrs: 'group=ld' });
      assert.equal(await s.dialplan.remove(ld), true);
      assert.equal(await s.dialplan.remove(ld), false);
      assert.deepEqual((await s.dialplan.list(1)).map((r) => r.id), [local, intl]);
    });
  });
}
