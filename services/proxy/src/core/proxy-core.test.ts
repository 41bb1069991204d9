/**
 * The proxy core over real UDP sockets on loopback, in-process: RFC 3261 §16.3 validation,
 * forking and response selection (§16.7), CANCEL (§16.10), loop detection, stray 2xx.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createResponse, type SipRequest } from '@voip/sip';
import { parseConfig } from '../config.js';
import { startProxy, type RunningProxy } from '../server.js';
import { request, UdpPeer } from '../test-support/udp-peer.js';
import { silentLogger } from '@voip/sip';

let proxy: RunningProxy;
let port: number;
const peers: UdpPeer[] = [];

async function peer(): Promise<UdpPeer> {
  const p = await UdpPeer.open();
  peers.push(p);
  return p;
}

function bind(aor: string, contact: string): void {
  const now = Date.now();
  proxy.location.upsert({
    ruid: `${aor}-${contact}`, aor, contact, received: null, path: null, expires: now + 60_000, q: -1,
    callId: 'x', cseq: 1, lastModified: now, flags: 0, cflags: 0, userAgent: '', socket: null, methods: null,
    instance: null, regId: 0,
  });
}

/** A UAS answer to a forwarded request: the response goes back to the proxy per the top Via. */
function answer(uas: UdpPeer, req: SipRequest, status: number, toTag = `uas${status}`): void {
  const res = createResponse(req, status, undefined, { toTag });
  uas.sendMessage(res, port);
}

before(async () => {
  const config = parseConfig({ listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent', timers: { t1: 100 } });
  proxy = await startProxy(config, silentLogger);
  port = proxy.transports[0]!.local.port;
});

after(async () => {
  for (const p of peers) p.close();
  await proxy.close();
});

describe('§16.3 request validation', () => {
  test('Max-Forwards: 0 is answered 483', async () => {
    const uac = await peer();
    uac.send(request({ method: 'MESSAGE', ruri: `sip:bob@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 0'] }), port);
    const r = await uac.nextResponse();
    assert.equal(r.status, 483);
  });

  test('an unknown Request-URI scheme is answered 416', async () => {
    const uac = await peer();
    uac.send(request({ method: 'OPTIONS', ruri: 'nobodyknowsthisscheme:totallyopaquecontent', toUri: `sip:x@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    assert.equal((await uac.nextResponse()).status, 416);
  });

  test('an unknown Proxy-Require is answered 420 listing it in Unsupported', async () => {
    const uac = await peer();
    uac.send(request({ method: 'MESSAGE', ruri: `sip:bob@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70', 'Proxy-Require: noextension, foo'] }), port);
    const r = await uac.nextResponse();
    assert.equal(r.status, 420);
    assert.equal(r.headers.get('unsupported'), 'noextension, foo');
  });

  test('a request looping back through us is answered 482, a spiral is not', async () => {
    const uac = await peer();
    // The AOR's contact is the AOR itself at our address: lookup forwards the request to us again.
    bind('loop@127.0.0.1', `sip:loop@127.0.0.1:${port}`);
    uac.send(request({ method: 'MESSAGE', ruri: `sip:loop@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    const r = await uac.nextResponse((res) => res.status >= 200);
    assert.equal(r.status, 482);
  });
});

describe('§16.6/§16.7 forwarding and response selection', () => {
  test('a MESSAGE to an unknown user is answered 404', async () => {
    const uac = await peer();
    uac.send(request({ method: 'MESSAGE', ruri: `sip:nobody@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    assert.equal((await uac.nextResponse()).status, 404);
  });

  test('forwarded copy: Max-Forwards decremented, our Via on top, Record-Route with lr, R-URI = contact', async () => {
    const uac = await peer();
    const uas = await peer();
    bind('carol@127.0.0.1', `sip:carol@${uas.uri}`);
    uac.send(request({ method: 'MESSAGE', ruri: `sip:carol@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70', 'X-Opaque:   kept   exactly'], body: 'hi' }), port);
    const fwd = await uas.nextRequest('MESSAGE');
    assert.equal(fwd.uri.toString(), `sip:carol@${uas.uri}`);
    assert.equal(fwd.maxForwards, 69);
    assert.equal(fwd.vias.length, 2);
    assert.equal(fwd.vias[0]!.port, port);
    assert.match(fwd.vias[0]!.branch!, /^z9hG4bK/);
    assert.equal(fwd.headers.get('record-route'), `<sip:127.0.0.1:${port};lr>`);
    assert.equal(fwd.body.toString(), 'hi');
    assert.match(fwd.toBuffer().toString('latin1'), /\r\nX-Opaque: {3}kept {3}exactly\r\n/);
    answer(uas, fwd, 200);
    const r = await uac.nextResponse();
    assert.equal(r.status, 200);
    assert.equal(r.vias.length, 1, 'our Via removed from the response (§16.7 step 3)');
  });

  test('parallel forking: 486 from one contact and 200 from the other gives the caller 200, and the 486 branch is ACKed', async () => {
    const uac = await peer();
    const busy = await peer();
    const free = await peer();
    bind('dave@127.0.0.1', `sip:dave@${busy.uri}`);
    bind('dave@127.0.0.1', `sip:dave@${free.uri}`);
    uac.send(request({ method: 'INVITE', ruri: `sip:dave@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    const [a, b] = await Promise.all([busy.nextRequest('INVITE'), free.nextRequest('INVITE')]);
    assert.notEqual(a.vias[0]!.branch, b.vias[0]!.branch, 'each branch has its own branch id');
    answer(busy, a, 486);
    const ack = await busy.nextRequest('ACK');
    assert.equal(ack.vias[0]!.branch, a.vias[0]!.branch, 'hop-by-hop ACK for the non-2xx');
    answer(free, b, 200);
    const r = await uac.nextResponse((res) => res.status >= 200);
    assert.equal(r.status, 200);
  });

  test('all branches fail: the best response wins (4xx over 5xx, 6xx over everything)', async () => {
    const uac = await peer();
    const x = await peer();
    const y = await peer();
    bind('erin@127.0.0.1', `sip:erin@${x.uri}`);
    bind('erin@127.0.0.1', `sip:erin@${y.uri}`);
    uac.send(request({ method: 'INVITE', ruri: `sip:erin@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    const [a, b] = await Promise.all([x.nextRequest('INVITE'), y.nextRequest('INVITE')]);
    answer(x, a, 500);
    answer(y, b, 404);
    assert.equal((await uac.nextResponse((res) => res.status >= 200)).status, 404);

    bind('frank@127.0.0.1', `sip:frank@${x.uri}`);
    bind('frank@127.0.0.1', `sip:frank@${y.uri}`);
    uac.send(request({ method: 'INVITE', ruri: `sip:frank@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    const [c, d] = await Promise.all([x.nextRequest('INVITE'), y.nextRequest('INVITE')]);
    answer(x, c, 180);
    answer(y, d, 603);
    // §16.7 step 5: after a 6xx the pending branch is cancelled; it answers 487; 603 wins.
    const cancel = await x.nextRequest('CANCEL');
    answer(x, cancel, 200);
    answer(x, c, 487);
    assert.equal((await uac.nextResponse((res) => res.status >= 200)).status, 603);
  });

  test('a 503 selected as best response reaches the caller as 500 (§16.7 step 6)', async () => {
    const uac = await peer();
    const uas = await peer();
    bind('gina@127.0.0.1', `sip:gina@${uas.uri}`);
    uac.send(request({ method: 'MESSAGE', ruri: `sip:gina@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    answer(uas, await uas.nextRequest('MESSAGE'), 503);
    assert.equal((await uac.nextResponse()).status, 500);
  });
});

describe('§16.10 CANCEL', () => {
  test('CANCEL after a 180: 200 to the CANCEL, CANCEL downstream, 487 relayed to the caller', async () => {
    const uac = await peer();
    const uas = await peer();
    bind('hank@127.0.0.1', `sip:hank@${uas.uri}`);
    const branch = 'z9hG4bK-cancel-test-1';
    const callId = 'cancel-call-1';
    const inviteText = request({ method: 'INVITE', ruri: `sip:hank@127.0.0.1:${port}`, from: uac, branch, callId, headers: ['Max-Forwards: 70'] });
    uac.send(inviteText, port);
    const inv = await uas.nextRequest('INVITE');
    answer(uas, inv, 180);
    assert.equal((await uac.nextResponse((r) => r.status === 180)).status, 180);
    // RFC 3261 §9.1: CANCEL has the INVITE's branch, Call-ID, tags and CSeq number.
    const cancelText = inviteText.replace(/^INVITE /, 'CANCEL ').replace('CSeq: 1 INVITE', 'CSeq: 1 CANCEL').replace(/Content-Length: \d+/, 'Content-Length: 0');
    uac.send(cancelText, port);
    const ok = await uac.nextResponse((r) => r.cseq.method === 'CANCEL');
    assert.equal(ok.status, 200);
    const downstreamCancel = await uas.nextRequest('CANCEL');
    assert.equal(downstreamCancel.vias[0]!.branch, inv.vias[0]!.branch, 'CANCEL matches the forwarded INVITE (§9.1)');
    answer(uas, downstreamCancel, 200);
    answer(uas, inv, 487);
    const final = await uac.nextResponse((r) => r.cseq.method === 'INVITE' && r.status >= 200);
    assert.equal(final.status, 487);
  });
});

describe('stateless paths', () => {
  test('ACK for a 2xx follows the Route set statelessly (loose routing)', async () => {
    const uac = await peer();
    const uas = await peer();
    const ack = request({
      method: 'ACK', ruri: `sip:callee@${uas.uri}`, from: uac, headers: ['Max-Forwards: 70', `Route: <sip:127.0.0.1:${port};lr>`],
    }).replace('CSeq: 1 ACK', 'CSeq: 1 ACK');
    uac.send(ack, port);
    const fwd = await uas.nextRequest('ACK');
    assert.equal(fwd.headers.get('route'), undefined, 'our Route entry consumed (§16.4)');
    assert.equal(fwd.vias.length, 2);
  });

  test('a 2xx retransmission arriving after the transaction is forwarded upstream', async () => {
    const uac = await peer();
    const uas = await peer();
    bind('ivan@127.0.0.1', `sip:ivan@${uas.uri}`);
    uac.send(request({ method: 'INVITE', ruri: `sip:ivan@127.0.0.1:${port}`, from: uac, headers: ['Max-Forwards: 70'] }), port);
    const inv = await uas.nextRequest('INVITE');
    answer(uas, inv, 200, 'tag-ivan');
    assert.equal((await uac.nextResponse((r) => r.status === 200)).status, 200);
    answer(uas, inv, 200, 'tag-ivan');
    const again = await uac.nextResponse((r) => r.status === 200);
    assert.equal(again.to.tag, 'tag-ivan');
  });
});
