/**
 * The provider route (book ch. 8) end to end, in-process, over real UDP on loopback: a proxy
 * started by server.ts with a provisioning file (`--db file:…`), phones, PSTN gateways and a
 * voicemail server played by raw sockets. Gateways and phones sit on different loopback
 * addresses so that allow_trusted() can tell them apart (127.0.0.2 is the trusted gateway).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createResponse, isRequest, parseUri, silentLogger, type SipRequest, type SipResponse } from '@voip/sip';
import { emptySinkStats, type AccountingSink, type AccRecord } from '@voip/acc';
import { parseConfig } from '../config.js';
import { algorithmByName, computeResponse } from '../modules/auth/index.js';
import * as voicemail from '../modules/voicemail/index.js';
import type { ForwardingContext } from '../core/route-context.js';
import { startProxy, type RunningProxy } from '../server.js';
import { calculateHa1 } from '@voip/storage';
import { UdpPeer } from '../test-support/udp-peer.js';

const D = 'example.com';
const PROXY_HOST = '127.0.0.1';
let proxy: RunningProxy;
/** The book's North-American plan, the default `dialplan.rules`. */
const BOOK_PLAN = [
  { match: '[2-9][0-9]{6}', group: 'local', strip: 0, prefix: '+1' },
  { match: '1[2-9][0-9]{9}', group: 'ld', strip: 1, prefix: '+1' },
  { match: '011[0-9]{1,20}', group: 'int', strip: 3, prefix: '+' },
];
let port: number;
let dir: string;
/** Trusted gateway (priority 1 for +1), second gateway (priority 2), an untrusted peer, voicemail. */
let gwA: UdpPeer;
let gwB: UdpPeer;
let untrusted: UdpPeer;
let vm: UdpPeer;
/** The message-summary server (voicemail.mwiUri): the voicemail-bridge in front of Asterisk. */
let mwi: UdpPeer;
const peers: UdpPeer[] = [];

/** Call records as the acc module writes them. */
class RecordingSink implements AccountingSink {
  readonly records: AccRecord[] = [];
  write(record: AccRecord): boolean {
    this.records.push(record);
    return true;
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
  stats() {
    return emptySinkStats();
  }
}
const acc = new RecordingSink();

async function peer(host = PROXY_HOST): Promise<UdpPeer> {
  const p = await UdpPeer.open(host);
  peers.push(p);
  return p;
}

before(async () => {
  gwA = await peer('127.0.0.2');
  gwB = await peer('127.0.0.4');
  untrusted = await peer('127.0.0.3');
  vm = await peer();
  mwi = await peer();
  dir = mkdtempSync(join(tmpdir(), 'provider-route-'));
  const file = join(dir, 'provisioning.json');
  writeFileSync(
    file,
    JSON.stringify({
      domains: [D],
      subscribers: [
        ...['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi'],
        // forwarding scenarios: ivan busy → pat, judy no answer → pat, kim no answer → PSTN,
        // leo offline → pat, c0…c5 a chain to pat, mia/nina/olga tel: targets.
        ...['ivan', 'judy', 'kim', 'leo', 'pat', 'c0', 'c1', 'c2', 'c3', 'c4', 'c5', 'mia', 'nina', 'olga'],
      ].map((u) => ({ username: u, domain: D, password: `${u}-pw` })),
      groups: [
        { account: `alice@${D}`, groups: ['local', 'ld', 'int'] },
        { account: `heidi@${D}`, groups: ['ld'] },
        { account: `kim@${D}`, groups: ['int'] },
        { account: `mia@${D}`, groups: ['ld'] },
        { account: `olga@${D}`, groups: ['local'] },
      ],
      speed_dials: [
        { account: `alice@${D}`, short: '01', uri: `sip:bob@${D}` },
        // tel: entries: dialled from the caller's domain with the caller's groups.
        { account: `alice@${D}`, short: '02', uri: 'tel:+44-20-7123-4567' },
        { account: `alice@${D}`, short: '03', uri: `tel:555-0143;phone-context=${D}` },
        { account: `bob@${D}`, short: '02', uri: 'tel:+44-20-7123-4567' },
      ],
      preferences: [
        { account: `carol@${D}`, attribute: 'callfwd', value: `sip:bob@${D}` },
        { account: `frank@${D}`, attribute: 'callfwd', value: `sip:grace@${D}` },
        { account: `grace@${D}`, attribute: 'callfwd', value: `sip:frank@${D}` },
        // heidi forwards to a long-distance number: dial plan + LCR with heidi's own groups.
        { account: `heidi@${D}`, attribute: 'callfwd', value: `sip:13125550199@${D}` },
        // Every no-answer scenario sets its own fwdnoanswer_timeout (1 s): the configured default
        // is 10 minutes, so a call that is forwarded at all proves the per-user timeout applied.
        { account: `dave@${D}`, attribute: 'fwdnoanswer_timeout', value: '1' },
        { account: `ivan@${D}`, attribute: 'fwdbusy', value: `sip:pat@${D}` },
        { account: `judy@${D}`, attribute: 'fwdnoanswer', value: `sip:pat@${D}` },
        { account: `judy@${D}`, attribute: 'fwdnoanswer_timeout', value: '1' },
        // kim (group int) forwards unanswered calls abroad: dial plan + LCR with kim's groups.
        { account: `kim@${D}`, attribute: 'fwdnoanswer', value: `sip:011442071234567@${D}` },
        { account: `kim@${D}`, attribute: 'fwdnoanswer_timeout', value: '1' },
        { account: `leo@${D}`, attribute: 'fwdnoanswer', value: `sip:pat@${D}` },
        // c0 → c1 → … → c5 → pat: from c1 that is 5 forwards, from c0 six.
        ...[0, 1, 2, 3, 4].map((i) => ({ account: `c${i}@${D}`, attribute: 'callfwd', value: `sip:c${i + 1}@${D}` })),
        { account: `c5@${D}`, attribute: 'callfwd', value: `sip:pat@${D}` },
        // tel: targets: a global number (mia has ld, nina nothing) and a local one (olga has local).
        { account: `mia@${D}`, attribute: 'callfwd', value: 'tel:+1-312-555-0142' },
        { account: `nina@${D}`, attribute: 'callfwd', value: 'tel:+1-312-555-0142' },
        { account: `olga@${D}`, attribute: 'callfwd', value: `tel:555-0142;phone-context=${D}` },
      ],
      trusted: [{ src_ip: '127.0.0.2', proto: 'udp', tag: 'gw-a' }],
      gateways: [
        { name: 'gw-a', host: `127.0.0.2:${gwA.port}`, tag: 'gw-a' },
        // gw-b wants the 00 international format: strip "+", prefix "00".
        { name: 'gw-b', host: `127.0.0.4:${gwB.port}`, strip: 1, prefix: '00', params: ';user=phone' },
      ],
      lcr_rules: [
        { prefix: '+1', targets: [{ gw: 'gw-a', priority: 1 }, { gw: 'gw-b', priority: 2 }] },
        { prefix: '+44', targets: [{ gw: 'gw-b', priority: 1 }] },
      ],
    }),
  );
  const config = parseConfig({
    listen: [`udp:${PROXY_HOST}:0`],
    admin: { listen: '127.0.0.1:0' },
    logLevel: 'silent',
    timers: { t1: 100 },
    db: { url: `file:${file}` },
    auth: { nonceSecret: 'provider-route-test-secret', algorithms: ['MD5'] },
    usrloc: { dbMode: 'memory' },
    // Short, configured timeouts: a silent gateway / an unanswered phone is given up quickly.
    lcr: { frInvTimeout: 1_000 },
    // Long on purpose: users give their own fwdnoanswer_timeout (see the preferences above).
    callForward: { noAnswerTimeout: 600_000 },
    // The book's plan plus E.164 numbers (what a tel:+… target or a phone dialling +… sends).
    dialplan: { rules: [...BOOK_PLAN, { match: '\\+1[2-9][0-9]{9}', group: 'ld', strip: 0, prefix: '' }, { match: '\\+[2-9][0-9]{6,14}', group: 'int', strip: 0, prefix: '' }] },
    voicemail: { uri: `sip:${vm.uri}`, mwiUri: `sip:${mwi.uri}` },
    // A loaded test machine must not turn calls into 503s (the overload guard has its own tests).
    overload: { enabled: false },
  });
  proxy = await startProxy(config, silentLogger, { accounting: acc });
  port = proxy.transports[0]!.local.port;
});

after(async () => {
  for (const p of peers) p.close();
  await proxy?.close();
  rmSync(dir, { recursive: true, force: true });
});

let seq = 0;
function sipRequest(o: { method: string; ruri: string; from: string; to?: string; via: UdpPeer; callId?: string; cseq?: number; contact?: string; headers?: string[]; body?: string; branch?: string }): string {
  seq++;
  const body = o.body ?? '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.via.uri};branch=${o.branch ?? `z9hG4bK-pr-${seq}-${Math.random().toString(36).slice(2)}`};rport`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=f${seq}`,
    `To: <${o.to ?? o.ruri}>`,
    `Call-ID: ${o.callId ?? `pr-${seq}-${Math.random().toString(36).slice(2)}`}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    ...(o.contact ? [`Contact: <${o.contact}>`] : []),
    ...(o.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\n');
}

/** RFC 2617 digest (MD5, qop=auth) as a UA computes it. */
function credentials(challenge: string, o: { username: string; password: string; method: string; uri: string }): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const alg = algorithmByName('MD5')!;
  const response = computeResponse({ algorithm: alg, ha1: calculateHa1(o.username, realm, o.password, alg.hash), nonce, method: o.method, uri: o.uri, qop: 'auth', cnonce: 'c0ffee', ncText: '00000001' });
  return `Digest username="${o.username}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`;
}

async function register(p: UdpPeer, user: string, proxyPort = port): Promise<void> {
  const callId = `reg-${user}-${Math.random().toString(36).slice(2)}`;
  const base = { method: 'REGISTER', ruri: `sip:${D}`, from: `sip:${user}@${D}`, to: `sip:${user}@${D}`, via: p, callId, contact: `sip:${user}@${p.uri}`, headers: ['Expires: 600'] };
  p.send(sipRequest({ ...base, cseq: 1 }), proxyPort, PROXY_HOST);
  const first = await p.nextResponse();
  assert.equal(first.status, 401);
  const authz = credentials(first.headers.get('www-authenticate')!, { username: user, password: `${user}-pw`, method: 'REGISTER', uri: `sip:${D}` });
  p.send(sipRequest({ ...base, cseq: 2, headers: [...base.headers, `Authorization: ${authz}`] }), proxyPort, PROXY_HOST);
  assert.equal((await p.nextResponse()).status, 200);
}

/** A local user's INVITE, answered 407 then sent with credentials. Returns the phone and the Call-ID / branch for a CANCEL. */
async function call(user: string, ruri: string, method = 'INVITE', headers: string[] = ['Content-Type: application/sdp'], o: { proxyPort?: number; to?: string } = {}): Promise<{ phone: UdpPeer; callId: string; branch: string }> {
  const proxyPort = o.proxyPort ?? port;
  const phone = await peer();
  const callId = `call-${Math.random().toString(36).slice(2)}`;
  const base = { method, ruri, to: o.to, from: `sip:${user}@${D}`, via: phone, callId, contact: `sip:${user}@${phone.uri}`, headers, body: method === 'INVITE' ? 'v=0\r\n' : '' };
  const firstBranch = `z9hG4bK-first-${Math.random().toString(36).slice(2)}`;
  phone.send(sipRequest({ ...base, cseq: 1, branch: firstBranch }), proxyPort, PROXY_HOST);
  const first = await phone.nextResponse((r) => r.status >= 200);
  assert.equal(first.status, 407, `${first.status} ${first.reason}`);
  // RFC 3261 §17.1.1.3: the ACK for a non-2xx final of an INVITE, same branch, the 407's To tag.
  if (method === 'INVITE') phone.send(
    [
      `ACK ${ruri} SIP/2.0`,
      `Via: SIP/2.0/UDP ${phone.uri};branch=${firstBranch};rport`,
      'Max-Forwards: 70',
      `From: ${first.headers.get('from')!}`,
      `To: ${first.headers.get('to')!}`,
      `Call-ID: ${callId}`,
      'CSeq: 1 ACK',
      'Content-Length: 0',
      '',
      '',
    ].join('\n'),
    proxyPort,
    PROXY_HOST,
  );
  const authz = credentials(first.headers.get('proxy-authenticate')!, { username: user, password: `${user}-pw`, method, uri: ruri });
  const branch = `z9hG4bK-auth-${Math.random().toString(36).slice(2)}`;
  phone.send(sipRequest({ ...base, cseq: 2, branch, headers: [...base.headers, `Proxy-Authorization: ${authz}`] }), proxyPort, PROXY_HOST);
  return { phone, callId, branch };
}

function answer(uas: UdpPeer, req: SipRequest, status: number, reason?: string, proxyPort = port): void {
  uas.sendMessage(createResponse(req, status, reason, { toTag: `uas-${status}-${Math.random().toString(36).slice(2, 8)}` }), proxyPort, PROXY_HOST);
}

/** The request `method` of call `callId` at `uas` (retransmissions and other calls' requests stay queued). */
function requestOf(uas: UdpPeer, method: string, callId: string): Promise<SipRequest> {
  return uas.next((m) => isRequest(m) && m.method === method && m.callId === callId) as Promise<SipRequest>;
}

/** A phone that rings and never answers: 180, then the proxy's CANCEL (the no-answer timer), 200, 487. */
async function ringUntilCancelled(uas: UdpPeer, callId: string): Promise<void> {
  const inv = await requestOf(uas, 'INVITE', callId);
  answer(uas, inv, 180, 'Ringing');
  answer(uas, await requestOf(uas, 'CANCEL', callId), 200);
  answer(uas, inv, 487, 'Request Terminated');
}

async function finalOf(p: UdpPeer): Promise<SipResponse> {
  return p.nextResponse((r) => r.status >= 200);
}

function userOf(req: SipRequest): string {
  return /^sips?:([^@]+)@/.exec(req.uri.toString())![1]!;
}

describe('provider route: PSTN calls through LCR (route[4], failure_route[2])', () => {
  test('first gateway 503, second 200: the INVITE at the second has its strip/prefix applied to the E.164 number', async () => {
    const { phone } = await call('alice', `sip:12125551234@${D}`);
    const atA = await gwA.nextRequest('INVITE');
    assert.equal(atA.uri.toString(), `sip:+12125551234@127.0.0.2:${gwA.port}`);
    answer(gwA, atA, 503, 'Service Unavailable');
    const atB = await gwB.nextRequest('INVITE');
    assert.equal(atB.uri.toString(), `sip:0012125551234@127.0.0.4:${gwB.port};user=phone`);
    answer(gwB, atB, 200);
    assert.equal((await finalOf(phone)).status, 200);
    // Accounted like any call: the gateway that answered and the normalised (E.164) number,
    // not the gateway's own form of it (0012125551234).
    const record = acc.records.find((r) => r.callid === atB.callId && r.kind === 'acc');
    assert.ok(record, 'acc record of the PSTN call');
    assert.equal(record.dst_user, '+12125551234');
    assert.equal(record.dst_domain, '127.0.0.4');
    assert.equal(record.dst_ouser, '12125551234');
    assert.equal(record.src_user, 'alice');
  });

  test('a gateway without a trusted row re-INVITEs (hold) on a call out: relayed to the caller, not challenged (from_gw)', async () => {
    const { phone, callId } = await call('alice', `sip:13125550111@${D}`);
    answer(gwA, await requestOf(gwA, 'INVITE', callId), 503);
    const atB = await requestOf(gwB, 'INVITE', callId);
    gwB.sendMessage(createResponse(atB, 200, 'OK', { toTag: 'gwb-hold' }), port, PROXY_HOST);
    assert.equal((await phone.nextResponse((r) => r.status >= 200)).status, 200);
    // The gateway's in-dialog re-INVITE: From is the dialled number in our domain (the original
    // To), which the book would challenge; a gateway has no password here.
    const target = /<([^>]+)>/.exec(atB.headers.get('contact')!)![1]!;
    gwB.send(
      [
        `INVITE ${target} SIP/2.0`,
        `Via: SIP/2.0/UDP ${gwB.uri};branch=z9hG4bK-gwb-hold-${Math.random().toString(36).slice(2)};rport`,
        'Max-Forwards: 70',
        `Route: ${atB.headers.get('record-route')!}`,
        `From: ${atB.headers.get('to')!};tag=gwb-hold`,
        `To: ${atB.headers.get('from')!}`,
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:13125550111@${gwB.uri}>`,
        'Content-Type: application/sdp',
        'Content-Length: 5',
        '',
        'v=0\r\n',
      ].join('\n'),
      port,
      PROXY_HOST,
    );
    const reinvite = await requestOf(phone, 'INVITE', callId);
    assert.equal(reinvite.headers.get('cseq'), '1 INVITE', 'the re-INVITE reached the caller');
    assert.equal(gwB.inbox.filter((m) => !isRequest(m) && m.status === 407).length, 0, 'no challenge to the gateway');
  });

  test('both gateways 503: the caller gets 503 "Service not available, no more gateways"', async () => {
    const { phone } = await call('alice', `sip:13125550000@${D}`);
    answer(gwA, await gwA.nextRequest('INVITE'), 503);
    answer(gwB, await gwB.nextRequest('INVITE'), 503);
    const r = await finalOf(phone);
    assert.equal(r.status, 503);
    assert.equal(r.reason, 'Service not available, no more gateways');
  });

  test('a gateway that rings but never answers is CANCELled after fr_inv_timer and the next one is tried', async () => {
    const { phone } = await call('alice', `sip:14155550000@${D}`);
    const atA = await gwA.nextRequest('INVITE');
    answer(gwA, atA, 180, 'Ringing');
    const cancel = await gwA.nextRequest('CANCEL');
    answer(gwA, cancel, 200);
    answer(gwA, atA, 487, 'Request Terminated');
    const atB = await gwB.nextRequest('INVITE');
    answer(gwB, atB, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('a 6xx ends the hunt: the caller gets it, the second gateway nothing', async () => {
    const { phone } = await call('alice', `sip:16175550000@${D}`);
    answer(gwA, await gwA.nextRequest('INVITE'), 603, 'Decline');
    const r = await finalOf(phone);
    assert.equal(r.status, 603);
    assert.equal(gwB.inbox.filter((m) => 'method' in m && m.method === 'INVITE').length, 0);
  });
});

describe('provider route: ACL groups per number class (route[10])', () => {
  test('local, long distance and international are allowed for a member of each group, normalised to E.164 before the gateway strip/prefix', async () => {
    const local = await call('alice', `sip:5551234@${D}`);
    const atLocal = await gwA.nextRequest('INVITE');
    assert.equal(userOf(atLocal), '+15551234');
    answer(gwA, atLocal, 200);
    assert.equal((await finalOf(local.phone)).status, 200);

    const int = await call('alice', `sip:011442071234567@${D}`);
    const atInt = await gwB.nextRequest('INVITE');
    assert.equal(userOf(atInt), '00442071234567');
    answer(gwB, atInt, 200);
    assert.equal((await finalOf(int.phone)).status, 200);
  });

  for (const [number, reason] of [
    ['5551234', 'No permissions for local calls'],
    ['12125551234', 'No permissions for long distance'],
    ['011442071234567', 'No perm. for internat.calls'],
  ] as const) {
    test(`${number} without the group is 403 "${reason}"`, async () => {
      const { phone } = await call('bob', `sip:${number}@${D}`);
      const r = await finalOf(phone);
      assert.equal(r.status, 403);
      assert.equal(r.reason, reason);
    });
  }
});

describe('provider route: trusted gateways and relaying (route[3], route[12], route[13])', () => {
  let bob: UdpPeer;
  before(async () => {
    bob = await peer();
    await register(bob, 'bob');
  });

  test('a trusted gateway\'s INVITE to a registered user is relayed without a 407', async () => {
    gwA.send(sipRequest({ method: 'INVITE', ruri: `sip:bob@${D}`, from: `sip:+12125550100@${D}`, via: gwA, contact: `sip:+12125550100@${gwA.uri}` }), port, PROXY_HOST);
    const inv = await bob.nextRequest('INVITE');
    answer(bob, inv, 200);
    assert.equal((await gwA.nextResponse((r) => r.status >= 200)).status, 200);
  });

  test('the same INVITE from an untrusted address is challenged', async () => {
    untrusted.send(sipRequest({ method: 'INVITE', ruri: `sip:bob@${D}`, from: `sip:+12125550100@${D}`, via: untrusted, contact: `sip:+12125550100@${untrusted.uri}` }), port, PROXY_HOST);
    assert.equal((await untrusted.nextResponse((r) => r.status >= 200)).status, 407);
  });

  test('a foreign caller to a foreign domain is 403 (no open relay)', async () => {
    const p = await peer();
    p.send(sipRequest({ method: 'INVITE', ruri: 'sip:someone@elsewhere.example.org', from: 'sip:mallory@evil.example.net', via: p }), port, PROXY_HOST);
    assert.equal((await finalOf(p)).status, 403);
  });
});

describe('provider route: call forwarding and voicemail (route[3], route[10], failure_route[1])', () => {
  let bob: UdpPeer;
  let dave: UdpPeer;
  before(async () => {
    bob = await peer();
    await register(bob, 'bob');
    dave = await peer();
    await register(dave, 'dave');
  });

  test('unconditional: a call to carol (callfwd) rings bob', async () => {
    const { phone } = await call('alice', `sip:carol@${D}`);
    const inv = await bob.nextRequest('INVITE');
    answer(bob, inv, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('busy: dave answers 486, the call goes to voicemail as b<user>', async () => {
    const { phone } = await call('alice', `sip:dave@${D}`);
    answer(dave, await dave.nextRequest('INVITE'), 486, 'Busy Here');
    const atVm = await vm.nextRequest('INVITE');
    assert.equal(userOf(atVm), 'bdave');
    answer(vm, atVm, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('no answer: dave rings past the timeout, is CANCELled, and the call goes to voicemail as u<user>', async () => {
    const { phone } = await call('alice', `sip:dave@${D}`);
    const inv = await dave.nextRequest('INVITE');
    answer(dave, inv, 180, 'Ringing');
    const cancel = await dave.nextRequest('CANCEL');
    answer(dave, cancel, 200);
    answer(dave, inv, 487, 'Request Terminated');
    const atVm = await vm.nextRequest('INVITE');
    assert.equal(userOf(atVm), 'udave');
    answer(vm, atVm, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('offline: erin exists but is not registered, the call goes to voicemail as u<user>', async () => {
    const { phone } = await call('alice', `sip:erin@${D}`);
    const atVm = await vm.nextRequest('INVITE');
    assert.equal(userOf(atVm), 'uerin');
    answer(vm, atVm, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('unknown user: 404', async () => {
    const { phone } = await call('alice', `sip:nobody@${D}`);
    assert.equal((await finalOf(phone)).status, 404);
  });

  test('CANCEL while ringing: 487 to the caller and no voicemail leg', async () => {
    const { phone, callId, branch } = await call('alice', `sip:dave@${D}`);
    const inv = await dave.nextRequest('INVITE');
    answer(dave, inv, 180, 'Ringing');
    await phone.nextResponse((r) => r.status === 180);
    phone.send(
      [
        `CANCEL sip:dave@${D} SIP/2.0`,
        `Via: SIP/2.0/UDP ${phone.uri};branch=${branch};rport`,
        'Max-Forwards: 70',
        `From: <sip:alice@${D}>;tag=f-cancel`,
        `To: <sip:dave@${D}>`,
        `Call-ID: ${callId}`,
        'CSeq: 2 CANCEL',
        'Content-Length: 0',
        '',
        '',
      ].join('\n'),
      port,
      PROXY_HOST,
    );
    const cancel = await dave.nextRequest('CANCEL');
    answer(dave, cancel, 200);
    answer(dave, inv, 487, 'Request Terminated');
    assert.equal((await phone.nextResponse((r) => r.status >= 300 && r.cseq.method === 'INVITE')).status, 487);
    // A new call shows the voicemail got nothing in between.
    const next = await call('alice', `sip:erin@${D}`);
    const atVm = await vm.nextRequest('INVITE');
    assert.equal(userOf(atVm), 'uerin');
    answer(vm, atVm, 200);
    await finalOf(next.phone);
  });

  test('speed dial: alice dials 01 and reaches bob', async () => {
    const { phone } = await call('alice', `sip:01@${D}`);
    answer(bob, await bob.nextRequest('INVITE'), 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('*98: alice reaches her own mailbox, her identity asserted', async () => {
    const { phone } = await call('alice', `sip:*98@${D}`);
    const atVm = await vm.nextRequest('INVITE');
    assert.equal(userOf(atVm), 'alice');
    assert.equal(atVm.headers.get('p-asserted-identity'), `<sip:alice@${D}>`);
    answer(vm, atVm, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('SUBSCRIBE to message-summary for one\'s own mailbox goes to voicemail.mwiUri, not voicemail.uri', async () => {
    const { phone, callId } = await call('alice', `sip:alice@${D}`, 'SUBSCRIBE', ['Event: message-summary', 'Expires: 600']);
    const sub = await requestOf(mwi, 'SUBSCRIBE', callId);
    assert.equal(userOf(sub), 'alice');
    assert.equal(sub.uri.toString(), `sip:alice@${mwi.uri}`);
    answer(mwi, sub, 200);
    assert.equal((await finalOf(phone)).status, 200);
    assert.equal(vm.inbox.filter((m) => isRequest(m) && m.method === 'SUBSCRIBE').length, 0);
  });

  test('SUBSCRIBE to another user\'s message-summary is 403, by R-URI or by To', async () => {
    const other = await call('alice', `sip:bob@${D}`, 'SUBSCRIBE', ['Event: message-summary', 'Expires: 600']);
    assert.equal((await finalOf(other.phone)).status, 403);
    // R-URI names alice's mailbox but To names bob's: which one the server would use is its
    // business, so both must be the subscriber's.
    const mixed = await call('alice', `sip:alice@${D}`, 'SUBSCRIBE', ['Event: message-summary', 'Expires: 600'], { to: `sip:bob@${D}` });
    assert.equal((await finalOf(mixed.phone)).status, 403);
    // From another domain (no credentials here) nobody watches a mailbox of ours.
    const p = await peer();
    p.send(sipRequest({ method: 'SUBSCRIBE', ruri: `sip:alice@${D}`, from: 'sip:mallory@evil.example.net', via: p, headers: ['Event: message-summary', 'Expires: 600'] }), port, PROXY_HOST);
    assert.equal((await finalOf(p)).status, 403);
    assert.equal(mwi.inbox.filter((m) => isRequest(m) && m.method === 'SUBSCRIBE').length, 0);
  });

  test('an A→B→A forward loop ends with 482', async () => {
    const { phone } = await call('alice', `sip:frank@${D}`);
    assert.equal((await finalOf(phone)).status, 482);
  });

  test('a forward to a PSTN number goes through dial plan and LCR with the forwarding user\'s groups', async () => {
    // bob has no groups, heidi has ld: bob's call to heidi is forwarded to a long-distance number.
    const { phone } = await call('bob', `sip:heidi@${D}`);
    const atA = await gwA.nextRequest('INVITE');
    assert.equal(userOf(atA), '+13125550199');
    answer(gwA, atA, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });
});

describe('provider route: forwarding on busy, on no answer, offline, and chains (failure_route[1])', () => {
  let pat: UdpPeer;
  let ivan: UdpPeer;
  let judy: UdpPeer;
  let kim: UdpPeer;
  before(async () => {
    pat = await peer();
    await register(pat, 'pat');
    ivan = await peer();
    await register(ivan, 'ivan');
    judy = await peer();
    await register(judy, 'judy');
    kim = await peer();
    await register(kim, 'kim');
  });

  test('fwdbusy: ivan answers 486, the call rings pat (not voicemail)', async () => {
    const { phone, callId } = await call('alice', `sip:ivan@${D}`);
    answer(ivan, await requestOf(ivan, 'INVITE', callId), 486, 'Busy Here');
    const atPat = await requestOf(pat, 'INVITE', callId);
    assert.equal(userOf(atPat), 'pat');
    answer(pat, atPat, 200);
    assert.equal((await finalOf(phone)).status, 200);
    assert.equal(vm.inbox.filter((m) => isRequest(m) && m.callId === callId).length, 0);
  });

  test('fwdnoanswer with the user\'s own fwdnoanswer_timeout: judy rings, is CANCELled, pat rings', async () => {
    // The configured default is 10 minutes: only judy's 1 s gets the call here.
    const { phone, callId } = await call('alice', `sip:judy@${D}`);
    await ringUntilCancelled(judy, callId);
    const atPat = await requestOf(pat, 'INVITE', callId);
    answer(pat, atPat, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('fwdnoanswer to a PSTN number: dial plan with the forwarding user\'s groups, then LCR with the gateway\'s strip/prefix', async () => {
    // bob (no groups) calls kim (int); kim's target 011… is int → +44… → gw-b: strip 1, prefix 00.
    const { phone, callId } = await call('bob', `sip:kim@${D}`);
    await ringUntilCancelled(kim, callId);
    const atGw = await requestOf(gwB, 'INVITE', callId);
    assert.equal(atGw.uri.toString(), `sip:00442071234567@127.0.0.4:${gwB.port};user=phone`);
    answer(gwB, atGw, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('offline with fwdnoanswer: leo is not registered, the call goes to his target, not to voicemail', async () => {
    const { phone, callId } = await call('alice', `sip:leo@${D}`);
    answer(pat, await requestOf(pat, 'INVITE', callId), 200);
    assert.equal((await finalOf(phone)).status, 200);
    assert.equal(vm.inbox.filter((m) => isRequest(m) && m.callId === callId).length, 0);
  });

  test('a chain of 5 forwards (c1 → … → c5 → pat) completes', async () => {
    const { phone, callId } = await call('alice', `sip:c1@${D}`);
    answer(pat, await requestOf(pat, 'INVITE', callId), 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('a 6th forward (c0 → c1 → … → pat) is refused with 482', async () => {
    const { phone, callId } = await call('alice', `sip:c0@${D}`);
    const r = await finalOf(phone);
    assert.equal(r.status, 482);
    assert.equal(pat.inbox.filter((m) => isRequest(m) && m.callId === callId).length, 0);
  });
});

describe('provider route: tel: forwarding and speed-dial targets (dial plan + LCR)', () => {
  test('callfwd tel:+1-312-555-0142 with the forwarder in ld: the gateway gets +13125550142', async () => {
    // bob has no groups: only mia's ld lets the forward out.
    const { phone, callId } = await call('bob', `sip:mia@${D}`);
    const atGw = await requestOf(gwA, 'INVITE', callId);
    assert.equal(atGw.uri.toString(), `sip:+13125550142@127.0.0.2:${gwA.port}`);
    answer(gwA, atGw, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('callfwd tel:+1… for a forwarder without ld: 403 "No permissions for long distance", even for a caller who has it', async () => {
    const { phone } = await call('alice', `sip:nina@${D}`);
    const r = await finalOf(phone);
    assert.equal(r.status, 403);
    assert.equal(r.reason, 'No permissions for long distance');
  });

  test('callfwd to a local tel: number (phone-context) is dialled as 7 digits: local group, +1 prefix', async () => {
    const { phone, callId } = await call('bob', `sip:olga@${D}`);
    const atGw = await requestOf(gwA, 'INVITE', callId);
    assert.equal(userOf(atGw), '+15550142');
    answer(gwA, atGw, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('speed dial to tel:+44…: alice (int) reaches gw-b with its strip/prefix', async () => {
    const { phone, callId } = await call('alice', `sip:02@${D}`);
    const atGw = await requestOf(gwB, 'INVITE', callId);
    assert.equal(atGw.uri.toString(), `sip:00442071234567@127.0.0.4:${gwB.port};user=phone`);
    answer(gwB, atGw, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('speed dial to a local tel: number: alice dials 03, the gateway gets +15550143', async () => {
    const { phone, callId } = await call('alice', `sip:03@${D}`);
    const atGw = await requestOf(gwA, 'INVITE', callId);
    assert.equal(userOf(atGw), '+15550143');
    answer(gwA, atGw, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });

  test('speed dial to tel:+44… for bob (no int): 403 "No perm. for internat.calls"', async () => {
    const { phone } = await call('bob', `sip:02@${D}`);
    const r = await finalOf(phone);
    assert.equal(r.status, 403);
    assert.equal(r.reason, 'No perm. for internat.calls');
  });
});

describe('provider route without voicemail.uri: busy and unanswered calls end at the caller', () => {
  let bare: RunningProxy;
  let barePort: number;
  let dave: UdpPeer;
  before(async () => {
    bare = await startProxy(
      parseConfig({
        listen: [`udp:${PROXY_HOST}:0`],
        logLevel: 'silent',
        timers: { t1: 100 },
        db: { url: `file:${join(dir, 'provisioning.json')}` },
        auth: { nonceSecret: 'provider-route-test-secret', algorithms: ['MD5'] },
        usrloc: { dbMode: 'memory' },
        overload: { enabled: false },
      }),
      silentLogger,
    );
    barePort = bare.transports[0]!.local.port;
    dave = await peer();
    await register(dave, 'dave', barePort);
  });
  after(async () => {
    await bare?.close();
  });

  for (const [status, reason] of [
    [486, 'Busy Here'],
    [480, 'Temporarily Unavailable'],
    [408, 'Request Timeout'],
  ] as const) {
    test(`the callee's ${status} reaches the caller`, async () => {
      const { phone, callId } = await call('alice', `sip:dave@${D}`, 'INVITE', undefined, { proxyPort: barePort });
      answer(dave, await requestOf(dave, 'INVITE', callId), status, reason, barePort);
      assert.equal((await finalOf(phone)).status, status);
    });
  }

  test('a subscriber who is not registered: 480', async () => {
    const { phone } = await call('alice', `sip:erin@${D}`, 'INVITE', undefined, { proxyPort: barePort });
    assert.equal((await finalOf(phone)).status, 480);
  });
});

describe('voicemail module: the message-summary target defaults to voicemail.uri', () => {
  test('without mwiUri SUBSCRIBEs go to voicemail.uri; without either nothing is configured', () => {
    const withUri = voicemail.init({ settings: { uri: 'sip:192.0.2.7:5080', mailboxAccess: '*98' } });
    assert.equal(withUri.mwiConfigured, true);
    const ctx = { request: { uri: parseUri(`sip:alice@${D}`) }, nextHop: null, targets: [] } as unknown as ForwardingContext;
    assert.equal(withUri.toMessageSummary(ctx, 'alice'), true);
    assert.equal(ctx.request.uri.toString(), 'sip:alice@192.0.2.7:5080');
    const none = voicemail.init({ settings: { mailboxAccess: '*98' } });
    assert.equal(none.mwiConfigured, false);
    assert.equal(none.toMessageSummary(ctx, 'alice'), false);
  });
});

describe('provider route: admin reloads', () => {
  test('POST /lcr/reload, /permissions/reload, /dialplan/reload, /preferences/reload answer { reloaded }', async () => {
    for (const what of ['lcr', 'permissions', 'dialplan', 'preferences']) {
      const res = await fetch(`${proxy.adminUrl}/${what}/reload`, { method: 'POST' });
      assert.equal(res.status, 200, what);
      const body = (await res.json()) as { reloaded: number };
      assert.equal(typeof body.reloaded, 'number', what);
    }
  });

  test('a gateway added to the table is used after /lcr/reload, without restart', async () => {
    const storage = proxy.storage!;
    const gwId = await storage.lcr.addGateway({ lcrId: 1, gwName: 'gw-new', ipAddr: '127.0.0.4', hostname: null, port: gwB.port, params: null, uriScheme: null, transport: null, strip: 1, prefix: '9', tag: null, flags: 0, defunct: null });
    const ruleId = await storage.lcr.addRule({ lcrId: 1, prefix: '+4420', fromUri: null, requestUri: null, mtTvalue: null, stopper: 1, enabled: 1 });
    await storage.lcr.addTarget({ lcrId: 1, ruleId, gwId, priority: 1, weight: 1 });
    const res = await fetch(`${proxy.adminUrl}/lcr/reload`, { method: 'POST' });
    assert.equal(res.status, 200);
    const { phone } = await call('alice', `sip:011442071234567@${D}`);
    const at = await gwB.nextRequest('INVITE');
    assert.equal(userOf(at), '9442071234567');
    answer(gwB, at, 200);
    assert.equal((await finalOf(phone)).status, 200);
  });
});
