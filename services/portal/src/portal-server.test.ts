/**
 * The portal's HTTP behaviour through fastify inject, on MemoryStorage (no network, no
 * database): sessions and their cookie flags, CSRF, roles, throttling, escaping, read-only
 * mode, disable/enable, sign-up with a captured mail, bad input. The same flows run on MariaDB
 * and in a browser in integration/src/portal/portal.test.ts.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { MemoryStorage, MysqlStorage, calculateHa1, type MemoryPortalStore } from '@voip/storage';
import { createTestDatabase } from '@voip/storage/testing';
import type { RowDataPacket } from 'mysql2/promise';
import { pino } from 'pino';
import type { Mailer } from './clients/mailer.js';
import { loadConfig, type PortalConfigInput } from './config.js';
import { startPortal, type RunningPortal } from './portal.js';

const log = pino({ level: 'silent' });

interface Sent {
  to: string;
  subject: string;
  text: string;
}

async function portalOn(opts: { db?: string; config?: Partial<PortalConfigInput> } = {}): Promise<{ p: RunningPortal; storage: MemoryStorage; mails: Sent[] }> {
  const storage = new MemoryStorage();
  await storage.domains.add('example.com');
  const mails: Sent[] = [];
  const mailer: Mailer = { send: async (to, subject, text) => void mails.push({ to, subject, text }) };
  const config = loadConfig({
    db: opts.db ?? 'memory:',
    admin: { user: 'root', password: 'root-password' },
    scryptCost: 16384,
    signIn: { maxFailures: 3, lock: 60_000, maxLock: 600_000 },
    ...opts.config,
  });
  const p = await startPortal(config, log, { storage, mailer, listen: false, processMetrics: false });
  return { p, storage, mails };
}

interface Client {
  cookie: string;
  csrf: string;
}

async function login(p: RunningPortal, user: string, password: string, ip = '10.0.0.1'): Promise<Client> {
  const r = await p.app.inject({ method: 'POST', url: '/api/login', payload: { user, password }, remoteAddress: ip });
  assert.equal(r.statusCode, 200, r.body);
  const cookie = String(r.headers['set-cookie']).split(';')[0]!;
  return { cookie, csrf: (r.json() as { csrfToken: string }).csrfToken };
}

function api(p: RunningPortal, c: Client, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: Record<string, unknown>) {
  return p.app.inject({ method, url, payload, headers: { cookie: c.cookie, 'x-csrf-token': c.csrf } });
}

describe('portal server on MemoryStorage', () => {
  it('signs the configured admin in with an HttpOnly, SameSite=Strict, Secure session cookie; a wrong password is 401', async () => {
    const { p } = await portalOn();
    const bad = await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'root', password: 'nope' } });
    assert.equal(bad.statusCode, 401);
    const ok = await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'root', password: 'root-password' } });
    assert.equal(ok.statusCode, 200);
    const cookie = String(ok.headers['set-cookie']);
    assert.match(cookie, /^portal_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Secure$/);
    assert.equal((await p.app.inject({ method: 'GET', url: '/api/subscribers' })).statusCode, 401);
    assert.equal((await p.app.inject({ method: 'GET', url: '/admin/subscribers' })).headers.location, '/login');
    await p.stop();
  });

  it('refuses a state-changing request without the CSRF token (403), as form field or header', async () => {
    const { p, storage } = await portalOn();
    const c = await login(p, 'root', 'root-password');
    const noToken = await p.app.inject({ method: 'POST', url: '/api/subscribers', payload: { username: 'carol', domain: 'example.com', password: 'secret1' }, headers: { cookie: c.cookie } });
    assert.equal(noToken.statusCode, 403);
    assert.equal(noToken.json().error, 'PORTAL_ERR_CSRF');
    const form = await p.app.inject({
      method: 'POST', url: '/admin/subscribers', headers: { cookie: c.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: 'carol', domain: 'example.com', password: 'secret1', _csrf: 'A'.repeat(43) }).toString(),
    });
    assert.equal(form.statusCode, 403);
    assert.equal(await storage.subscribers.get('carol', 'example.com'), null);
    const good = await p.app.inject({
      method: 'POST', url: '/admin/subscribers', headers: { cookie: c.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ username: 'carol', domain: 'example.com', password: 'secret1', _csrf: c.csrf }).toString(),
    });
    assert.equal(good.statusCode, 303);
    assert.equal(good.headers.location, '/admin/subscribers/carol%40example.com');
    await p.stop();
  });

  it('stores only HA1 by default; the subscriber signs in with the SIP password and sees only own calls', async () => {
    const { p, storage } = await portalOn();
    const a = await login(p, 'root', 'root-password');
    assert.equal((await api(p, a, 'POST', '/api/subscribers', { username: 'carol', domain: 'example.com', password: 'carol-pw' })).statusCode, 201);
    const row = await storage.subscribers.get('carol', 'example.com');
    assert.equal(row?.password, '');
    assert.equal(row?.ha1, calculateHa1('carol', 'example.com', 'carol-pw'));
    const store = p.deps.store as MemoryPortalStore;
    const base = { kind: 'acc' as const, callid: 'c', srcIp: '127.0.0.1', sipCode: 200, sipReason: 'OK', userAgent: '', duration: 5, time: Date.UTC(2026, 0, 1) };
    store.cdrRows.push({ ...base, id: 1, srcUser: 'carol', srcDomain: 'example.com', dstOuser: '12125551234', dstUser: '+12125551234', dstDomain: 'gw' });
    store.cdrRows.push({ ...base, id: 2, srcUser: 'bob', srcDomain: 'example.com', dstOuser: 'alice', dstUser: 'alice', dstDomain: 'example.com' });
    const c = await login(p, 'carol@example.com', 'carol-pw');
    const own = await api(p, c, 'GET', '/api/cdrs');
    assert.deepEqual(own.json().rows.map((r: { id: number }) => r.id), [1]);
    assert.equal((await api(p, c, 'GET', '/api/cdrs?account=bob%40example.com')).statusCode, 403);
    assert.equal((await api(p, c, 'GET', '/api/voicemail/bob%40example.com')).statusCode, 403);
    assert.equal((await api(p, c, 'GET', '/api/subscribers')).statusCode, 403);
    const all = await api(p, a, 'GET', '/api/cdrs');
    assert.deepEqual(all.json().rows.map((r: { id: number }) => r.id), [2, 1]);
    const csv = await api(p, a, 'GET', '/api/cdrs.csv');
    assert.equal(csv.body.split('\r\n')[1], '"2026-01-01T00:00:00.000Z","bob@example.com","alice","alice@example.com","200","OK","5","c"');
    await p.stop();
  });

  it('throttles sign-in per account after maxFailures (429), the right password included', async () => {
    const { p } = await portalOn();
    const codes: number[] = [];
    for (let i = 0; i < 4; i++) codes.push((await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'root', password: `x${i}` }, remoteAddress: `10.0.1.${i}` })).statusCode);
    assert.deepEqual(codes, [401, 401, 401, 429]);
    const right = await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'root', password: 'root-password' }, remoteAddress: '10.0.2.1' });
    assert.equal(right.statusCode, 429);
    assert.match((await p.app.inject({ method: 'GET', url: '/metrics' })).body, /voip_portal_sign_ins_total\{result="throttled"\} 2/);
    await p.stop();
  });

  it('escapes every value on the pages: markup and SQL text are shown verbatim', async () => {
    const { p } = await portalOn();
    const a = await login(p, 'root', 'root-password');
    const email = `<script>alert(1)</script>'; DROP TABLE subscriber;--`;
    assert.equal((await api(p, a, 'POST', '/api/subscribers', { username: "o'neil", domain: 'example.com', password: 'secret1', email })).statusCode, 201);
    const page = await p.app.inject({ method: 'GET', url: '/admin/subscribers', headers: { cookie: a.cookie } });
    assert.ok(page.body.includes('&lt;script&gt;alert(1)&lt;/script&gt;&#39;; DROP TABLE subscriber;--'), page.body);
    assert.ok(!page.body.includes('<script>alert'));
    assert.ok(page.body.includes('o&#39;neil'));
    assert.match(String(page.headers['content-security-policy']), /script-src 'none'/);
    assert.equal(page.headers['x-frame-options'], 'DENY');
    await p.stop();
  });

  it('disable replaces the credentials (no sign-in, no REGISTER) and enable restores them', async () => {
    const { p, storage } = await portalOn();
    const a = await login(p, 'root', 'root-password');
    await api(p, a, 'POST', '/api/subscribers', { username: 'bob', domain: 'example.com', password: 'bob-pass' });
    const before = await storage.subscribers.get('bob', 'example.com');
    assert.equal((await api(p, a, 'POST', '/api/subscribers/bob%40example.com/disable')).statusCode, 200);
    const locked = await storage.subscribers.get('bob', 'example.com');
    assert.notEqual(locked?.ha1, before?.ha1);
    assert.notEqual(locked?.password, '');
    assert.equal((await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'bob@example.com', password: 'bob-pass' } })).statusCode, 401);
    const detail = await api(p, a, 'GET', '/api/subscribers/bob%40example.com');
    assert.equal(detail.json().disabled, true);
    assert.equal((await api(p, a, 'POST', '/api/subscribers/bob%40example.com/email', { email: 'bob@new.example' })).statusCode, 200);
    assert.equal((await storage.subscribers.get('bob', 'example.com'))?.emailAddress, 'bob@new.example');
    await api(p, a, 'POST', '/api/subscribers/bob%40example.com/email', { email: before!.emailAddress ?? '' });
    assert.equal((await api(p, a, 'POST', '/api/subscribers/bob%40example.com/enable')).statusCode, 200);
    assert.deepEqual(await storage.subscribers.get('bob', 'example.com'), before);
    await login(p, 'bob@example.com', 'bob-pass');
    await p.stop();
  });

  it('sign-up creates a disabled account, mails a link; confirming enables it once', async () => {
    const { p, storage, mails } = await portalOn({ config: { publicUrl: 'https://portal.example.com' } });
    const r = await p.app.inject({ method: 'POST', url: '/api/signup', payload: { username: 'dave', domain: 'example.com', email: 'dave@mail.example', password: 'dave-pass' } });
    assert.equal(r.statusCode, 202, r.body);
    assert.ok(await storage.subscribers.get('dave', 'example.com'));
    assert.equal((await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'dave@example.com', password: 'dave-pass' } })).statusCode, 401);
    assert.equal(mails.length, 1);
    const token = /https:\/\/portal\.example\.com\/signup\/confirm\?token=([A-Za-z0-9_-]{43})/.exec(mails[0]!.text)?.[1];
    assert.ok(token, mails[0]!.text);
    assert.equal((await p.app.inject({ method: 'POST', url: '/api/signup/confirm', payload: { token } })).statusCode, 200);
    await login(p, 'dave@example.com', 'dave-pass');
    assert.equal((await p.app.inject({ method: 'POST', url: '/api/signup/confirm', payload: { token } })).statusCode, 404);
    const taken = await p.app.inject({ method: 'POST', url: '/api/signup', payload: { username: 'dave', domain: 'example.com', email: 'x@mail.example', password: 'other-pass' } });
    assert.equal(taken.statusCode, 409);
    const foreign = await p.app.inject({ method: 'POST', url: '/api/signup', payload: { username: 'eve', domain: 'elsewhere.example', email: 'e@mail.example', password: 'eve-pass1' } });
    assert.equal(foreign.statusCode, 400);
    await p.stop();
  });

  it('forwarding: a subscriber sets and clears callfwd; tel: targets are taken; a value that is no sip:/sips:/tel: URI is 400', async () => {
    const { p, storage } = await portalOn();
    const a = await login(p, 'root', 'root-password');
    await api(p, a, 'POST', '/api/subscribers', { username: 'carol', domain: 'example.com', password: 'carol-pw' });
    const c = await login(p, 'carol@example.com', 'carol-pw');
    assert.equal((await api(p, c, 'POST', '/api/me/forwarding', { callfwd: 'bob' })).statusCode, 400);
    const set = await api(p, c, 'POST', '/api/me/forwarding', { callfwd: 'sip:bob@example.com', fwdnoanswer_timeout: '20' });
    assert.equal(set.statusCode, 200);
    assert.deepEqual(set.json(), { callfwd: 'sip:bob@example.com', fwdbusy: '', fwdnoanswer: '', fwdnoanswer_timeout: '20' });
    const rows = await storage.preferences.list({ username: 'carol' });
    assert.deepEqual(rows.map((r) => [r.attribute, r.type, r.value]).sort(), [['callfwd', 0, 'sip:bob@example.com'], ['fwdnoanswer_timeout', 1, '20']]);
    await api(p, c, 'POST', '/api/me/forwarding', { callfwd: '' });
    assert.deepEqual((await storage.preferences.list({ username: 'carol', attribute: 'callfwd' })).length, 0);
    // The rules of sipctl avp add and the route: a tel: number (dial plan + LCR) is a target; a
    // timeout the route would ignore is refused.
    const tel = await api(p, c, 'POST', '/api/me/forwarding', { fwdbusy: 'tel:+15551234567' });
    assert.equal(tel.statusCode, 200);
    assert.equal(tel.json().fwdbusy, 'tel:+15551234567');
    assert.equal((await api(p, c, 'POST', '/api/me/forwarding', { fwdnoanswer_timeout: '601' })).statusCode, 400);
    assert.equal((await api(p, c, 'POST', '/api/me/forwarding', { fwdnoanswer: 'http://example.com' })).statusCode, 400);
    await p.stop();
  });

  it('a provisioning file is read-only: writes answer 409 with a clear message, reads work', async () => {
    const { p } = await portalOn({ db: 'file:/nonexistent/provisioning.yaml' });
    const a = await login(p, 'root', 'root-password');
    const w = await api(p, a, 'POST', '/api/domains', { domain: 'new.example' });
    assert.equal(w.statusCode, 409);
    assert.match(w.json().message, /provisioning file/);
    assert.equal((await api(p, a, 'GET', '/api/domains')).statusCode, 200);
    assert.equal((await p.app.inject({ method: 'GET', url: '/signup' })).statusCode, 409);
    await p.stop();
  });

  it('bad input is answered, never crashes: broken JSON, oversized bodies, bad fields, unknown paths', async () => {
    const { p } = await portalOn();
    const a = await login(p, 'root', 'root-password');
    const broken = await p.app.inject({ method: 'POST', url: '/api/subscribers', payload: '{"username":', headers: { cookie: a.cookie, 'x-csrf-token': a.csrf, 'content-type': 'application/json' } });
    assert.equal(broken.statusCode, 400);
    const big = await p.app.inject({ method: 'POST', url: '/api/login', payload: { user: 'x'.repeat(100_000), password: 'y' } });
    assert.equal(big.statusCode, 413);
    for (const body of [{ username: 'a b', domain: 'example.com', password: 'secret1' }, { username: 'a', domain: 'bad domain', password: 'secret1' }, { username: 'a', domain: 'example.com', password: '1' }]) {
      assert.equal((await api(p, a, 'POST', '/api/subscribers', body)).statusCode, 400, JSON.stringify(body));
    }
    assert.equal((await api(p, a, 'POST', '/api/trusted', { srcIp: 'not-an-ip' })).statusCode, 400);
    assert.equal((await api(p, a, 'POST', '/api/trusted', { srcIp: '192.0.2.1', fromPattern: '([a-z' })).statusCode, 400);
    assert.equal((await api(p, a, 'GET', '/api/cdrs?from=yesterday')).statusCode, 400);
    assert.equal((await api(p, a, 'GET', '/api/subscribers/nobody')).statusCode, 400);
    assert.equal((await p.app.inject({ method: 'GET', url: '/api/nothing' })).statusCode, 404);
    await p.stop();
  });

  it('serves the OpenAPI document, health and the stylesheet without a session', async () => {
    const { p } = await portalOn();
    const doc = (await p.app.inject({ method: 'GET', url: '/api/openapi.json' })).json();
    assert.equal(doc.openapi, '3.1.0');
    for (const path of ['/api/login', '/api/subscribers', '/api/cdrs', '/api/gateways', '/api/rules', '/api/me/forwarding']) assert.ok(doc.paths[path], path);
    assert.equal((await p.app.inject({ method: 'GET', url: '/health' })).json().status, 'ok');
    assert.match(String((await p.app.inject({ method: 'GET', url: '/static/portal.css' })).headers['content-type']), /text\/css/);
    await p.stop();
  });
});

describe('portal server on MariaDB', () => {
  it('keeps the admin as a scrypt hash in portal_account; subscribers, search and metacharacters go through @voip/storage', async () => {
    const db = await createTestDatabase('voip_portal_unit');
    const storage = await MysqlStorage.connect(db.parsed);
    try {
      await storage.initSchema();
      await storage.domains.add('example.com');
      const config = loadConfig({ db: db.url, admin: { user: 'root', password: 'root-password' }, scryptCost: 16384 });
      const p = await startPortal(config, log, { storage, listen: false, processMetrics: false, mailer: { send: async () => undefined } });
      const rows = await storage.query<RowDataPacket[]>('SELECT name, password_hash FROM portal_account', [], 'read');
      assert.equal(rows.length, 1);
      assert.match(String(rows[0]!.password_hash), /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
      const a = await login(p, 'root', 'root-password');
      const email = `x'); DROP TABLE subscriber; -- <i>`;
      assert.equal((await api(p, a, 'POST', '/api/subscribers', { username: "o'neil", domain: 'example.com', password: 'secret1', email })).statusCode, 201);
      assert.equal((await api(p, a, 'POST', '/api/subscribers', { username: "o'neil", domain: 'example.com', password: 'secret1' })).statusCode, 409);
      const list = await api(p, a, 'GET', `/api/subscribers?q=${encodeURIComponent("o'n")}`);
      assert.deepEqual(list.json().rows, [{ username: "o'neil", domain: 'example.com', emailAddress: email, disabled: false }]);
      assert.equal(list.json().total, 1);
      const c = await login(p, "o'neil@example.com", 'secret1');
      assert.deepEqual((await api(p, c, 'GET', '/api/cdrs')).json(), { rows: [], nextBefore: null });
      await p.stop();
    } finally {
      await storage.close();
      await db.drop();
    }
  });

  it('refuses to start on a database without the portal tables, naming sipctl db init', async () => {
    const db = await createTestDatabase('voip_portal_unit');
    const storage = await MysqlStorage.connect(db.parsed);
    try {
      await storage.query('CREATE TABLE version (table_name VARCHAR(32), table_version INT)', [], 'create');
      const config = loadConfig({ db: db.url });
      await assert.rejects(startPortal(config, log, { storage, listen: false, processMetrics: false }), /no portal_account table; run sipctl db init/);
    } finally {
      await storage.close();
      await db.drop();
    }
  });
});

describe('voicemail through the portal', () => {
  it('lists, plays (WAV proxied from voicemail-bridge) and deletes own messages; another mailbox is 403 for a subscriber', async () => {
    const wav = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(40, 1)]);
    const boxes = new Map<string, string[]>([['carol@example.com', ['m1']], ['bob@example.com', ['m2']]]);
    const seen: string[] = [];
    // A stand-in for voicemail-bridge's HTTP API (services/voicemail-bridge/src/http).
    const bridge = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const m = /^\/mailboxes\/([^/]+)\/messages(?:\/([^/]+))?$/.exec(req.url ?? '');
      const box = m ? boxes.get(decodeURIComponent(m[1]!)) : undefined;
      if (!m || !box) return void res.writeHead(404).end('{}');
      if (m[2] === undefined) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(box.map((id) => ({ id, caller: 'sip:alice@example.com', caller_name: null, received_at: '2026-01-01T00:00:00Z', duration_s: 3, folder: 'INBOX' }))));
      const id = m[2].replace(/\.wav$/, '');
      if (!box.includes(id)) return void res.writeHead(404).end('{}');
      if (req.method === 'DELETE') {
        box.splice(box.indexOf(id), 1);
        return void res.writeHead(204).end();
      }
      res.writeHead(200, { 'content-type': 'audio/wav' }).end(wav);
    });
    await new Promise<void>((r) => bridge.listen(0, '127.0.0.1', r));
    const port = (bridge.address() as AddressInfo).port;
    const { p } = await portalOn({ config: { voicemailUrl: `http://127.0.0.1:${port}` } });
    try {
      const a = await login(p, 'root', 'root-password');
      await api(p, a, 'POST', '/api/subscribers', { username: 'carol', domain: 'example.com', password: 'carol-pw' });
      const c = await login(p, 'carol@example.com', 'carol-pw');
      const list = await api(p, c, 'GET', '/api/voicemail/carol%40example.com');
      assert.deepEqual(list.json().messages.map((m: { id: string }) => m.id), ['m1']);
      const page = await p.app.inject({ method: 'GET', url: '/me/voicemail', headers: { cookie: c.cookie } });
      assert.match(page.body, /<audio controls preload="none" src="\/voicemail\/carol%40example\.com\/m1\.wav"><\/audio>/);
      const audio = await p.app.inject({ method: 'GET', url: '/voicemail/carol%40example.com/m1.wav', headers: { cookie: c.cookie } });
      assert.equal(audio.statusCode, 200);
      assert.equal(audio.headers['content-type'], 'audio/wav');
      assert.deepEqual(audio.rawPayload, wav);
      assert.equal((await p.app.inject({ method: 'GET', url: '/voicemail/bob%40example.com/m2.wav', headers: { cookie: c.cookie } })).statusCode, 403);
      assert.equal((await api(p, c, 'DELETE', '/api/voicemail/bob%40example.com/m2')).statusCode, 403);
      const traversal = (await api(p, c, 'GET', '/api/voicemail/carol%40example.com%2F..%2Fbob%40example.com')).statusCode;
      assert.ok(traversal === 400 || traversal === 404, String(traversal));
      assert.equal((await api(p, c, 'DELETE', '/api/voicemail/carol%40example.com/m1')).statusCode, 200);
      assert.deepEqual(boxes.get('carol@example.com'), []);
      assert.deepEqual((await api(p, a, 'GET', '/api/voicemail/bob%40example.com')).json().messages.map((m: { id: string }) => m.id), ['m2']);
      assert.ok(!seen.some((s) => s.includes('bob') && s.startsWith('DELETE')), seen.join('\n'));
    } finally {
      await p.stop();
      await new Promise((r) => bridge.close(r));
    }
  });
});
