/**
 * rtp-relay driven over ng with real RTP through it: offer/answer anchoring, both
 * directions forwarded and counted per leg, re-INVITE re-targeting without dropping the
 * call, delete and idle-timeout release, session/port caps, IPv6 and IPv4<->IPv6 bridging,
 * ICE-lite answers, metrics, and the same requests against Debian's rtpengine to compare replies.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import { NgClient } from '@voip/rtpproxy';
import { allocatePort, ManagedProcess, WorkDir } from '../harness/index.js';
import { anchorOf, mediaPortRange, rtpStreamOf, RtpEndpoint, sdpBody, sleep, startRelay, waitFor, type RunningRelay } from './support.js';

const work = new WorkDir('rtpproxy-relay');
let relay: RunningRelay;
const endpoints: RtpEndpoint[] = [];

async function endpoint(ip = '127.0.0.1'): Promise<RtpEndpoint> {
  const e = await RtpEndpoint.bind(ip);
  endpoints.push(e);
  return e;
}

async function call(ng: NgClient, callId: string, a: RtpEndpoint, b: RtpEndpoint, extra: Record<string, unknown> = {}) {
  const offer = await ng.ok('offer', {
    'call-id': callId, 'from-tag': 'tagA', sdp: sdpBody(a.socket.address().address, a.port),
    replace: ['origin', 'session-connection'], flags: ['trust-address'], ...extra,
  } as never);
  const answer = await ng.ok('answer', {
    'call-id': callId, 'from-tag': 'tagA', 'to-tag': 'tagB', sdp: sdpBody(b.socket.address().address, b.port),
    replace: ['origin', 'session-connection'], flags: ['trust-address'],
  });
  // B reads the offer (relay port facing B); A reads the answer (relay port facing A).
  return { toB: anchorOf(String(offer['sdp'])), toA: anchorOf(String(answer['sdp'])) };
}

after(() => {
  for (const e of endpoints) e.close();
  work.cleanup();
});

describe('rtp-relay over ng with real RTP', () => {
  before(async () => {
    relay = await startRelay(work, 'rtp-relay', { mediaIp: ['127.0.0.1', '::1'], ports: mediaPortRange(), timeout: 3 });
  });
  after(async () => {
    await relay?.stop();
  });

  it('answers ping', async () => {
    assert.equal((await relay.ng.request('ping'))['result'], 'pong');
  });

  it('forwards RTP both ways between the anchored ports and counts each leg', async () => {
    const a = await endpoint();
    const b = await endpoint();
    const { toA, toB } = await call(relay.ng, 'fwd-1', a, b);
    assert.equal(toA.address, '127.0.0.1');
    assert.notEqual(toA.port, a.port);
    assert.notEqual(toB.port, b.port);
    assert.equal(toA.rtcpPort, toA.port + 1);
    await Promise.all([a.stream(toA.address, toA.port, 25), b.stream(toB.address, toB.port, 25)]);
    await waitFor('all packets', 2000, () => (a.received === 25 && b.received === 25 ? true : null));
    // Each side sees the relay, never the other party, as the source (media anchored).
    assert.deepEqual([...a.sources], [`127.0.0.1:${toA.port}`]);
    assert.deepEqual([...b.sources], [`127.0.0.1:${toB.port}`]);
    const q = await relay.ng.ok('query', { 'call-id': 'fwd-1' });
    const legA = rtpStreamOf(q, 'tagA');
    const legB = rtpStreamOf(q, 'tagB');
    assert.equal(legA['local port'], toA.port);
    assert.equal(legA.stats.packets, 25);
    assert.equal(legA.stats.bytes, 25 * 172);
    assert.equal(legB.stats.packets, 25);
    assert.deepEqual({ ...legA.endpoint }, { family: 'IPv4', address: '127.0.0.1', port: a.port });
    const list = await relay.ng.ok('list');
    assert.ok((list['calls'] as string[]).includes('fwd-1'));
    await relay.ng.ok('delete', { 'call-id': 'fwd-1', 'from-tag': 'tagA' });
  });

  it('re-INVITE from the callee moves media to a new endpoint without new relay ports', async () => {
    const a = await endpoint();
    const b = await endpoint();
    const b2 = await endpoint();
    const { toA, toB } = await call(relay.ng, 'reinv-1', a, b);
    await Promise.all([a.stream(toA.address, toA.port, 10), b.stream(toB.address, toB.port, 10)]);
    await waitFor('first leg media', 2000, () => (b.received === 10 && a.received === 10 ? true : null));
    // Callee re-INVITE: From = B, To = A. Its offer is read by A, its answer by B.
    const reoffer = await relay.ng.ok('offer', { 'call-id': 'reinv-1', 'from-tag': 'tagB', 'to-tag': 'tagA', sdp: sdpBody('127.0.0.1', b2.port) });
    const reanswer = await relay.ng.ok('answer', { 'call-id': 'reinv-1', 'from-tag': 'tagB', 'to-tag': 'tagA', sdp: sdpBody('127.0.0.1', a.port) });
    assert.equal(anchorOf(String(reoffer['sdp'])).port, toA.port, 'A keeps its relay port');
    assert.equal(anchorOf(String(reanswer['sdp'])).port, toB.port, 'B side keeps its relay port');
    await Promise.all([a.stream(toA.address, toA.port, 10), b2.stream(toB.address, toB.port, 10)]);
    await waitFor('media re-targeted', 2000, () => (b2.received === 10 && a.received === 20 ? true : null));
    assert.equal(b.received, 10, 'the old endpoint gets nothing after the re-INVITE');
    await relay.ng.ok('delete', { 'call-id': 'reinv-1' });
  });

  it('delete releases the ports: nothing is forwarded afterwards', async () => {
    const a = await endpoint();
    const b = await endpoint();
    const { toA } = await call(relay.ng, 'del-1', a, b);
    const r = await relay.ng.ok('delete', { 'call-id': 'del-1', 'from-tag': 'tagA' });
    assert.ok('totals' in r);
    await a.stream(toA.address, toA.port, 5);
    await sleep(200);
    assert.equal(b.received, 0);
    const q = await relay.ng.request('query', { 'call-id': 'del-1' });
    assert.equal(q['result'], 'error');
    assert.equal(q['error-reason'], 'Unknown call-id');
  });

  it('tears down a call idle past --timeout, but not one with media flowing', async () => {
    const a = await endpoint();
    const b = await endpoint();
    await call(relay.ng, 'idle-1', a, b);
    const busy = await call(relay.ng, 'busy-1', await endpoint(), await endpoint());
    const sender = await endpoint();
    const streaming = sender.stream(busy.toA.address, busy.toA.port, 225); // 4.5 s of media
    const gone = await waitFor('idle call removed', 8000, async () => {
      const l = (await relay.ng.ok('list'))['calls'] as string[];
      return l.includes('idle-1') ? null : l;
    });
    assert.ok(gone.includes('busy-1'), 'the call with media stays');
    await streaming;
    await relay.ng.ok('delete', { 'call-id': 'busy-1' });
  });

  it('relays IPv6 and bridges an IPv4 caller to an IPv6 callee', async () => {
    const a = await endpoint('127.0.0.1');
    const b = await endpoint('::1');
    const { toA, toB } = await call(relay.ng, 'v6-1', a, b, { 'address family': 'IP6' });
    assert.equal(toB.address, '::1');
    assert.equal(toA.address, '127.0.0.1');
    await Promise.all([a.stream(toA.address, toA.port, 10), b.stream(toB.address, toB.port, 10)]);
    await waitFor('bridged media', 2000, () => (a.received === 10 && b.received === 10 ? true : null));
    await relay.ng.ok('delete', { 'call-id': 'v6-1' });
  });

  it('with ICE=force the relay is the only candidate and answers STUN checks on it', async () => {
    const a = await endpoint();
    const offer = await relay.ng.ok('offer', {
      'call-id': 'ice-1', 'from-tag': 'tagA', ICE: 'force',
      sdp: sdpBody('127.0.0.1', a.port, { extra: 'a=ice-ufrag:peer\r\na=ice-pwd:peerpasswordpeerpassword\r\na=candidate:1 1 UDP 2130706431 127.0.0.1 9 typ host' }),
    });
    const sdp = String(offer['sdp']);
    assert.ok(!sdp.includes(' 9 typ host'), 'peer candidates removed');
    const ufrag = /a=ice-ufrag:(\S+)/.exec(sdp)?.[1] ?? '';
    const pwd = /a=ice-pwd:(\S+)/.exec(sdp)?.[1] ?? '';
    const anchor = anchorOf(sdp);
    const b = await endpoint();
    const reply = new Promise<Buffer>((resolve) => b.socket.once('message', (m) => resolve(m)));
    b.socket.send(stunBindingRequest(`${ufrag}:peer`, pwd), anchor.port, anchor.address);
    const res = await Promise.race([reply, sleep(2000).then(() => null)]);
    assert.ok(res !== null, 'no STUN response');
    assert.equal(res.readUInt16BE(0), 0x0101, 'Binding success response');
    await relay.ng.ok('delete', { 'call-id': 'ice-1' });
  });

  it('exposes health and Prometheus metrics', async () => {
    const h = (await (await fetch(`http://127.0.0.1:${relay.httpPort}/health`)).json()) as { status: string };
    assert.equal(h.status, 'ok');
    const m = await (await fetch(`http://127.0.0.1:${relay.httpPort}/metrics`)).text();
    const rtp = /rtp_relay_packets_total\{kind="rtp",what="packets"\} (\d+)/.exec(m);
    assert.ok(rtp !== null && Number(rtp[1]) >= 100, m.slice(0, 500));
    assert.match(m, /rtp_relay_ng_commands_total\{command="offer",result="ok"\} \d+/);
  });
});

describe('rtp-relay caps', () => {
  let small: RunningRelay;
  before(async () => {
    // 4 port pairs, one worker, two calls at most.
    const [lo] = mediaPortRange(8);
    small = await startRelay(work, 'rtp-relay-small', { mediaIp: ['127.0.0.1'], ports: [lo, lo + 7], workers: 1, maxSessions: 2 });
  });
  after(async () => {
    await small?.stop();
  });

  it('refuses calls past --max-sessions and offers past the port range, with clear errors', async () => {
    const o = (id: string, extra = '') => small.ng.request('offer', { 'call-id': id, 'from-tag': 'a', sdp: sdpBody('127.0.0.1', 4000, { extra }) });
    assert.equal((await o('cap-1'))['result'], 'ok');
    assert.equal((await o('cap-2'))['result'], 'ok');
    const third = await o('cap-3');
    assert.equal(third['result'], 'error');
    assert.match(String(third['error-reason']), /Parallel session limit reached/);
    await small.ng.ok('delete', { 'call-id': 'cap-2' });
    // two media sections need four pairs; only two are free
    const big = await o('cap-4', 'm=audio 4002 RTP/AVP 0');
    assert.equal(big['result'], 'error');
    assert.match(String(big['error-reason']), /Ran out of ports/);
    // the failed offer leaked nothing: a plain call still fits
    assert.equal((await o('cap-5'))['result'], 'ok');
  });
});

describe('ng replies compared with Debian rtpengine', () => {
  let engine: ManagedProcess;
  let engineNg: NgClient;
  let ours: RunningRelay;

  before(async () => {
    const ngPort = await allocatePort();
    const [lo, hi] = mediaPortRange();
    engine = await ManagedProcess.launch({
      name: 'rtpengine',
      command: 'rtpengine',
      args: ['--table=-1', '--foreground', '--log-stderr', '--interface=127.0.0.1', `--listen-ng=127.0.0.1:${ngPort}`, `--port-min=${lo}`, `--port-max=${hi}`, '--delete-delay=0'],
      logFile: work.file('rtpengine.log'),
    });
    engineNg = new NgClient('127.0.0.1', ngPort, { timeoutMs: 500, tries: 10 });
    await engineNg.ok('ping').catch(async () => engineNg.ok('ping'));
    ours = await startRelay(work, 'rtp-relay-cmp', { mediaIp: ['127.0.0.1'], ports: mediaPortRange() });
  });
  after(async () => {
    engineNg?.close();
    await engine?.stop();
    await ours?.stop();
  });

  it('gives the same rewritten SDP (ports aside), reply keys and error reasons', async () => {
    const run = async (ng: NgClient) => {
      const a = await endpoint();
      const b = await endpoint();
      const params = { replace: ['origin', 'session-connection'], flags: ['trust-address'], ICE: 'remove', 'transport-protocol': 'RTP/AVP' };
      const offer = await ng.ok('offer', { 'call-id': 'cmp-1', 'from-tag': 'ft', 'via-branch': 'z9hG4bK1', sdp: sdpBody('127.0.0.1', a.port), ...params } as never);
      const answer = await ng.ok('answer', { 'call-id': 'cmp-1', 'from-tag': 'ft', 'to-tag': 'tt', sdp: sdpBody('127.0.0.1', b.port), ...params } as never);
      const toA = anchorOf(String(answer['sdp']));
      const toB = anchorOf(String(offer['sdp']));
      await Promise.all([a.stream(toA.address, toA.port, 10), b.stream(toB.address, toB.port, 10)]);
      await waitFor('media', 2000, () => (a.received === 10 && b.received === 10 ? true : null));
      const query = await ng.ok('query', { 'call-id': 'cmp-1' });
      const del = await ng.ok('delete', { 'call-id': 'cmp-1', 'from-tag': 'ft' });
      const unknown = await ng.request('query', { 'call-id': 'no-such-call' });
      const ports = (s: string) => s.replace(/m=audio \d+/g, 'm=audio P').replace(/a=rtcp:\d+/g, 'a=rtcp:P');
      return { offer: ports(String(offer['sdp'])), answer: ports(String(answer['sdp'])), query, del, unknown, legA: rtpStreamOf(query, 'ft') };
    };
    const theirs = await run(engineNg);
    const mine = await run(ours.ng);
    assert.equal(mine.offer, theirs.offer);
    assert.equal(mine.answer, theirs.answer);
    for (const k of ['created', 'last signal', 'tags', 'totals']) {
      assert.ok(k in theirs.query && k in mine.query, `query key ${k}`);
    }
    for (const k of ['local port', 'endpoint', 'advertised endpoint', 'last packet', 'flags', 'stats']) {
      assert.ok(k in theirs.legA && k in mine.legA, `stream key ${k}`);
    }
    assert.equal(mine.legA.stats.packets, theirs.legA.stats.packets);
    assert.equal(mine.legA.stats.bytes, theirs.legA.stats.bytes);
    assert.equal(mine.del['result'], 'ok');
    assert.equal(mine.unknown['error-reason'], theirs.unknown['error-reason']);
  });
});

/** RFC 5389 Binding request with USERNAME, MESSAGE-INTEGRITY and FINGERPRINT, as an ICE agent sends. */
function stunBindingRequest(username: string, pwd: string): Buffer {
  const u = Buffer.from(username);
  const upad = Buffer.alloc((4 - (u.length % 4)) % 4);
  const uattr = Buffer.alloc(4);
  uattr.writeUInt16BE(0x0006, 0);
  uattr.writeUInt16BE(u.length, 2);
  const head = Buffer.alloc(20);
  head.writeUInt16BE(0x0001, 0);
  head.writeUInt32BE(0x2112a442, 4);
  Buffer.from('abcdefghijkl').copy(head, 8);
  let body = Buffer.concat([uattr, u, upad]);
  head.writeUInt16BE(body.length + 24, 2);
  const mi = createHmac('sha1', pwd).update(Buffer.concat([head, body])).digest();
  const miHead = Buffer.from([0x00, 0x08, 0x00, 0x14]);
  body = Buffer.concat([body, miHead, mi]);
  head.writeUInt16BE(body.length + 8, 2);
  const fp = Buffer.alloc(8);
  fp.writeUInt16BE(0x8028, 0);
  fp.writeUInt16BE(4, 2);
  fp.writeUInt32BE((crc32(Buffer.concat([head, body])) ^ 0x5354554e) >>> 0, 4);
  return Buffer.concat([head, body, fp]);
}
