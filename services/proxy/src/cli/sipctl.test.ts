/**
 * sipctl end to end: database commands against a throw-away MariaDB database, live-state
 * commands against the real admin API (fastify) over HTTP, ping against a UDP responder, and the
 * bin's exit status and one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAdminServer } from '../admin/admin-server.js';
import { ProxyStats } from '../core/proxy-stats.js';
import { LocationStore } from '../modules/location/location-store.js';
import { calculateHa1 } from '@voip/storage';
import { MysqlStorage } from '@voip/storage';
import { createTestDatabase, type TestDatabase } from '@voip/storage/testing';
import { removeAdminUrlFile, writeAdminUrlFile } from './admin-url-file.js';
import { runSipctl } from './sipctl-program.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

/**
 * An empty state directory for runs that name no proxy: without it sipctl would look for a
 * sip-proxy's admin-url in ./.sip-proxy (and /var/lib/sip-proxy) of whoever runs the tests.
 */
const NO_PROXY_STATE = mkdtempSync(join(tmpdir(), 'sipctl-no-proxy-'));
after(() => rmSync(NO_PROXY_STATE, { recursive: true, force: true }));

async function sipctl(args: string[], env: NodeJS.ProcessEnv = { SIP_PROXY_STATE_DIR: NO_PROXY_STATE }): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runSipctl(args, { out: (t) => (out += t), err: (t) => (err += t) }, env);
  return { code, out, err };
}

describe('sipctl database commands (MariaDB)', () => {
  let db: TestDatabase;
  let check: MysqlStorage;
  const D = (args: string[]) => sipctl(['--db', db.url, ...args]);
  before(async () => {
    db = await createTestDatabase('voip_sipctl');
  });
  after(async () => {
    await check?.close();
    await db?.drop();
  });

  it('db init creates the schema; db check confirms it', async () => {
    const r = await D(['db', 'init']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /schema ready in mysql:\/\/.*\n {2}created: version, subscriber, location/);
    const again = await D(['--json', 'db', 'init']);
    assert.deepEqual(JSON.parse(again.out).created, []);
    const c = await D(['db', 'check']);
    assert.equal(c.code, 0);
    assert.match(c.out, /^schema OK/);
    check = await MysqlStorage.connect(db.parsed);
  });

  it('add, passwd, list, rm subscribers with HA1 values Kamailio computes the same way', async () => {
    assert.equal((await D(['add', 'alice@example.com', 'secret', 'alice@mail.example.com'])).code, 0);
    let s = await check.subscribers.get('alice', 'example.com');
    assert.equal(s?.ha1, calculateHa1('alice', 'example.com', 'secret'));
    assert.equal(s?.ha1b, calculateHa1('alice@example.com', 'example.com', 'secret'));
    assert.equal(s?.emailAddress, 'alice@mail.example.com');
    const dup = await D(['add', 'alice@example.com', 'other']);
    assert.equal(dup.code, 1);
    assert.equal(dup.err, 'sipctl: subscriber alice@example.com already exists\n');
    assert.equal((await D(['add', '--no-plaintext', 'bob@example.com', 'b0b'])).code, 0);
    assert.equal((await check.subscribers.get('bob', 'example.com'))?.password, '');
    assert.equal((await D(['passwd', 'alice@example.com', 'n3w'])).code, 0);
    s = await check.subscribers.get('alice', 'example.com');
    assert.equal(s?.ha1, calculateHa1('alice', 'example.com', 'n3w'));
    const missing = await D(['passwd', 'ghost@example.com', 'x']);
    assert.equal(missing.code, 3);
    assert.equal(missing.err, 'sipctl: no subscriber ghost@example.com\n');
    const list = await D(['--json', 'list', 'example.com']);
    assert.deepEqual(JSON.parse(list.out).subscribers.map((x: { username: string }) => x.username), ['alice', 'bob']);
    const human = await D(['list']);
    assert.match(human.out, /^SUBSCRIBER\s+EMAIL\s+PASSWORD\nalice@example\.com\s+alice@mail\.example\.com\s+plaintext\nbob@example\.com\s+-\s+ha1 only\n$/);
  });

  it('alias add, show, list, rm', async () => {
    assert.equal((await D(['alias', 'add', '8590@example.com', 'alice@example.com'])).code, 0);
    assert.equal((await D(['alias', 'show', '8590@example.com'])).out, '8590@example.com -> alice@example.com\n');
    assert.deepEqual(JSON.parse((await D(['--json', 'alias', 'list', 'alice@example.com'])).out), { aliases: [{ alias: '8590@example.com', target: 'alice@example.com' }] });
    assert.equal((await D(['alias', 'rm', '8590@example.com'])).code, 0);
    const gone = await D(['alias', 'show', '8590@example.com']);
    assert.equal(gone.code, 3);
  });

  it('acl grant, show, revoke', async () => {
    assert.equal((await D(['acl', 'grant', 'alice@example.com', 'ld'])).code, 0);
    assert.equal((await D(['acl', 'grant', 'alice@example.com', 'int'])).code, 0);
    assert.deepEqual(await check.groups.groupsOf('alice', 'example.com'), ['int', 'ld']);
    assert.match((await D(['acl', 'show', 'alice@example.com'])).out, /alice@example\.com\s+int\nalice@example\.com\s+ld\n/);
    assert.equal((await D(['acl', 'revoke', 'alice@example.com', 'int'])).code, 0);
    assert.deepEqual(await check.groups.groupsOf('alice', 'example.com'), ['ld']);
    assert.equal((await D(['acl', 'revoke', 'alice@example.com', 'int'])).code, 3);
  });

  it('domain add, list, rm', async () => {
    assert.equal((await D(['domain', 'add', 'Example.COM'])).code, 0);
    assert.deepEqual(JSON.parse((await D(['--json', 'domain', 'list'])).out), { domains: [{ domain: 'example.com', did: null }] });
    assert.equal((await D(['domain', 'add', 'example.com'])).code, 1);
    assert.equal((await D(['domain', 'rm', 'example.com'])).code, 0);
    assert.equal((await D(['domain', 'rm', 'example.com'])).code, 3);
  });

  it('avp add, list, rm', async () => {
    assert.equal((await D(['avp', 'add', 'alice@example.com', 'callfwd', 'sip:bob@example.com'])).code, 0);
    assert.equal((await D(['avp', 'add', '--type', 'int', 'alice@example.com', 'maxcalls', '2'])).code, 0);
    assert.equal((await D(['avp', 'add', '--type', 'int', 'alice@example.com', 'maxcalls', 'two'])).code, 2);
    const l = JSON.parse((await D(['--json', 'avp', 'list', 'alice@example.com'])).out);
    assert.deepEqual(l.preferences.map((p: { attribute: string; value: string }) => `${p.attribute}=${p.value}`), ['callfwd=sip:bob@example.com', 'maxcalls=2']);
    assert.equal((await D(['avp', 'rm', 'alice@example.com', 'maxcalls'])).code, 0);
    assert.equal((await check.preferences.list({ username: 'alice' })).length, 1);
  });

  it('rm removes the subscriber with its aliases, groups and preferences', async () => {
    await D(['alias', 'add', '100@example.com', 'alice@example.com']);
    const r = await D(['rm', 'alice@example.com']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'removed subscriber alice@example.com (1 aliases, 1 groups, 1 preferences)\n');
    assert.equal(await check.subscribers.get('alice', 'example.com'), null);
    assert.equal((await D(['rm', 'alice@example.com'])).code, 3);
  });

  it('usage errors and bad values exit 2 with one line', async () => {
    for (const args of [['add', 'no-domain', 'pw'], ['add', 'a@b.com'], ['frobnicate'], ['domain', 'add', 'bad domain!'], ['add', 'a@b.com', 'x'.repeat(65)]]) {
      const r = await D(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /^sipctl: [^\n]+\n$/, args.join(' '));
    }
    const noDb = await sipctl(['list'], {});
    assert.equal(noDb.code, 2);
    assert.match(noDb.err, /no database/);
  });
});

describe('sipctl provider-route commands (MariaDB)', () => {
  let db: TestDatabase;
  let check: MysqlStorage;
  const D = (args: string[]) => sipctl(['--db', db.url, ...args]);
  before(async () => {
    db = await createTestDatabase('voip_sipctl_prov');
    const init = await D(['db', 'init']);
    assert.equal(init.code, 0, init.err);
    assert.match(init.out, /lcr_gw, lcr_rule_target, lcr_rule, dialplan/);
    check = await MysqlStorage.connect(db.parsed);
  });
  after(async () => {
    await check?.close();
    await db?.drop();
  });

  it('trusted add, list, rm: IPs, protocols, From patterns and tags are checked', async () => {
    const r = await D(['trusted', 'add', '192.0.2.50', '--proto', 'udp', '--pattern', '^sip:.*@pstn\\.example\\.net$', '--tag', 'gw-a']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^trusted peer 192\.0\.2\.50 \(udp, From \^sip:\.\*@pstn\\\.example\\\.net\$\) added as id \d+ \(the proxy picks it up at its next periodic reload\)\n$/);
    assert.equal((await D(['trusted', 'add', '[2001:DB8::7]'])).code, 0);
    const dup = await D(['trusted', 'add', '192.0.2.50', '--proto', 'udp', '--pattern', '^sip:.*@pstn\\.example\\.net$']);
    assert.equal(dup.code, 1);
    assert.match(dup.err, /^sipctl: trusted peer 192\.0\.2\.50 \(udp, \^sip:.*\) already exists\n$/);
    assert.deepEqual(
      (await check.trusted.list()).map((t) => [t.srcIp, t.proto, t.fromPattern, t.tag]),
      [['192.0.2.50', 'udp', '^sip:.*@pstn\\.example\\.net$', 'gw-a'], ['2001:db8::7', 'any', null, null]],
    );
    const list = JSON.parse((await D(['--json', 'trusted', 'list'])).out);
    assert.deepEqual(list.trusted.map((t: { srcIp: string }) => t.srcIp), ['192.0.2.50', '2001:db8::7']);
    assert.match((await D(['trusted', 'list'])).out, /^ID\s+SRC_IP\s+PROTO\s+FROM_PATTERN\s+TAG\s+PRIORITY\n\d+\s+192\.0\.2\.50\s+udp\s+\S+\s+gw-a\s+0\n\d+\s+2001:db8::7\s+any\s+-\s+-\s+0\n$/);
    for (const [args, re] of [
      [['trusted', 'add', 'gw.example.net'], /invalid IP address "gw\.example\.net"/],
      [['trusted', 'add', '192.0.2.1', '--proto', 'sctp'], /--proto/],
      [['trusted', 'add', '192.0.2.1', '--pattern', '^sip:(open'], /--pattern is not a usable regular expression/],
      [['trusted', 'add', '192.0.2.1', '--pattern', '^(sip:.*)\\1'], /--pattern is not a usable regular expression \(backreferences are not allowed\)/],
      [['trusted', 'add', '192.0.2.1', '--tag', 'two words'], /--tag must be/],
      [['trusted', 'rm', '300.1.1.1'], /invalid IP address/],
    ] as [string[], RegExp][]) {
      const e = await D(args);
      assert.equal(e.code, 2, args.join(' '));
      assert.match(e.err, re, args.join(' '));
      assert.equal(e.err.split('\n').length, 2);
    }
    assert.equal((await D(['trusted', 'rm', '192.0.2.50'])).code, 0);
    assert.equal((await D(['trusted', 'rm', '192.0.2.50'])).code, 3);
    assert.equal((await check.trusted.list()).length, 1);
  });

  it('address add, list, rm', async () => {
    const r = await D(['--json', 'address', 'add', '198.51.100.0/24', '--tag', 'carrier-b']);
    assert.equal(r.code, 0, r.err);
    const id = JSON.parse(r.out).added.id as number;
    assert.equal(JSON.parse(r.out).reloaded, null);
    assert.equal((await D(['address', 'add', '198.51.100.0/24'])).code, 1);
    assert.equal((await D(['address', 'add', '198.51.100.0/33'])).code, 2);
    assert.equal((await D(['address', 'add', '2001:db8::1', '--grp', '2', '--port', '5060'])).code, 0);
    assert.deepEqual((await check.addresses.list()).map((a) => [a.grp, a.ipAddr, a.mask, a.port, a.tag]), [[1, '198.51.100.0', 24, 0, 'carrier-b'], [2, '2001:db8::1', 128, 5060, null]]);
    assert.match((await D(['address', 'list'])).out, /^ID\s+GRP\s+ADDRESS\s+PORT\s+TAG\n\d+\s+1\s+198\.51\.100\.0\/24\s+any\s+carrier-b\n/);
    assert.equal((await D(['address', 'rm', String(id)])).code, 0);
    assert.equal((await D(['address', 'rm', String(id)])).code, 3);
  });

  it('lcr gw add, list, rm: host:port, transport, strip, prefix, tag; names are unique', async () => {
    let r = await D(['lcr', 'gw', 'add', 'gw-a', '192.0.2.50:5070', '--strip', '1', '--prefix', '9', '--tag', 'a']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^gateway gw-a \(192\.0\.2\.50:5070, udp\) added as id \d+ \(the proxy picks it up at its next periodic reload\)\n$/);
    r = await D(['lcr', 'gw', 'add', 'gw-b', 'pstn.example.net', '--transport', 'tcp']);
    assert.equal(r.code, 0, r.err);
    assert.equal((await D(['lcr', 'gw', 'add', 'gw-6', '[2001:db8::9]:5080'])).code, 0);
    const dup = await D(['lcr', 'gw', 'add', 'gw-a', '192.0.2.51']);
    assert.equal(dup.code, 1);
    assert.equal(dup.err, 'sipctl: gateway gw-a already exists in LCR instance 1\n');
    for (const args of [
      ['lcr', 'gw', 'add', 'gw:x', '192.0.2.1'],
      ['lcr', 'gw', 'add', 'gw-x', '192.0.2.1:0'],
      ['lcr', 'gw', 'add', 'gw-x', 'bad host!'],
      ['lcr', 'gw', 'add', 'gw-x', '192.0.2.1', '--transport', 'sctp'],
      ['lcr', 'gw', 'add', 'gw-x', '192.0.2.1', '--strip', '256'],
      ['lcr', 'gw', 'add', 'gw-x', '192.0.2.1', '--prefix', '9a'],
    ]) {
      const e = await D(args);
      assert.equal(e.code, 2, args.join(' '));
      assert.match(e.err, /^sipctl: [^\n]+\n$/);
    }
    const gws = await check.lcr.gateways();
    assert.deepEqual(gws.map((g) => [g.gwName, g.ipAddr, g.hostname, g.port, g.transport, g.strip, g.prefix, g.tag]), [
      ['gw-a', '192.0.2.50', null, 5070, 1, 1, '9', 'a'],
      ['gw-b', null, 'pstn.example.net', null, 2, 0, null, null],
      ['gw-6', '2001:db8::9', null, 5080, 1, 0, null, null],
    ]);
    assert.match((await D(['lcr', 'gw', 'list'])).out, /^ID\s+NAME\s+HOST\s+TRANSPORT\s+STRIP\s+PREFIX\s+TAG\s+STATE\n\d+\s+gw-a\s+192\.0\.2\.50:5070\s+udp\s+1\s+9\s+a\s+active\n\d+\s+gw-b\s+pstn\.example\.net\s+tcp\s+0\s+-\s+-\s+active\n\d+\s+gw-6\s+\[2001:db8::9\]:5080\s+udp/);
    assert.equal((await D(['lcr', 'gw', 'rm', 'gw-6'])).code, 0);
    assert.equal((await D(['lcr', 'gw', 'rm', 'gw-6'])).code, 3);
  });

  it('lcr rule add, list, rm: gateways by name with priority and weight, From pattern; a failed target takes the rule back', async () => {
    let r = await D(['--json', 'lcr', 'rule', 'add', '+1', '--gw', 'gw-a', '--gw', 'gw-b:5:10']);
    assert.equal(r.code, 0, r.err);
    const first = JSON.parse(r.out).added;
    assert.deepEqual(first.targets, [{ gw: 'gw-a', priority: 1, weight: 1 }, { gw: 'gw-b', priority: 5, weight: 10 }]);
    r = await D(['lcr', 'rule', 'add', '', '--gw', 'gw-b', '--from', '^sip:alice@']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^LCR rule \d+ added: every number from \^sip:alice@ -> gw-b \(priority 1, weight 1\)/);
    assert.equal((await D(['lcr', 'rule', 'add', '+1', '--gw', 'gw-b'])).code, 1);
    for (const [args, code] of [
      [['lcr', 'rule', 'add', '+44'], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-a:x'], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-a:1:0'], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-a:1:1:1'], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-a', '--gw', 'gw-a'], 2],
      [['lcr', 'rule', 'add', '44x', '--gw', 'gw-a'], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-a', '--from', '(('], 2],
      [['lcr', 'rule', 'add', '+44', '--gw', 'gw-z'], 3],
    ] as [string[], number][]) {
      const e = await D(args);
      assert.equal(e.code, code, args.join(' '));
      assert.match(e.err, /^sipctl: [^\n]+\n$/);
    }
    const rules = await check.lcr.rules();
    assert.deepEqual(rules.map((x) => [x.prefix, x.fromUri]), [['+1', null], [null, '^sip:alice@']]);
    const gws = await check.lcr.gateways();
    const byId = new Map(gws.map((g) => [g.id, g.gwName]));
    assert.deepEqual((await check.lcr.targets()).map((t) => [t.ruleId, byId.get(t.gwId), t.priority, t.weight]), [
      [first.id, 'gw-a', 1, 1],
      [first.id, 'gw-b', 5, 10],
      [rules[1]!.id, 'gw-b', 1, 1],
    ]);
    assert.match((await D(['lcr', 'rule', 'list'])).out, /^ID\s+PREFIX\s+FROM\s+GATEWAYS \(NAME:PRIORITY:WEIGHT\)\s+STATE\n\d+\s+\+1\s+-\s+gw-a:1:1 gw-b:5:10\s+enabled\n\d+\s+\(any\)\s+\^sip:alice@\s+gw-b:1:1\s+enabled\n$/);
    // Removing a gateway removes it from every rule.
    assert.equal((await D(['lcr', 'gw', 'rm', 'gw-b'])).code, 0);
    const listed = JSON.parse((await D(['--json', 'lcr', 'rule', 'list'])).out).rules;
    assert.deepEqual(listed.map((x: { targets: unknown[] }) => x.targets.length), [1, 0]);
    assert.equal((await D(['lcr', 'rule', 'rm', String(first.id)])).code, 0);
    assert.equal((await D(['lcr', 'rule', 'rm', String(first.id)])).code, 3);
    assert.equal((await D(['lcr', 'rule', 'rm', 'x'])).code, 2);
    assert.deepEqual((await check.lcr.targets()).filter((t) => t.ruleId === first.id), []);
  });

  it('speeddial add, list, rm: two digits, SIP/tel URIs, one entry per short number', async () => {
    const r = await D(['speeddial', 'add', 'alice@example.com', '01', 'sip:+12125550100@example.com']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'alice@example.com: 01 -> sip:+12125550100@example.com (the proxy picks it up at its next periodic reload)\n');
    assert.equal((await D(['speeddial', 'add', 'alice@example.com', '02', 'tel:+442071234567'])).code, 0);
    assert.equal((await D(['speeddial', 'add', 'bob@example.com', '01', 'sip:alice@example.com'])).code, 0);
    assert.equal((await D(['speeddial', 'add', 'alice@example.com', '01', 'sip:other@example.com'])).code, 1);
    assert.equal((await D(['speeddial', 'add', 'alice@example.com', '1', 'sip:other@example.com'])).code, 2);
    assert.equal((await D(['speeddial', 'add', 'alice@example.com', '123', 'sip:other@example.com'])).code, 2);
    assert.equal((await D(['speeddial', 'add', 'alice@example.com', '03', 'http://example.com/'])).code, 2);
    const row = await check.speedDial.lookup('alice', 'example.com', '01');
    assert.equal(row?.newUri, 'sip:+12125550100@example.com');
    assert.equal(row?.sdDomain, 'example.com');
    assert.deepEqual(JSON.parse((await D(['--json', 'speeddial', 'list', 'alice@example.com'])).out).speedDials.map((x: { short: string }) => x.short), ['01', '02']);
    assert.match((await D(['speeddial', 'list'])).out, /^SUBSCRIBER\s+SHORT\s+URI\s+DESCRIPTION\nalice@example\.com\s+01\s+sip:\+12125550100@example\.com\s+-\nalice@example\.com\s+02\s+tel:\+442071234567\s+-\nbob@example\.com\s+01\s+sip:alice@example\.com\s+-\n$/);
    assert.equal((await D(['speeddial', 'rm', 'alice@example.com', '01'])).code, 0);
    assert.equal((await D(['speeddial', 'rm', 'alice@example.com', '01'])).code, 3);
    assert.equal(await check.speedDial.lookup('alice', 'example.com', '01'), null);
  });

  it('dialplan add, list, rm', async () => {
    const r = await D(['--json', 'dialplan', 'add', '^1[2-9][0-9]{9}$', '--pr', '2', '--subst', '^1(.*)$', '--repl', '+1\\1', '--attrs', 'group=ld']);
    assert.equal(r.code, 0, r.err);
    const id = JSON.parse(r.out).added.id as number;
    assert.equal((await D(['dialplan', 'add', '*98', '--dpid', '2', '--op', 'equal', '--len', '3'])).code, 0);
    assert.equal((await D(['dialplan', 'add', '^(1'])).code, 2);
    assert.equal((await D(['dialplan', 'add', '1', '--op', 'like'])).code, 2);
    assert.deepEqual((await check.dialplan.list(1)).map((d) => [d.pr, d.matchOp, d.matchExp, d.substExp, d.replExp, d.attrs]), [[2, 1, '^1[2-9][0-9]{9}$', '^1(.*)$', '+1\\1', 'group=ld']]);
    assert.match((await D(['dialplan', 'list', '2'])).out, /^ID\s+DPID\s+PR\s+OP\s+MATCH\s+LEN\s+SUBST\s+REPL\s+ATTRS\n\d+\s+2\s+0\s+equal\s+\*98\s+3\s+-\s+-\s+-\n$/);
    assert.equal((await D(['dialplan', 'rm', String(id)])).code, 0);
    assert.equal((await D(['dialplan', 'rm', String(id)])).code, 3);
  });

  it('avp add accepts the forwarding attributes, checks their values, and keeps one value each', async () => {
    for (const [attr, value] of [['callfwd', 'sip:bob@example.com'], ['fwdbusy', 'sip:carol@example.com'], ['fwdnoanswer', 'tel:+12125550100'], ['fwdnoanswer_timeout', '20']]) {
      const r = await D(['avp', 'add', 'alice@example.com', attr!, value!]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `alice@example.com: ${attr} = ${value} (the proxy picks it up at its next periodic reload)\n`);
    }
    const again = await D(['avp', 'add', 'alice@example.com', 'fwdbusy', 'sip:dave@example.com']);
    assert.equal(again.out, 'alice@example.com: fwdbusy = sip:dave@example.com (replaced) (the proxy picks it up at its next periodic reload)\n');
    const prefs = await check.preferences.list({ username: 'alice', domain: 'example.com' });
    assert.deepEqual(prefs.map((p) => [p.attribute, p.type, p.value]).sort(), [
      ['callfwd', 0, 'sip:bob@example.com'],
      ['fwdbusy', 0, 'sip:dave@example.com'],
      ['fwdnoanswer', 0, 'tel:+12125550100'],
      ['fwdnoanswer_timeout', 1, '20'],
    ]);
    for (const [attr, value] of [['callfwd', 'bob'], ['fwdbusy', 'mailto:bob@example.com'], ['fwdnoanswer_timeout', '0'], ['fwdnoanswer_timeout', 'soon']]) {
      const e = await D(['avp', 'add', 'alice@example.com', attr!, value!]);
      assert.equal(e.code, 2, `${attr} ${value}`);
      assert.match(e.err, new RegExp(`^sipctl: ${attr}`));
    }
  });
});

/** A stand-in for the proxy's admin API: records each request and answers `{ reloaded: n }`. */
class FakeAdmin {
  readonly calls: string[] = [];
  status = 200;
  private server: HttpServer | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = createHttpServer((req, res) => {
      this.calls.push(`${req.method} ${req.url}`);
      req.resume();
      req.on('end', () => {
        res.writeHead(this.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(this.status === 200 ? { reloaded: this.calls.length } : { error: 'reload failed: database unreachable' }));
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

describe('sipctl provider-route changes reach the running proxy (admin API reloads)', () => {
  let db: TestDatabase;
  const admin = new FakeAdmin();
  const P = (args: string[]) => sipctl(['--db', db.url, ...args], { SIP_PROXY_ADMIN: admin.url });
  before(async () => {
    db = await createTestDatabase('voip_sipctl_reload');
    assert.equal((await sipctl(['--db', db.url, 'db', 'init'])).code, 0);
    await admin.start();
  });
  after(async () => {
    await admin.stop();
    await db?.drop();
  });

  it('each change calls the matching reload endpoint once and reports its count', async () => {
    const steps: [string[], string, RegExp][] = [
      [['trusted', 'add', '192.0.2.50'], 'POST /permissions/reload', /\(the proxy reloaded its trusted peers and address groups: 1\)\n$/],
      [['address', 'add', '198.51.100.0/24'], 'POST /permissions/reload', /reloaded its trusted peers and address groups: 2\)/],
      [['lcr', 'gw', 'add', 'gw-a', '192.0.2.50'], 'POST /lcr/reload', /\(the proxy reloaded its gateways and LCR rules: 3\)\n$/],
      [['lcr', 'rule', 'add', '+1', '--gw', 'gw-a'], 'POST /lcr/reload', /reloaded its gateways and LCR rules: 4\)/],
      [['dialplan', 'add', '^011'], 'POST /dialplan/reload', /\(the proxy reloaded its dial plan: 5\)\n$/],
      [['speeddial', 'add', 'alice@example.com', '01', 'sip:bob@example.com'], 'POST /preferences/reload', /\(the proxy reloaded its preference caches: 6\)\n$/],
      [['avp', 'add', 'alice@example.com', 'callfwd', 'sip:bob@example.com'], 'POST /preferences/reload', /preference caches: 7\)/],
      [['avp', 'rm', 'alice@example.com', 'callfwd'], 'POST /preferences/reload', /preference caches: 8\)/],
      [['speeddial', 'rm', 'alice@example.com', '01'], 'POST /preferences/reload', /preference caches: 9\)/],
      [['lcr', 'rule', 'rm', '1'], 'POST /lcr/reload', /LCR rules: 10\)/],
      [['lcr', 'gw', 'rm', 'gw-a'], 'POST /lcr/reload', /LCR rules: 11\)/],
      [['trusted', 'rm', '192.0.2.50'], 'POST /permissions/reload', /address groups: 12\)/],
    ];
    for (const [args, call, re] of steps) {
      const before = admin.calls.length;
      const r = await P(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.deepEqual(admin.calls.slice(before), [call], args.join(' '));
      assert.match(r.out, re, args.join(' '));
    }
    // --json carries the proxy's count; listing changes nothing and reloads nothing.
    const j = await P(['--json', 'speeddial', 'add', 'alice@example.com', '02', 'sip:carol@example.com']);
    assert.equal(JSON.parse(j.out).reloaded, admin.calls.length);
    const before = admin.calls.length;
    assert.equal((await P(['lcr', 'gw', 'list'])).code, 0);
    assert.equal(admin.calls.length, before);
  });

  it('a refused reload is one line saying the change is stored but not applied, exit 1', async () => {
    admin.status = 500;
    try {
      const r = await P(['trusted', 'add', '192.0.2.77']);
      assert.equal(r.code, 1);
      assert.match(r.err, /^sipctl: trusted peer 192\.0\.2\.77 \(any\) added as id \d+, but the proxy did not reload: reloading permissions: reload failed: database unreachable\n$/);
    } finally {
      admin.status = 200;
    }
    assert.equal((await sipctl(['--db', db.url, '--json', 'trusted', 'list'])).out.includes('192.0.2.77'), true);
  });
});

describe("sipctl finds the running proxy without --proxy-admin (admin-url in sip-proxy's state directory)", () => {
  let db: TestDatabase;
  const given = new FakeAdmin();
  const fromEnv = new FakeAdmin();
  const fromFile = new FakeAdmin();
  let stateDir: string;
  let closedUrl: string;
  before(async () => {
    db = await createTestDatabase('voip_sipctl_discovery');
    assert.equal((await sipctl(['--db', db.url, 'db', 'init'])).code, 0);
    await Promise.all([given.start(), fromEnv.start(), fromFile.start()]);
    stateDir = mkdtempSync(join(tmpdir(), 'sipctl-state-'));
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
    await new Promise((r) => probe.close(r));
  });
  after(async () => {
    await Promise.all([given.stop(), fromEnv.stop(), fromFile.stop()]);
    rmSync(stateDir, { recursive: true, force: true });
    await db?.drop();
  });
  const calls = (): number[] => [given.calls.length, fromEnv.calls.length, fromFile.calls.length];

  it('precedence: --proxy-admin, then SIP_PROXY_ADMIN, then the admin-url file sip-proxy wrote', async () => {
    const file = writeAdminUrlFile(stateDir, fromFile.url, 4242);
    assert.equal(file, join(stateDir, 'admin-url'));
    const env = { SIP_PROXY_STATE_DIR: stateDir, SIP_PROXY_ADMIN: fromEnv.url };
    const steps: [string[], NodeJS.ProcessEnv, number[]][] = [
      [['--proxy-admin', given.url, 'trusted', 'add', '192.0.2.1'], env, [1, 0, 0]],
      [['trusted', 'add', '192.0.2.2'], env, [1, 1, 0]],
      [['trusted', 'add', '192.0.2.3'], { SIP_PROXY_STATE_DIR: stateDir }, [1, 1, 1]],
      // --state-dir names the directory as sip-proxy's --state-dir does.
      [['--state-dir', stateDir, 'trusted', 'add', '192.0.2.4'], {}, [1, 1, 2]],
    ];
    for (const [args, e, expected] of steps) {
      const r = await sipctl(['--db', db.url, ...args], e);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
      assert.match(r.out, /\(the proxy reloaded its trusted peers and address groups: \d+\)\n$/, args.join(' '));
      assert.deepEqual(calls(), expected, args.join(' '));
    }
    assert.deepEqual(fromFile.calls, ['POST /permissions/reload', 'POST /permissions/reload']);
  });

  it('a stale file (its proxy gone): a stored change says so in one line and succeeds; a live-state command fails in one line', async () => {
    const file = writeAdminUrlFile(stateDir, closedUrl, 4343);
    const change = await sipctl(['--db', db.url, 'trusted', 'add', '192.0.2.9'], { SIP_PROXY_STATE_DIR: stateDir });
    assert.equal(change.code, 0, change.err);
    assert.equal(change.out, `trusted peer 192.0.2.9 (any) added as id ${/as id (\d+)/.exec(change.out)?.[1]} (no proxy is running at ${closedUrl}, stale ${file}; a proxy loads it when it starts)\n`);
    const live = await sipctl(['online'], { SIP_PROXY_STATE_DIR: stateDir });
    assert.equal(live.code, 1);
    assert.equal(live.err, `sipctl: no proxy answers at ${closedUrl}, named in ${file} (stale: its proxy is gone); start sip-proxy, or give --proxy-admin URL\n`);
  });

  it('a file that is not an admin-url record is one line, exit 1; no file means no proxy', async () => {
    writeFileSync(join(stateDir, 'admin-url'), 'garbage\n');
    const bad = await sipctl(['online'], { SIP_PROXY_STATE_DIR: stateDir });
    assert.equal(bad.code, 1);
    assert.equal(bad.err, `sipctl: ${join(stateDir, 'admin-url')} does not hold a proxy admin URL; remove it, or give --proxy-admin URL\n`);
    rmSync(join(stateDir, 'admin-url'));
    const none = await sipctl(['--db', db.url, 'trusted', 'rm', '192.0.2.9'], { SIP_PROXY_STATE_DIR: stateDir });
    assert.equal(none.code, 0, none.err);
    assert.match(none.out, /\(the proxy picks it up at its next periodic reload\)\n$/);
  });

  it("sip-proxy removes the file at shutdown only while it names that proxy", () => {
    const file = writeAdminUrlFile(stateDir, 'http://127.0.0.1:1111', 10);
    writeAdminUrlFile(stateDir, 'http://127.0.0.1:2222', 20);
    assert.equal(removeAdminUrlFile(file, 'http://127.0.0.1:1111', 10), false, 'a second proxy replaced it');
    assert.equal(removeAdminUrlFile(file, 'http://127.0.0.1:2222', 20), true);
    assert.equal(removeAdminUrlFile(file, 'http://127.0.0.1:2222', 20), false, 'already gone');
  });
});

describe('sipctl errors reaching the database', () => {
  it('an unreachable database is one line and exit 1; the password is never printed', async () => {
    const r = await sipctl(['--db', 'mysql://kamailio:topsecretpw@127.0.0.1:1/kamailio', 'list']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^sipctl: cannot reach database mysql:\/\/kamailio@127\.0\.0\.1:1\/kamailio: ECONNREFUSED\n$/);
    assert.ok(!r.err.includes('topsecretpw'));
  });
});

describe('sipctl live-state commands (admin API)', () => {
  let app: FastifyInstance;
  let url: string;
  let location: LocationStore;
  before(async () => {
    location = new LocationStore();
    const stats = new ProxyStats();
    stats.requestsReceived = 42;
    app = buildAdminServer({ stats, location, version: 'test', gauges: () => ({ server_transactions: 3 }) });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const a = app.server.address();
    url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`;
  });
  after(async () => {
    await app?.close();
  });
  const A = (args: string[]) => sipctl(['--proxy-admin', url, ...args]);

  it('ul add, ul show, online, ul rm', async () => {
    assert.equal((await A(['ul', 'add', 'alice@example.com', 'sip:alice@192.0.2.10:5062', '600', '--q', '0.5'])).code, 0);
    const show = await A(['--json', 'ul', 'show', 'alice@example.com']);
    assert.equal(show.code, 0, show.err);
    const b = JSON.parse(show.out).bindings[0];
    assert.equal(b.contact, 'sip:alice@192.0.2.10:5062');
    assert.equal(b.q, 0.5);
    assert.ok(b.expires > 590 && b.expires <= 600);
    assert.match((await A(['ul', 'show'])).out, /^AOR\s+CONTACT\s+EXPIRES\s+Q\s+USER-AGENT\nalice@example\.com\s+sip:alice@192\.0\.2\.10:5062\s+\d+\s+0\.5\s+sipctl\n$/);
    assert.equal((await A(['online'])).out, 'alice@example.com\n');
    assert.equal((await A(['ul', 'rm', 'alice@example.com'])).code, 0);
    assert.equal(location.size, 0);
    assert.equal((await A(['ul', 'show', 'alice@example.com'])).code, 3);
    assert.equal((await A(['ul', 'rm', 'alice@example.com'])).code, 3);
    assert.equal((await A(['ul', 'add', 'alice@example.com', 'not a uri'])).code, 1);
  });

  it('monitor prints the counters', async () => {
    const r = await A(['--json', 'monitor']);
    assert.equal(r.code, 0, r.err);
    const stats = JSON.parse(r.out);
    assert.equal(stats.requests_received, 42);
    assert.equal(stats.server_transactions, 3);
    assert.match((await A(['monitor'])).out, /requests_received\s+42/);
  });

  it('commands that need the proxy say so without --proxy-admin, and fail in one line when it is down', async () => {
    const none = await sipctl(['online']);
    assert.equal(none.code, 2);
    assert.match(none.err, /--proxy-admin/);
    // A port that was just free: nothing listens there.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const closed = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const down = await sipctl(['--proxy-admin', `http://127.0.0.1:${closed}`, 'online']);
    assert.equal(down.code, 1);
    assert.equal(down.err, `sipctl: cannot reach the proxy admin API at http://127.0.0.1:${closed}: ECONNREFUSED\n`);
  });
});

describe('sipctl ping', () => {
  let responder: Socket;
  let port: number;
  let answer = 200;
  before(async () => {
    responder = createSocket('udp4');
    responder.on('message', (buf, rinfo) => {
      // A minimal UAS: echo Via, From, To (+tag), Call-ID, CSeq (RFC 3261 §8.2.6).
      const lines = buf.toString('latin1').split('\r\n');
      const keep = lines.filter((l) => /^(Via|From|Call-ID|CSeq):/i.test(l));
      const to = lines.find((l) => /^To:/i.test(l))!;
      const reason = answer === 200 ? 'OK' : 'Not Found';
      const res = [`SIP/2.0 ${answer} ${reason}`, ...keep, `${to};tag=uas1`, 'Server: test-uas', 'Content-Length: 0', '', ''].join('\r\n');
      responder.send(res, rinfo.port, rinfo.address);
    });
    await new Promise<void>((r) => responder.bind(0, '127.0.0.1', r));
    port = responder.address().port;
  });
  after(() => responder?.close());

  it('reports the final response and its round-trip time', async () => {
    answer = 200;
    const r = await sipctl(['--json', 'ping', `sip:127.0.0.1:${port}`]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.status, 200);
    assert.equal(j.server, 'test-uas');
    assert.equal(j.destination, `127.0.0.1:${port}`);
  });

  it('a non-2xx answer and silence are errors', async () => {
    answer = 404;
    const r = await sipctl(['ping', `sip:127.0.0.1:${port}`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /answered 404 Not Found/);
    const silent = createSocket('udp4');
    await new Promise<void>((res) => silent.bind(0, '127.0.0.1', res));
    try {
      const t = await sipctl(['ping', '--timeout', '300', `sip:127.0.0.1:${silent.address().port}`]);
      assert.equal(t.code, 1);
      assert.match(t.err, /^sipctl: no response from 127\.0\.0\.1:\d+ within 300 ms\n$/);
    } finally {
      silent.close();
    }
  });
});

describe('sipctl bin', () => {
  it('exits non-zero with one line on stderr', () => {
    const bin = fileURLToPath(new URL('./sipctl.js', import.meta.url));
    const r = spawnSync(process.execPath, [bin, 'alias', 'show', 'x@example.com'], { env: { ...process.env, SIP_DB_URL: '' }, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stderr.split('\n').length, 2);
    const ok = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    assert.equal(ok.status, 0);
    assert.equal(ok.stdout.trim(), '0.1.0');
  });
});
