/**
 * sipctl end to end: database commands against a throw-away MariaDB database, live-state
 * commands against the real admin API (fastify) over HTTP, ping against a UDP responder, and the
 * bin's exit status and one-line errors.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { buildAdminServer } from '../admin/admin-server.js';
import { ProxyStats } from '../core/proxy-stats.js';
import { LocationStore } from '../modules/location/location-store.js';
import { calculateHa1 } from '../storage/ha1.js';
import { MysqlStorage } from '../storage/mysql-storage.js';
import { createTestDatabase, type TestDatabase } from '../storage/mysql-test-database.js';
import { runSipctl } from './sipctl-program.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

async function sipctl(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
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
    const none = await sipctl(['online'], {});
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
