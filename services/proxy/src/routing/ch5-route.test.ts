/**
 * The chapter-5 route end to end over real UDP on loopback, in-process: a proxy composed like
 * server.ts but with the chapter-5 modules on an in-memory storage, phones played by raw sockets
 * that compute digest responses themselves (RFC 3261 §22, RFC 2617).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createResponse, silentLogger, TimerWheel, TransactionLayer, TransportLayer, type SipRequest, type SipResponse } from '@voip/sip';
import { parseConfig } from '../config.js';
import { LocalIdentity } from '../core/local-identity.js';
import { ProxyCore } from '../core/proxy-core.js';
import { ProxyStats } from '../core/proxy-stats.js';
import { TargetResolver } from '../core/target-resolver.js';
import * as acc from '../modules/acc/index.js';
import * as aliases from '../modules/aliases/index.js';
import * as auth from '../modules/auth/index.js';
import { algorithmByName, computeResponse } from '../modules/auth/index.js';
import * as domain from '../modules/domain/index.js';
import { LocationStore } from '../modules/location/location-store.js';
import { LocationPersistence } from '../modules/location/location-persistence.js';
import { usrlocSync } from '../modules/location/location-persistence-sync.js';
import * as registrar from '../modules/registrar/index.js';
import * as rr from '../modules/rr/index.js';
import { calculateHa1 } from '@voip/storage';
import { provisionMemoryStorage } from '@voip/storage';
import type { MemoryStorage } from '@voip/storage';
import { silentStorageLogger } from '@voip/storage';
import { UdpPeer } from '../test-support/udp-peer.js';
import { createCh5Router } from './ch5-route.js';

const D = 'example.com';
let port: number;
let storage: MemoryStorage;
let domains: domain.DomainModule;
let persistence: LocationPersistence;
let close: () => Promise<void>;
const peers: UdpPeer[] = [];

before(async () => {
  const config = parseConfig({ listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent', timers: { t1: 100 } });
  storage = await provisionMemoryStorage({
    domains: [D],
    subscribers: [
      { username: 'alice', domain: D, password: 'alice-pw' },
      { username: 'bob', domain: D, password: 'bob-pw' },
    ],
    aliases: [{ alias: `8590@${D}`, target: `bob@${D}` }],
  });
  const wheel = new TimerWheel();
  const transport = new TransportLayer({ maxMessageSize: config.maxMessageSize, logger: silentLogger });
  const t = await transport.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
  port = t.local.port;
  const identity = new LocalIdentity([t.local], config.domains);
  const location = new LocationStore();
  const core = new ProxyCore({ config, transport, identity, resolver: new TargetResolver(), logger: silentLogger, stats: new ProxyStats(), wheel });
  const transactions = new TransactionLayer(transport, core, { timers: { T1: config.timers.t1, T2: config.timers.t2, T4: config.timers.t4, timerC: config.timers.timerC }, logger: silentLogger, wheel });
  persistence = new LocationPersistence({ mode: 'write-through', repo: storage.location, store: location, logger: silentStorageLogger });
  await persistence.start();
  domains = await domain.init({ settings: { configured: config.domains, reloadIntervalMs: 0 }, domains: storage.domains, identity, logger: silentLogger });
  const modules = {
    rr: rr.init({ identity }),
    registrar: registrar.init({ settings: config.registrar, location }),
    acc: acc.init({ sink: null, logger: silentLogger }),
    auth: auth.init({ settings: { nonceSecret: 'ch5-route-test-secret', nonceExpires: 300, algorithms: ['SHA-256', 'MD5'], allowNoQop: false }, subscribers: storage.subscribers, logger: silentLogger }),
    aliases: aliases.init({ settings: { appendBranches: false }, aliases: storage.aliases, logger: silentLogger }),
    domain: domains,
    usrloc: usrlocSync(persistence),
  };
  core.attach(transactions, createCh5Router(modules));
  transport.setSink(transactions);
  close = async () => {
    domains.stop();
    await persistence.close();
    transactions.close();
    await transport.close();
    wheel.close();
  };
});

after(async () => {
  for (const p of peers) p.close();
  await close?.();
});

async function phone(): Promise<UdpPeer> {
  const p = await UdpPeer.open();
  peers.push(p);
  return p;
}

let seq = 0;
function sipRequest(o: { method: string; ruri: string; from: string; to: string; via: UdpPeer; callId?: string; cseq?: number; contact?: string; headers?: string[]; body?: string }): string {
  seq++;
  const body = o.body ?? '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.via.uri};branch=z9hG4bK-ch5-${seq}-${Math.random().toString(36).slice(2)};rport`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=f${seq}`,
    `To: <${o.to}>`,
    `Call-ID: ${o.callId ?? `ch5-${seq}-${Math.random().toString(36).slice(2)}`}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    ...(o.contact ? [`Contact: <${o.contact}>`] : []),
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\n');
}

/** The UA side of RFC 3261 §22.2: answer the challenge with the chosen algorithm. */
function credentials(challenge: string, o: { username: string; password: string; method: string; uri: string; nc?: number }): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const algName = /algorithm=([A-Za-z0-9-]+)/.exec(challenge)![1]!;
  const alg = algorithmByName(algName)!;
  const ncText = (o.nc ?? 1).toString(16).padStart(8, '0');
  const response = computeResponse({ algorithm: alg, ha1: calculateHa1(o.username, realm, o.password, alg.hash), nonce, method: o.method, uri: o.uri, qop: 'auth', cnonce: 'abc123', ncText });
  return `Digest username="${o.username}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=${algName}, qop=auth, nc=${ncText}, cnonce="abc123"`;
}

function challengesOf(r: SipResponse, header: string): string[] {
  return r.headers.getAll(header);
}

/** REGISTER with digest: the 401 round trip, then the authenticated request; returns the final response. */
async function register(p: UdpPeer, user: string, password: string, opts: { authUser?: string; alg?: 0 | 1; domain?: string } = {}): Promise<{ first: SipResponse; final: SipResponse }> {
  const dom = opts.domain ?? D;
  const callId = `reg-${user}-${Math.random().toString(36).slice(2)}`;
  const base = { method: 'REGISTER', ruri: `sip:${dom}`, from: `sip:${user}@${dom}`, to: `sip:${user}@${dom}`, via: p, callId, contact: `sip:${user}@${p.uri}`, headers: ['Expires: 600'] };
  p.send(sipRequest({ ...base, cseq: 1 }), port);
  const first = await p.nextResponse();
  if (first.status !== 401) return { first, final: first };
  const ch = challengesOf(first, 'www-authenticate')[opts.alg ?? 0]!;
  const authz = credentials(ch, { username: opts.authUser ?? user, password, method: 'REGISTER', uri: `sip:${dom}` });
  p.send(sipRequest({ ...base, cseq: 2, headers: [...base.headers, `Authorization: ${authz}`] }), port);
  const final = await p.nextResponse();
  return { first, final };
}

describe('chapter 5: REGISTER with digest authentication', () => {
  test('401 with SHA-256 and MD5 challenges, then 200 (SHA-256); the binding is stored and persisted', async () => {
    const p = await phone();
    const { first, final } = await register(p, 'alice', 'alice-pw');
    assert.equal(first.status, 401);
    const ch = challengesOf(first, 'www-authenticate');
    assert.equal(ch.length, 2);
    assert.match(ch[0]!, /^Digest realm="example\.com", nonce="[^"]+", qop="auth", algorithm=SHA-256$/);
    assert.match(ch[1]!, /algorithm=MD5$/);
    assert.equal(final.status, 200);
    assert.match(final.headers.get('contact') ?? '', new RegExp(`sip:alice@${p.uri.replace(/\./g, '\\.')}`));
    await persistence.idle();
    assert.equal((await storage.location.byAor('alice', D)).length, 1);
  });

  test('MD5 works as well', async () => {
    const p = await phone();
    assert.equal((await register(p, 'bob', 'bob-pw', { alg: 1 })).final.status, 200);
  });

  test('a wrong password is answered 401 again, never 200', async () => {
    const p = await phone();
    const { first, final } = await register(p, 'alice', 'guessed');
    assert.equal(first.status, 401);
    assert.equal(final.status, 401);
  });

  test('an unknown user is answered 401', async () => {
    const p = await phone();
    assert.equal((await register(p, 'mallory', 'x')).final.status, 401);
  });

  test('registering alice with bob\'s credentials is 403 "Forbidden, use To=ID" (check_to)', async () => {
    const p = await phone();
    const r = await register(p, 'alice', 'bob-pw', { authUser: 'bob' });
    assert.equal(r.final.status, 403);
    assert.equal(r.final.reason, 'Forbidden, use To=ID');
  });
});

describe('chapter 5: calls', () => {
  let bob: UdpPeer;
  before(async () => {
    bob = await phone();
    assert.equal((await register(bob, 'bob', 'bob-pw')).final.status, 200);
  });

  /** Alice calls `ruri`; answers the 407 with credentials of `authUser`. Returns the final response and the INVITE bob got. */
  async function call(ruri: string, opts: { authUser?: string; password?: string; from?: string } = {}) {
    const alice = await phone();
    const callId = `call-${Math.random().toString(36).slice(2)}`;
    const from = opts.from ?? `sip:alice@${D}`;
    const base = { method: 'INVITE', ruri, from, to: ruri, via: alice, callId, contact: `sip:alice@${alice.uri}`, headers: ['Content-Type: application/sdp'], body: 'v=0\r\n' };
    alice.send(sipRequest({ ...base, cseq: 1 }), port);
    const first = await alice.nextResponse((r) => r.status >= 200);
    if (first.status !== 407) return { alice, first, final: first };
    // RFC 3261 §17.1.1.3: the ACK for the 407 is generated by the client transaction; tests need not send it here.
    const ch = challengesOf(first, 'proxy-authenticate')[1]!;
    const authz = credentials(ch, { username: opts.authUser ?? 'alice', password: opts.password ?? 'alice-pw', method: 'INVITE', uri: ruri });
    alice.send(sipRequest({ ...base, cseq: 2, headers: [...base.headers, `Proxy-Authorization: ${authz}`, 'Proxy-Authorization: Digest username="alice", realm="downstream.example.net", nonce="n", uri="sip:x", response="0"'] }), port);
    return { alice, first, final: null as SipResponse | null };
  }

  test('INVITE from a local user is challenged 407, then relayed without our credentials and completed', async () => {
    const { alice, first } = await call(`sip:bob@${D}`);
    assert.equal(first.status, 407);
    assert.equal(challengesOf(first, 'proxy-authenticate').length, 2);
    const inv: SipRequest = await bob.nextRequest('INVITE');
    // consume_credentials: ours removed, the downstream proxy's kept (RFC 3261 §22.3).
    assert.deepEqual(inv.headers.getAll('proxy-authorization'), ['Digest username="alice", realm="downstream.example.net", nonce="n", uri="sip:x", response="0"']);
    bob.sendMessage(createResponse(inv, 200, 'OK', { toTag: 'bob1' }), port);
    const ok = await alice.nextResponse((r) => r.status >= 200);
    assert.equal(ok.status, 200);
  });

  test('a spoofed From (authenticated as bob, From alice) is answered 403 "Forbidden, use From=ID"', async () => {
    const { alice } = await call(`sip:bob@${D}`, { authUser: 'bob', password: 'bob-pw' });
    const r = await alice.nextResponse((x) => x.status >= 200);
    assert.equal(r.status, 403);
    assert.equal(r.reason, 'Forbidden, use From=ID');
  });

  test('a wrong password on INVITE is challenged again', async () => {
    const { alice } = await call(`sip:bob@${D}`, { password: 'nope' });
    assert.equal((await alice.nextResponse((x) => x.status >= 200)).status, 407);
  });

  test('a call from another domain to our user is not challenged', async () => {
    const carol = await phone();
    carol.send(sipRequest({ method: 'MESSAGE', ruri: `sip:bob@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:bob@${D}`, via: carol, body: 'hi' }), port);
    const m = await bob.nextRequest('MESSAGE');
    bob.sendMessage(createResponse(m, 200, 'OK', { toTag: 'b2' }), port);
    assert.equal((await carol.nextResponse((x) => x.status >= 200)).status, 200);
  });

  test('a foreign caller to a foreign domain is refused (no open relay)', async () => {
    const carol = await phone();
    carol.send(sipRequest({ method: 'MESSAGE', ruri: 'sip:dave@127.0.0.2:5999', from: 'sip:carol@elsewhere.example.net', to: 'sip:dave@127.0.0.2', via: carol }), port);
    const r = await carol.nextResponse((x) => x.status >= 200);
    assert.equal(r.status, 403);
  });

  test('lookup("aliases"): 8590@example.com reaches bob', async () => {
    const carol = await phone();
    carol.send(sipRequest({ method: 'MESSAGE', ruri: `sip:8590@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:8590@${D}`, via: carol, body: 'to the alias' }), port);
    const m = await bob.nextRequest('MESSAGE');
    assert.equal(m.body.toString(), 'to the alias');
    bob.sendMessage(createResponse(m, 200, 'OK', { toTag: 'b3' }), port);
    assert.equal((await carol.nextResponse((x) => x.status >= 200)).status, 200);
  });

  test('an unregistered local user is 404', async () => {
    const carol = await phone();
    carol.send(sipRequest({ method: 'MESSAGE', ruri: `sip:nobody@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:nobody@${D}`, via: carol }), port);
    assert.equal((await carol.nextResponse((x) => x.status >= 200)).status, 404);
  });
});

describe('chapter 5: domains from the domain table', () => {
  test('a domain added to the table is served after a reload, without restart', async () => {
    await storage.subscribers.add({ username: 'erin', domain: 'new.example.org', password: 'erin-pw', ha1: '', ha1b: '', emailAddress: '' });
    const p = await phone();
    // Not ours yet: a REGISTER for a foreign domain from a foreign user is refused.
    assert.equal((await register(p, 'erin', 'erin-pw', { domain: 'new.example.org' })).final.status, 403);
    await storage.domains.add('new.example.org');
    assert.equal(await domains.reload(), 2);
    assert.equal((await register(p, 'erin', 'erin-pw', { domain: 'new.example.org' })).final.status, 200);
  });
});
