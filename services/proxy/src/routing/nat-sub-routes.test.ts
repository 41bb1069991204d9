/**
 * The NAT sub-routes in the chapter-5 route, in-process over real UDP on loopback with a fake ng
 * relay. "Behind a NAT" is what the proxy sees of such a phone: a Via sent-by and a Contact with
 * a private address (10.0.0.5:5060, unreachable) while packets come from another address:port
 * (the phone's real loopback socket, standing in for the NAT's public binding).
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
import { usrlocSync } from '../modules/location/location-persistence-sync.js';
import * as nat from '../modules/nat/index.js';
import * as registrar from '../modules/registrar/index.js';
import * as rr from '../modules/rr/index.js';
import * as rtpengine from '../modules/rtpengine/index.js';
import { FakeNgServer } from '../modules/rtpengine/fake-ng-server.js';
import { calculateHa1 } from '@voip/storage';
import { provisionMemoryStorage } from '@voip/storage';
import { UdpPeer } from '../test-support/udp-peer.js';
import { createCh5Router } from './ch5-route.js';
import { natModules } from './nat-sub-routes.js';

const D = 'example.com';
const PRIVATE = '10.0.0.5:5060';
let port: number;
let location: LocationStore;
let relay: FakeNgServer;
let close: () => Promise<void>;
const peers: UdpPeer[] = [];

before(async () => {
  const config = parseConfig({
    listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent', timers: { t1: 100 },
    nat: { keepalive: { interval: 0 }, udpMaxExpires: 60 },
  });
  relay = await FakeNgServer.start('192.0.2.10');
  const storage = await provisionMemoryStorage({ domains: [D], subscribers: [{ username: 'alice', domain: D, password: 'alice-pw' }] });
  const wheel = new TimerWheel();
  const transport = new TransportLayer({ maxMessageSize: config.maxMessageSize, logger: silentLogger });
  const t = await transport.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
  port = t.local.port;
  const identity = new LocalIdentity([t.local], config.domains);
  location = new LocationStore();
  const core = new ProxyCore({ config, transport, identity, resolver: new TargetResolver(), logger: silentLogger, stats: new ProxyStats(), wheel });
  const transactions = new TransactionLayer(transport, core, { timers: { T1: config.timers.t1, T2: config.timers.t2, T4: config.timers.t4, timerC: config.timers.timerC }, logger: silentLogger, wheel });
  const domains = await domain.init({ settings: { configured: config.domains, reloadIntervalMs: 0 }, domains: storage.domains, identity, logger: silentLogger });
  const natModule = nat.init({ settings: config.nat, location, transports: transport, logger: silentLogger });
  const media = rtpengine.init({ settings: { ...config.rtpengine, relays: [relay.url], pingInterval: 0, timeout: 200 }, logger: silentLogger });
  core.attach(
    transactions,
    createCh5Router({
      rr: rr.init({ identity }),
      registrar: registrar.init({ settings: { ...config.registrar, natUdpMaxExpires: config.nat.udpMaxExpires }, location }),
      acc: acc.init({ sink: null, logger: silentLogger }),
      auth: auth.init({ settings: { nonceSecret: 'nat-route-test-secret', nonceExpires: 300, algorithms: ['MD5'], allowNoQop: false }, subscribers: storage.subscribers, logger: silentLogger }),
      aliases: aliases.init({ settings: { appendBranches: false }, aliases: storage.aliases, logger: silentLogger }),
      domain: domains,
      usrloc: usrlocSync(null),
      nat: natModules(natModule.api, media),
    }),
  );
  transport.setSink(natModule.sinkFor(transactions));
  close = async () => {
    domains.stop();
    natModule.close();
    media.close();
    transactions.close();
    await transport.close();
    wheel.close();
  };
});

after(async () => {
  for (const p of peers) p.close();
  await close?.();
  relay.close();
});

async function phone(): Promise<UdpPeer> {
  const p = await UdpPeer.open();
  peers.push(p);
  return p;
}

let seq = 0;
function sdp(host: string, mediaPort: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${host}\r\ns=-\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${mediaPort} RTP/AVP 0\r\n`;
}

/** A request as the phone writes it; `sentBy` is what it believes its address is. */
function sipRequest(o: { method: string; ruri: string; from: string; to: string; toTag?: string; sentBy: string; callId: string; cseq?: number; contact?: string; headers?: string[]; body?: string; branch?: string }): string {
  seq++;
  const body = o.body ?? '';
  return [
    `${o.method} ${o.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${o.sentBy};branch=${o.branch ?? `z9hG4bK-nat-${seq}`}`,
    'Max-Forwards: 70',
    `From: <${o.from}>;tag=f-${o.callId}`,
    `To: <${o.to}>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${o.method}`,
    ...(o.contact ? [`Contact: <${o.contact}>`] : []),
    ...(o.headers ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\n');
}

function credentials(challenge: string, o: { username: string; password: string; method: string; uri: string }): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)![1]!;
  const realm = /realm="([^"]+)"/.exec(challenge)![1]!;
  const alg = algorithmByName('MD5')!;
  const response = computeResponse({ algorithm: alg, ha1: calculateHa1(o.username, realm, o.password, alg.hash), nonce, method: o.method, uri: o.uri, qop: 'auth', cnonce: 'c0ffee', ncText: '00000001' });
  return `Digest username="${o.username}", realm="${realm}", nonce="${nonce}", uri="${o.uri}", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c0ffee"`;
}

/** alice registers from "behind a NAT": private sent-by and Contact, no rport. */
async function registerNated(p: UdpPeer): Promise<SipResponse> {
  const base = { method: 'REGISTER', ruri: `sip:${D}`, from: `sip:alice@${D}`, to: `sip:alice@${D}`, sentBy: PRIVATE, callId: `reg-${p.port}`, contact: `sip:alice@${PRIVATE}`, headers: ['Expires: 600'] };
  p.send(sipRequest({ ...base, cseq: 1 }), port);
  const first = await p.nextResponse();
  assert.equal(first.status, 401, 'the challenge reaches the NATed phone (force_rport)');
  const authz = credentials(first.headers.get('www-authenticate')!, { username: 'alice', password: 'alice-pw', method: 'REGISTER', uri: `sip:${D}` });
  p.send(sipRequest({ ...base, cseq: 2, headers: [...base.headers, `Authorization: ${authz}`] }), port);
  return p.nextResponse();
}

describe('NAT traversal in the chapter-5 route', () => {
  let alice: UdpPeer;
  before(async () => {
    alice = await phone();
    const ok = await registerNated(alice);
    assert.equal(ok.status, 200);
    // keepalives off: the NATed UDP binding is capped so the phone refreshes in time
    assert.match(ok.headers.get('contact') ?? '', /;expires=60$/);
  });

  test('the binding keeps the Contact as sent and the source as received', () => {
    const [b] = location.lookup(`alice@${D}`);
    assert.equal(b!.contact, `sip:alice@${PRIVATE}`);
    assert.equal(b!.received, `sip:127.0.0.1:${alice.port};transport=udp`);
  });

  test('a call to the NATed phone reaches its NAT binding; media is anchored both ways, also on re-INVITE; BYE deletes the session', async () => {
    const carol = await phone();
    const callId = `call-in-${Math.random().toString(36).slice(2)}`;
    carol.send(sipRequest({ method: 'INVITE', ruri: `sip:alice@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, sentBy: carol.uri, callId, contact: `sip:carol@${carol.uri}`, body: sdp('127.0.0.1', 4000) }), port);
    const inv: SipRequest = await alice.nextRequest('INVITE');
    assert.equal(inv.uri.toString(), `sip:alice@${PRIVATE}`, 'R-URI is the contact as registered');
    assert.match(inv.body.toString(), /c=IN IP4 192\.0\.2\.10/, 'the offer names the relay');
    const offer = relay.commands.find((c) => c['command'] === 'offer' && c['call-id'] === callId)!;
    assert.deepEqual(offer['received-from'], ['IP4', '127.0.0.1']);

    const ok = createResponse(inv, 200, 'OK', { toTag: 'alice-tag' });
    ok.headers.set('Contact', `<sip:alice@${PRIVATE}>`);
    // RFC 3261 §12.1.1: the UAS copies Record-Route into its 2xx.
    for (const v of inv.headers.getAll('record-route')) ok.headers.append('Record-Route', v);
    ok.headers.set('Content-Type', 'application/sdp');
    ok.body = Buffer.from(sdp('10.0.0.5', 5000));
    alice.sendMessage(ok, port);
    const ok2 = await carol.nextResponse((r) => r.status === 200);
    assert.match(ok2.body.toString(), /c=IN IP4 192\.0\.2\.10/, 'the answer names the relay, not 10.0.0.5');
    assert.equal(ok2.headers.get('contact'), `<sip:alice@127.0.0.1:${alice.port}>`, 'fix_nated_contact on the reply');
    assert.ok(relay.commands.some((c) => c['command'] === 'answer' && c['call-id'] === callId && c['to-tag'] === 'alice-tag'));
    assert.ok(relay.calls.has(callId));

    const routes = ok2.headers.getAll('record-route');
    assert.ok(routes.length > 0);

    // re-INVITE (RFC 3261 §14): a new offer from the caller's side, answered by the NATed phone.
    carol.send(sipRequest({ method: 'INVITE', ruri: `sip:alice@127.0.0.1:${alice.port}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, toTag: 'alice-tag', sentBy: carol.uri, callId, cseq: 2, contact: `sip:carol@${carol.uri}`, headers: routes.map((r) => `Route: ${r}`), body: sdp('127.0.0.1', 4010) }), port);
    const reinv: SipRequest = await alice.nextRequest('INVITE');
    assert.match(reinv.body.toString(), /c=IN IP4 192\.0\.2\.10/);
    const reoffer = relay.commands.filter((c) => c['command'] === 'offer' && c['call-id'] === callId);
    assert.equal(reoffer.length, 2);
    assert.equal(reoffer[1]!['to-tag'], 'alice-tag');
    const reok = createResponse(reinv, 200, 'OK');
    reok.headers.set('Content-Type', 'application/sdp');
    reok.body = Buffer.from(sdp('10.0.0.5', 5010));
    alice.sendMessage(reok, port);
    const reok2 = await carol.nextResponse((r) => r.status === 200 && r.cseq.seq === 2);
    assert.match(reok2.body.toString(), /c=IN IP4 192\.0\.2\.10/);
    assert.equal(relay.commands.filter((c) => c['command'] === 'answer' && c['call-id'] === callId).length, 2);
    carol.send(sipRequest({ method: 'BYE', ruri: `sip:alice@127.0.0.1:${alice.port}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, toTag: 'alice-tag', sentBy: carol.uri, callId, cseq: 3, headers: routes.map((r) => `Route: ${r}`) }), port);
    const bye: SipRequest = await alice.nextRequest('BYE');
    alice.sendMessage(createResponse(bye, 200, 'OK'), port);
    assert.equal((await carol.nextResponse((r) => r.cseq.method === 'BYE')).status, 200);
    assert.equal(relay.calls.has(callId), false, 'no session left on the relay');
  });

  test('late offer: an INVITE without SDP is anchored on the 200 (offer) and the ACK (answer)', async () => {
    const carol = await phone();
    const callId = `call-late-${Math.random().toString(36).slice(2)}`;
    carol.send(sipRequest({ method: 'INVITE', ruri: `sip:alice@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, sentBy: carol.uri, callId, contact: `sip:carol@${carol.uri}` }), port);
    const inv: SipRequest = await alice.nextRequest('INVITE');
    assert.equal(inv.body.length, 0);
    const ok = createResponse(inv, 200, 'OK', { toTag: 'late-tag' });
    ok.headers.set('Contact', `<sip:alice@${PRIVATE}>`);
    for (const v of inv.headers.getAll('record-route')) ok.headers.append('Record-Route', v);
    ok.headers.set('Content-Type', 'application/sdp');
    ok.body = Buffer.from(sdp('10.0.0.5', 5020));
    alice.sendMessage(ok, port);
    const ok2 = await carol.nextResponse((r) => r.status === 200);
    assert.match(ok2.body.toString(), /c=IN IP4 192\.0\.2\.10/, 'the offer in the 200 names the relay');
    const offer = relay.commands.find((c) => c['command'] === 'offer' && c['call-id'] === callId)!;
    assert.equal(offer['from-tag'], 'late-tag', 'the callee is the offerer');
    const routes = ok2.headers.getAll('record-route');
    carol.send(sipRequest({ method: 'ACK', ruri: `sip:alice@127.0.0.1:${alice.port}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, toTag: 'late-tag', sentBy: carol.uri, callId, headers: routes.map((r) => `Route: ${r}`), body: sdp('127.0.0.1', 4020) }), port);
    const ack: SipRequest = await alice.nextRequest('ACK');
    assert.match(ack.body.toString(), /c=IN IP4 192\.0\.2\.10/, 'the answer in the ACK names the relay');
    const answer = relay.commands.find((c) => c['command'] === 'answer' && c['call-id'] === callId)!;
    assert.equal(answer['from-tag'], 'late-tag');
    carol.send(sipRequest({ method: 'BYE', ruri: `sip:alice@127.0.0.1:${alice.port}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, toTag: 'late-tag', sentBy: carol.uri, callId, cseq: 2, headers: routes.map((r) => `Route: ${r}`) }), port);
    const bye: SipRequest = await alice.nextRequest('BYE');
    alice.sendMessage(createResponse(bye, 200, 'OK'), port);
    await carol.nextResponse((r) => r.cseq.method === 'BYE');
    assert.equal(relay.calls.has(callId), false);
  });

  test('a CANCELled call leaves no session on the relay', async () => {
    const carol = await phone();
    const callId = `call-cancel-${Math.random().toString(36).slice(2)}`;
    const branch = `z9hG4bK-cancel-${callId}`;
    const invite = { method: 'INVITE', ruri: `sip:alice@${D}`, from: 'sip:carol@elsewhere.example.net', to: `sip:alice@${D}`, sentBy: carol.uri, callId, contact: `sip:carol@${carol.uri}`, branch };
    carol.send(sipRequest({ ...invite, body: sdp('127.0.0.1', 4002) }), port);
    const inv: SipRequest = await alice.nextRequest('INVITE');
    alice.sendMessage(createResponse(inv, 180, 'Ringing', { toTag: 'a2' }), port);
    await carol.nextResponse((r) => r.status === 180);
    assert.ok(relay.calls.has(callId));
    carol.send(sipRequest({ ...invite, method: 'CANCEL' }), port);
    const cancel: SipRequest = await alice.nextRequest('CANCEL');
    alice.sendMessage(createResponse(cancel, 200, 'OK'), port);
    alice.sendMessage(createResponse(inv, 487, 'Request Terminated', { toTag: 'a2' }), port);
    assert.equal((await carol.nextResponse((r) => r.status === 487)).status, 487);
    for (let i = 0; i < 100 && relay.calls.has(callId); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(relay.calls.has(callId), false);
  });

  test('a call between phones that are not NATed is not anchored (engage: nat)', async () => {
    const carol = await phone();
    const dave = await phone();
    const callId = `call-plain-${Math.random().toString(36).slice(2)}`;
    carol.send(sipRequest({ method: 'INVITE', ruri: `sip:dave@${dave.uri}`, from: 'sip:carol@elsewhere.example.net', to: `sip:dave@${dave.uri}`, sentBy: carol.uri, callId, contact: `sip:carol@${carol.uri}`, body: sdp('127.0.0.1', 4004) }), port);
    // foreign caller to a foreign domain: refused, and no relay session was made for it
    const r = await carol.nextResponse((x) => x.status >= 200);
    assert.equal(r.status, 403);
    assert.equal(relay.commands.some((c) => c['call-id'] === callId), false);
  });
});
