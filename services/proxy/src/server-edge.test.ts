/**
 * Edge protection end to end, in-process (docs/security.md): a proxy composed by server.ts
 * with the chapter-5 route on a provisioning file, and raw UDP sockets bound to different
 * loopback addresses (127.0.0.x) playing phones, scanners and a flooding source. Ordering
 * instead of timing: a source's datagrams are handled in the order sent, so an answered probe
 * sent after a silent one proves the silent one was handled (and dropped).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { isRequest, parseMessage, type SipRequest, type SipResponse } from '@voip/sip';
import { parseConfig } from './config.js';
import { algorithmByName, computeResponse } from './modules/auth/index.js';
import { startProxy, type RunningProxy } from './server.js';
import { calculateHa1 } from '@voip/storage';

const D = 'example.com';
const dir = mkdtempSync(join(tmpdir(), 'edge-'));
const logLines: string[] = [];
let proxy: RunningProxy;
let port: number;

/** A UDP socket on one loopback address, talking to the proxy. */
class Peer {
  readonly inbox: (SipRequest | SipResponse)[] = [];
  private constructor(private readonly s: Socket, readonly host: string, readonly port: number) {
    s.on('message', (b) => {
      const r = parseMessage(b);
      if (r.ok) this.inbox.push(r.message);
    });
  }

  static async open(host: string): Promise<Peer> {
    const s = createSocket('udp4');
    s.bind(0, host);
    await once(s, 'listening');
    return new Peer(s, host, s.address().port);
  }

  send(text: string, to = port): void {
    this.s.send(Buffer.from(text, 'latin1'), to, '127.0.0.1');
  }

  async next(pred: (m: SipRequest | SipResponse) => boolean, timeoutMs = 5_000): Promise<SipRequest | SipResponse> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0]!;
      if (Date.now() > deadline) throw new Error(`${this.host}:${this.port}: nothing matching within ${timeoutMs} ms; inbox: ${this.inbox.map((m) => (isRequest(m) ? m.method : m.status) + " " + m.callId).join(", ")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async response(callId: string): Promise<SipResponse> {
    return (await this.next((m) => !isRequest(m) && m.callId === callId && m.status >= 200)) as SipResponse;
  }

  close(): void {
    this.s.close();
  }
}

const peers: Peer[] = [];
async function peer(host: string): Promise<Peer> {
  const p = await Peer.open(host);
  peers.push(p);
  return p;
}

function id(): string {
  return randomBytes(6).toString('hex');
}

function request(p: Peer, o: { method: string; ruri: string; from: string; to: string; callId: string; cseq?: number; headers?: string[]; toTag?: string }): string {
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${p.host}:${p.port};branch=z9hG4bK-${id()};rport`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=${id()}`,
    `To: <${o.to}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    `Contact: <sip:${o.from.slice(4).split('@')[0]}@${p.host}:${p.port}>`,
    ...(o.headers ?? []),
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

function authorization(challenge: string, user: string, password: string, method: string, uri: string): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const alg = algorithmByName(/algorithm=([A-Za-z0-9-]+)/.exec(challenge)![1]!)!;
  const response = computeResponse({ algorithm: alg, ha1: calculateHa1(user, realm, password, alg.hash), nonce, method, uri, qop: 'auth', cnonce: 'c0ffee', ncText: '00000001' });
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${alg.name}, qop=auth, nc=00000001, cnonce="c0ffee"`;
}

/** REGISTER, answer the 401 with `password`; both responses. */
async function register(p: Peer, user: string, password: string): Promise<{ challenge: SipResponse; final: SipResponse }> {
  const callId = `reg-${id()}`;
  const base = { method: 'REGISTER', ruri: `sip:${D}`, from: `sip:${user}@${D}`, to: `sip:${user}@${D}`, callId };
  p.send(request(p, { ...base, headers: ['Expires: 600'] }));
  const challenge = await p.response(callId);
  if (challenge.status !== 401) return { challenge, final: challenge };
  const authz = authorization(challenge.headers.get('www-authenticate')!, user, password, 'REGISTER', `sip:${D}`);
  p.send(request(p, { ...base, cseq: 2, headers: ['Expires: 600', `Authorization: ${authz}`] }));
  return { challenge, final: await p.response(callId) };
}

/** OPTIONS to the proxy itself; the 200 proves everything this peer sent before was handled. */
async function ping(p: Peer): Promise<SipResponse> {
  const callId = `ping-${id()}`;
  p.send(request(p, { method: 'OPTIONS', ruri: `sip:127.0.0.1:${port}`, from: `sip:probe@${p.host}`, to: `sip:127.0.0.1:${port}`, callId }));
  return p.response(callId);
}

/** What a scanner can compare between two answers: everything but the per-message random values. */
function shape(r: SipResponse): string {
  const names = r.headers.toLines().split('\r\n').map((l) => l.slice(0, l.indexOf(':')).toLowerCase()).filter(Boolean).join(',');
  const challenge = (r.headers.get('www-authenticate') ?? '').replace(/nonce="[^"]*"/, 'nonce=N');
  return `${r.status} ${r.reason} | ${names} | ${challenge}`;
}

async function stats(): Promise<Record<string, number>> {
  return (await (await fetch(`${proxy.adminUrl}/stats`)).json()) as Record<string, number>;
}

before(async () => {
  const file = join(dir, 'subscribers.yaml');
  writeFileSync(file, `domains: [${D}]\nsubscribers:\n  - { username: alice, domain: ${D}, password: alice-pw }\n  - { username: bob, domain: ${D}, password: bob-pw }\n  - { username: dave, domain: ${D}, password: dave-pw }\n  - { username: erin, domain: ${D}, password: erin-pw }\n` +
      // Peers of the provider's tables (exempt from pike): a trusted row, an address-group
      // range, an LCR gateway.
      `trusted:\n  - { src_ip: 127.0.0.55, from_pattern: "^sip:.*@pstn\\\\.example\\\\.net$" }\naddresses:\n  - { grp: 1, ip_addr: 127.0.0.56 }\n` +
      `gateways:\n  - { name: gw-lcr, host: "127.0.0.57:5060" }\n`,
  );
  const config = parseConfig({
    listen: ['udp:127.0.0.1:0'],
    admin: { listen: '127.0.0.1:0' },
    db: { url: `file:${file}` },
    usrloc: { dbMode: 'memory' },
    timers: { t1: 100 },
    serverHeader: '',
    auth: { nonceSecret: 'edge-test-secret-0123456789', guessing: { maxFailuresPerUser: 3, maxFailuresPerIp: 6, blockSeconds: 600 } },
    pike: { trusted: [], windowMs: 60_000, maxRequests: 40 },
    overload: { maxPendingTransactions: 2 },
  });
  const logger = pino({ level: 'warn' }, { write: (s: string) => void logLines.push(s) });
  proxy = await startProxy(config, logger);
  port = proxy.transports[0]!.local.port;
});

after(async () => {
  for (const p of peers) p.close();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('no user enumeration', () => {
  it('an existing and a non-existing user get the same challenge and the same answer to credentials', async () => {
    const p = await peer('127.0.0.21');
    const known = await register(p, 'alice', 'not-alice-pw');
    const unknown = await register(p, 'mallory', 'whatever');
    assert.equal(known.challenge.status, 401);
    assert.equal(shape(known.challenge), shape(unknown.challenge));
    assert.equal(known.final.status, 401);
    assert.equal(shape(known.final), shape(unknown.final));
  });

  it('no Server header when serverHeader is empty (nothing for svmap to fingerprint)', async () => {
    const r = await ping(await peer('127.0.0.22'));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('server'), undefined);
  });
});

describe('password guessing', () => {
  it('N failures for one account block it: the right password is refused 403; one fail2ban line per failure', async () => {
    const guesser = await peer('127.0.0.31');
    for (let i = 0; i < 3; i++) assert.equal((await register(guesser, 'bob', `guess-${i}`)).final.status, 401);
    const during = await register(guesser, 'bob', 'bob-pw');
    assert.equal(during.final.status, 403);
    // The account is blocked wherever the attempt comes from.
    assert.equal((await register(await peer('127.0.0.32'), 'bob', 'bob-pw')).final.status, 403);
    // fail2ban: failregex = ^\{.*"event":"auth-failed","ip":"<HOST>"  (docs/security.md)
    const failregex = /^\{.*"event":"auth-failed","ip":"(?<host>[0-9A-Fa-f.:]+)"/;
    const hosts = logLines.map((l) => failregex.exec(l)?.groups?.host).filter((h) => h === '127.0.0.31');
    assert.equal(hosts.length, 3);
    assert.equal(logLines.filter((l) => l.includes('"event":"auth-blocked"') && l.includes('bob@example.com')).length, 1);
    const s = await stats();
    assert.ok(s.auth_blocks! >= 1 && s.auth_refused_blocked! >= 2, JSON.stringify(s));
  });

  it('one address guessing across many accounts is blocked; other addresses still register', async () => {
    const scanner = await peer('127.0.0.33');
    for (let i = 0; i < 6; i++) assert.equal((await register(scanner, `user${i}`, 'password')).final.status, 401);
    assert.equal((await register(scanner, 'alice', 'alice-pw')).final.status, 403);
    assert.equal((await register(await peer('127.0.0.34'), 'alice', 'alice-pw')).final.status, 200);
  });
});

describe('no relay through ACK', () => {
  it('an ACK naming a third party, with or without To tag, from a local or foreign From, is not forwarded; one that follows our Record-Route is', async () => {
    const victim = await peer('127.0.0.41');
    const attacker = await peer('127.0.0.42');
    const target = `sip:victim@127.0.0.41:${victim.port}`;
    for (const from of [`sip:alice@${D}`, 'sip:eve@evil.example.net']) {
      for (const toTag of [undefined, 'x1']) {
        attacker.send(request(attacker, { method: 'ACK', ruri: target, from, to: target, callId: `ack-${id()}`, ...(toTag ? { toTag } : {}) }));
      }
    }
    // Control: an in-dialog ACK routed by our Record-Route is relayed. It arrives after the
    // forgeries were handled (same source, same socket, in order).
    const control = `ack-control-${id()}`;
    attacker.send(request(attacker, { method: 'ACK', ruri: target, from: 'sip:eve@evil.example.net', to: target, callId: control, toTag: 'x2', headers: [`Route: <sip:127.0.0.1:${port};lr>`] }));
    await victim.next((m) => isRequest(m) && m.callId === control);
    assert.deepEqual(victim.inbox.map((m) => m.callId), []);
  });
});

describe('no relay through a preloaded Route', () => {
  it('an initial INVITE carrying Route headers is routed by the proxy alone: the Route target receives nothing', async () => {
    const victim = await peer('127.0.0.43');
    const phone = await peer('127.0.0.44');
    const caller = await peer('127.0.0.45');
    assert.equal((await register(phone, 'erin', 'erin-pw')).final.status, 200);
    const route = `Route: <sip:127.0.0.1:${port};lr>, <sip:127.0.0.43:${victim.port};lr>`;
    // To one of our users (not challenged: the caller is foreign): goes to the user, not the Route.
    const toUser = `pre-${id()}`;
    caller.send(request(caller, { method: 'INVITE', ruri: `sip:erin@${D}`, from: 'sip:eve@evil.example.net', to: `sip:erin@${D}`, callId: toUser, headers: [route] }));
    const inv = (await phone.next((m) => isRequest(m) && m.callId === toUser)) as SipRequest;
    assert.equal(inv.headers.getAll('route').length, 0);
    phone.send(busy(inv));
    assert.equal((await caller.response(toUser)).status, 486);
    // To a third party through our Route: foreign to foreign is refused, not relayed.
    const third = `pre-${id()}`;
    caller.send(request(caller, { method: 'INVITE', ruri: `sip:victim@127.0.0.43:${victim.port}`, from: 'sip:eve@evil.example.net', to: `sip:victim@127.0.0.43:${victim.port}`, callId: third, headers: [`Route: <sip:127.0.0.1:${port};lr>`] }));
    assert.equal((await caller.response(third)).status, 403);
    assert.deepEqual(victim.inbox.map((m) => m.callId), []);
  });
});

describe('flood and scanners', () => {
  it('a flooding source is blocked (one log line) while another source keeps working', async () => {
    const flooder = await peer('127.0.0.51');
    for (let i = 0; i < 100; i++) {
      flooder.send(request(flooder, { method: 'OPTIONS', ruri: `sip:127.0.0.1:${port}`, from: 'sip:f@127.0.0.51', to: `sip:127.0.0.1:${port}`, callId: `flood-${i}` }));
    }
    assert.equal((await ping(await peer('127.0.0.52'))).status, 200);
    // The other source's answer came after the flood was handled: at most the limit was answered.
    await new Promise((r) => setImmediate(r));
    const answered = flooder.inbox.filter((m) => !isRequest(m)).length;
    assert.ok(answered <= 40, `${answered} answered`);
    assert.equal(logLines.filter((l) => l.includes('"event":"pike-blocked"') && l.includes('127.0.0.51')).length, 1);
    const s = await stats();
    assert.equal(s.pike_blocks, 1);
    assert.ok(s.pike_dropped! >= 60, JSON.stringify(s));
  });

  it('peers the provider trusts (trusted row, address group, LCR gateway) are never blocked; an untrusted source is', async () => {
    const before = await stats();
    const flood = (p: Peer, n: number): void => {
      for (let i = 0; i < n; i++) {
        p.send(request(p, { method: 'OPTIONS', ruri: `sip:127.0.0.1:${port}`, from: `sip:gw@${p.host}`, to: `sip:127.0.0.1:${port}`, callId: `busy-${p.host}-${i}` }));
      }
    };
    const busyAnswers = (p: Peer): number => p.inbox.filter((m) => !isRequest(m) && m.callId.startsWith('busy-')).length;
    // 60 requests each within the window, past maxRequests (40); the ping after them is
    // answered, so they were all handled (same source, in order) and none was dropped.
    for (const host of ['127.0.0.55', '127.0.0.56', '127.0.0.57']) {
      const gw = await peer(host);
      flood(gw, 60);
      assert.equal((await ping(gw)).status, 200, `${host} blocked`);
      assert.equal(busyAnswers(gw), 60, host);
    }
    // The same burst from an untrusted source: blocked at the 41st request, the other 19 dropped.
    const untrusted = await peer('127.0.0.58');
    flood(untrusted, 60);
    let s = await stats();
    while (s.pike_dropped! - before.pike_dropped! < 20) {
      await new Promise((r) => setTimeout(r, 10));
      s = await stats();
    }
    assert.equal(s.pike_dropped! - before.pike_dropped!, 20, JSON.stringify(s));
    assert.equal(s.pike_blocks! - before.pike_blocks!, 1, JSON.stringify(s));
    assert.ok(busyAnswers(untrusted) <= 40, `${busyAnswers(untrusted)} answered`);
    assert.deepEqual(
      logLines.filter((l) => l.includes('"event":"pike-blocked"')).map((l) => /"ip":"([^"]+)"/.exec(l)?.[1]).filter((ip) => ip?.startsWith('127.0.0.5') && ip !== '127.0.0.51'),
      ['127.0.0.58'],
    );
  });

  it('a scanner user agent is dropped silently', async () => {
    const p = await peer('127.0.0.53');
    const callId = `scan-${id()}`;
    p.send(request(p, { method: 'OPTIONS', ruri: `sip:100@127.0.0.1:${port}`, from: 'sip:100@1.1.1.1', to: 'sip:100@1.1.1.1', callId, headers: ['User-Agent: friendly-scanner'] }));
    assert.equal((await ping(p)).status, 200);
    assert.equal(p.inbox.filter((m) => m.callId === callId).length, 0);
    assert.equal((await stats()).secfilter_dropped, 1);
  });
});

describe('overload', () => {
  it('with the pending-transaction limit reached, a new INVITE gets 503 + Retry-After, an in-dialog request still passes, and it recovers', async () => {
    // dave registers from the phone that will receive (and hold) the calls.
    const bob = await peer('127.0.0.61');
    const caller = await peer('127.0.0.62');
    assert.equal((await register(bob, 'dave', 'dave-pw')).final.status, 200);
    const invites: string[] = [];
    const held: SipRequest[] = [];
    for (let i = 0; i < 2; i++) {
      const c = `inv-${i}-${id()}`;
      invites.push(c);
      caller.send(request(caller, { method: 'INVITE', ruri: `sip:dave@${D}`, from: 'sip:carol@other.example.net', to: `sip:dave@${D}`, callId: c }));
      held.push((await bob.next((m) => isRequest(m) && m.method === 'INVITE' && m.callId === c)) as SipRequest);
    }
    const refused = `inv-refused-${id()}`;
    caller.send(request(caller, { method: 'INVITE', ruri: `sip:dave@${D}`, from: 'sip:carol@other.example.net', to: `sip:dave@${D}`, callId: refused }));
    const r503 = await caller.response(refused);
    assert.equal(r503.status, 503);
    assert.match(r503.headers.get('retry-after') ?? '', /^\d+$/);
    // In a dialog (To tag, our Route): served while overloaded.
    const bye = `bye-${id()}`;
    caller.send(request(caller, { method: 'BYE', ruri: `sip:dave@127.0.0.61:${bob.port}`, from: 'sip:carol@other.example.net', to: `sip:dave@${D}`, toTag: 't', callId: bye, headers: [`Route: <sip:127.0.0.1:${port};lr>`] }));
    await bob.next((m) => isRequest(m) && m.method === 'BYE' && m.callId === bye);
    // bob answers the held INVITEs: nothing pending any more, new calls are relayed again.
    for (const m of held) bob.send(busy(m));
    for (const c of invites) assert.equal((await caller.response(c)).status, 486);
    const again = `inv-again-${id()}`;
    caller.send(request(caller, { method: 'INVITE', ruri: `sip:dave@${D}`, from: 'sip:carol@other.example.net', to: `sip:dave@${D}`, callId: again }));
    await bob.next((m) => isRequest(m) && m.method === 'INVITE' && m.callId === again);
    const s = await stats();
    assert.equal(s.overload_rejected, 1);
  });
});

/** 486 for a request the peer received (headers copied per RFC 3261 §8.2.6.2). */
function busy(req: SipRequest): string {
  return [
    'SIP/2.0 486 Busy Here',
    ...req.headers.getAll('via').map((v) => `Via: ${v}`),
    `From: ${req.headers.get('from')}`,
    `To: ${req.headers.get('to')};tag=busy`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${req.headers.get('cseq')}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}
