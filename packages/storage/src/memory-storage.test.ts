import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { calculateHa1 } from './ha1.js';
import { MemoryStorage } from './memory-storage.js';
import { openStorage } from './open-storage.js';
import { provisionMemoryStorage } from './provisioning-file.js';
import { describeStorageContract } from './storage-contract.js';
import { isStorageError } from './storage-error.js';

describeStorageContract('memory', async () => new MemoryStorage());

describe('provisioning file', () => {
  it('fills subscribers (hashing plaintext passwords), aliases, domains, groups, preferences', async () => {
    const s = await provisionMemoryStorage({
      domains: ['example.com'],
      subscribers: [
        { username: 'alice', domain: 'example.com', password: 'secret', email: 'alice@example.com' },
        { username: 'bob', domain: 'example.com', ha1: 'B1726872C344B6DC8365B774F8FD6412' },
      ],
      aliases: [{ alias: '8590@example.com', target: 'flavio@example.com' }],
      groups: [{ account: 'alice@example.com', groups: ['local', 'ld'] }],
      preferences: [{ account: 'alice@example.com', attribute: 'callfwd', value: 'sip:bob@example.com' }],
    });
    const alice = await s.subscribers.get('alice', 'example.com');
    assert.equal(alice?.ha1, calculateHa1('alice', 'example.com', 'secret'));
    assert.equal(alice?.ha1b, calculateHa1('alice@example.com', 'example.com', 'secret'));
    assert.equal((await s.subscribers.get('bob', 'example.com'))?.ha1, 'b1726872c344b6dc8365b774f8fd6412');
    assert.equal((await s.subscribers.get('bob', 'example.com'))?.password, '');
    assert.deepEqual((await s.aliases.resolve('8590', 'example.com')).map((a) => `${a.username}@${a.domain}`), ['flavio@example.com']);
    assert.deepEqual((await s.domains.list()).map((d) => d.domain), ['example.com']);
    assert.deepEqual((await s.groups.groupsOf('alice', 'example.com')).sort(), ['ld', 'local']);
    assert.equal((await s.preferences.list({ attribute: 'callfwd' }))[0]?.value, 'sip:bob@example.com');
  });

  it('refuses bad entries with the path of the problem', async () => {
    await assert.rejects(provisionMemoryStorage({ subscribers: [{ username: 'x', domain: 'example.com' }] }, 'users.yaml'), (e: unknown) => {
      return isStorageError(e, 'STORAGE_ERR_PROVISIONING') && /users\.yaml: subscribers\.0/.test((e as Error).message);
    });
    await assert.rejects(provisionMemoryStorage({ subscriber: [] }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
    await assert.rejects(provisionMemoryStorage({ aliases: [{ alias: 'no-domain', target: 'a@b' }] }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
  });

  it('fills the provider tables: trusted, addresses, gateways, LCR rules with their targets, speed dials, dial plan', async () => {
    const s = await provisionMemoryStorage({
      trusted: [
        { src_ip: '192.0.2.50', proto: 'udp', from_pattern: '^sip:.*@pstn\\.example\\.net$', tag: 'gw-a' },
        { src_ip: '[2001:DB8::7]' },
      ],
      addresses: [{ ip_addr: '198.51.100.0', mask: 24, tag: 'carrier-b' }, { grp: 2, ip_addr: '2001:db8::1', port: 5060 }],
      gateways: [
        { name: 'gw-a', host: '192.0.2.50:5070', strip: 1, prefix: '9', tag: 'a' },
        { name: 'gw-b', host: 'PSTN.example.net', transport: 'tcp', params: ';user=phone', defunct: true },
        { name: 'gw-6', host: '[2001:db8::9]:5080', transport: 'tls', lcr_id: 2 },
      ],
      lcr_rules: [
        { prefix: '+1', targets: [{ gw: 'gw-a' }, { gw: 'gw-b', weight: 3 }] },
        { prefix: '', from: '^sip:alice@', stopper: true, targets: [{ gw: 'gw-b', priority: 0 }] },
        { prefix: '+44', lcr_id: 2, targets: [{ gw: 'gw-6' }] },
      ],
      speed_dials: [{ account: 'alice@example.com', short: '01', uri: 'sip:+12125550100@example.com' }],
      dialplan: [
        { pr: 1, match_exp: '^[2-9][0-9]{6}$', subst_exp: '^(.*)$', repl_exp: '+1\\1', attrs: 'group=local' },
        { dpid: 2, match_op: 0, match_exp: '*98', match_len: 3 },
      ],
    });
    assert.deepEqual(await s.trusted.list(), [
      { id: 1, srcIp: '192.0.2.50', proto: 'udp', fromPattern: '^sip:.*@pstn\\.example\\.net$', ruriPattern: null, tag: 'gw-a', priority: 0 },
      { id: 2, srcIp: '2001:db8::7', proto: 'any', fromPattern: null, ruriPattern: null, tag: null, priority: 0 },
    ]);
    assert.deepEqual(await s.addresses.list(), [
      { id: 1, grp: 1, ipAddr: '198.51.100.0', mask: 24, port: 0, tag: 'carrier-b' },
      { id: 2, grp: 2, ipAddr: '2001:db8::1', mask: 128, port: 5060, tag: null },
    ]);
    const gws = await s.lcr.gateways();
    assert.deepEqual(gws.map((g) => [g.lcrId, g.gwName, g.ipAddr, g.hostname, g.port, g.transport, g.strip, g.prefix, g.tag, g.params, g.defunct]), [
      [1, 'gw-a', '192.0.2.50', null, 5070, 1, 1, '9', 'a', null, null],
      [1, 'gw-b', null, 'pstn.example.net', null, 2, 0, null, null, ';user=phone', 4294967295],
      [2, 'gw-6', '2001:db8::9', null, 5080, 3, 0, null, null, null, null],
    ]);
    const rules = await s.lcr.rules();
    assert.deepEqual(rules.map((r) => [r.lcrId, r.prefix, r.fromUri, r.stopper, r.enabled]), [
      [1, '+1', null, 0, 1],
      [1, null, '^sip:alice@', 1, 1],
      [2, '+44', null, 0, 1],
    ]);
    // Without a priority a target's is its position: gw-a first, then gw-b.
    assert.deepEqual((await s.lcr.targets()).map((t) => [t.ruleId, t.gwId, t.priority, t.weight]), [
      [rules[0]!.id, gws[0]!.id, 1, 1],
      [rules[0]!.id, gws[1]!.id, 2, 3],
      [rules[1]!.id, gws[1]!.id, 0, 1],
      [rules[2]!.id, gws[2]!.id, 1, 1],
    ]);
    assert.equal((await s.speedDial.lookup('alice', 'example.com', '01'))?.newUri, 'sip:+12125550100@example.com');
    assert.equal((await s.speedDial.lookup('alice', 'example.com', '01'))?.sdDomain, 'example.com');
    assert.deepEqual((await s.dialplan.list()).map((d) => [d.dpid, d.pr, d.matchOp, d.matchExp, d.matchLen, d.substExp, d.replExp, d.attrs]), [
      [1, 1, 1, '^[2-9][0-9]{6}$', 0, '^(.*)$', '+1\\1', 'group=local'],
      [2, 0, 0, '*98', 3, '', '', ''],
    ]);
  });

  it('refuses bad provider entries with the path of the problem', async () => {
    const cases: [unknown, RegExp][] = [
      [{ trusted: [{ src_ip: 'pstn.example.net' }] }, /p\.yaml: trusted\.0\.src_ip: must be an IPv4 or IPv6 address/],
      [{ trusted: [{ src_ip: '192.0.2.1', proto: 'carrier-pigeon' }] }, /trusted\.0\.proto/],
      [{ trusted: [{ src_ip: '192.0.2.1', from_pattern: '^sip:(unclosed' }] }, /trusted\.0\.from_pattern: pattern is not a usable regular expression/],
      [{ trusted: [{ src_ip: '192.0.2.1', from_pattern: '^(a+)+$' }] }, /trusted\.0\.from_pattern: pattern is not a usable regular expression \(nested quantifiers are not allowed\)/],
      [{ trusted: [{ src_ip: '192.0.2.1', from_pattern: `^${'a'.repeat(64)}` }] }, /trusted\.0\.from_pattern: pattern is longer than 64/],
      [{ trusted: [{ src_ip: '192.0.2.1' }, { src_ip: '192.0.2.1' }] }, /trusted\.1: trusted peer 192\.0\.2\.1 \(any\) already exists/],
      [{ addresses: [{ ip_addr: '192.0.2.0', mask: 33 }] }, /addresses\.0\.mask: mask is longer than the address/],
      [{ gateways: [{ name: 'gw:a', host: '192.0.2.1' }] }, /gateways\.0\.name/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1:70000' }] }, /gateways\.0\.host: invalid port "70000"/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1', transport: 'sctp' }] }, /gateways\.0\.transport/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1:5060', port: 5070 }] }, /gateways\.0\.port: 5070 contradicts/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1' }, { name: 'gw-a', host: '192.0.2.2' }] }, /gateways\.1: gateway gw-a already exists in LCR instance 1/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1' }], lcr_rules: [{ prefix: '1', targets: [{ gw: 'gw-z' }] }] }, /lcr_rules\.0\.targets\.0\.gw: no gateway "gw-z" in gateways \(lcr_id 1\)/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1' }], lcr_rules: [{ prefix: '1', targets: [] }] }, /lcr_rules\.0\.targets: a rule needs at least one gateway/],
      [{ gateways: [{ name: 'gw-a', host: '192.0.2.1' }], lcr_rules: [{ prefix: '1x', targets: [{ gw: 'gw-a' }] }] }, /lcr_rules\.0\.prefix/],
      [{ speed_dials: [{ account: 'alice@example.com', short: '1', uri: 'sip:bob@example.com' }] }, /speed_dials\.0\.short: must be two digits/],
      [{ speed_dials: [{ account: 'alice@example.com', short: '01', uri: 'http://example.com' }] }, /speed_dials\.0\.uri: must be a sip:, sips: or tel: URI/],
      [{ dialplan: [{ match_exp: '^(1' }] }, /dialplan\.0\.match_exp: pattern is not a usable regular expression/],
      [{ dialplan: [{ match_exp: '1', match_op: 3 }] }, /dialplan\.0\.match_op/],
      [{ gateway: [] }, /\(root\): Unrecognized key/],
    ];
    for (const [input, re] of cases) {
      await assert.rejects(provisionMemoryStorage(input, 'p.yaml'), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING') && re.test((e as Error).message), JSON.stringify(input));
    }
  });

  it('is opened from a file: URL (YAML), and reports unreadable or invalid files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prov-'));
    try {
      const f = join(dir, 'users.yaml');
      writeFileSync(f, 'subscribers:\n  - { username: alice, domain: example.com, password: secret }\n');
      const s = await openStorage(`file:${f}`);
      assert.equal(s.kind, 'memory');
      assert.ok(await s.subscribers.get('alice', 'example.com'));
      writeFileSync(f, 'subscribers: [ {');
      await assert.rejects(openStorage(`file:${f}`), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
      await assert.rejects(openStorage(`file:${join(dir, 'missing.yaml')}`), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
