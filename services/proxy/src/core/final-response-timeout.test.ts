/**
 * Kamailio's t_set_fr (fr_inv_timer) in the proxy core, over real UDP on loopback: a route arms
 * a per-relay final-response timeout; when it fires, branches with a provisional are CANCELled
 * (RFC 3261 §9.1), branches without one are CANCELled as soon as one arrives, and every open
 * branch counts as a local 408 so the failure route runs (§16.7 step 2, §16.8).
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createResponse, SipUri, silentLogger, TimerWheel, TransactionLayer, TransportLayer, type SipRequest } from '@voip/sip';
import { parseConfig } from '../config.js';
import { UdpPeer, request } from '../test-support/udp-peer.js';
import { LocalIdentity } from './local-identity.js';
import { ProxyCore, type ProxyRouter } from './proxy-core.js';
import { ProxyStats } from './proxy-stats.js';
import type { FailureContext, RequestContext } from './route-context.js';
import { TargetResolver } from './target-resolver.js';

let port: number;
let uas: UdpPeer;
let close: () => Promise<void>;
const peers: UdpPeer[] = [];
/** Statuses the failure route saw, in order. */
let failures: number[] = [];

/** Relays every request to the UAS with a 500 ms final-response timeout and a failure route. */
class TimeoutRouter implements ProxyRouter {
  requestRoute(ctx: RequestContext): void {
    ctx.request.uri = new SipUri({ user: 'uas', host: '127.0.0.1', port: uas.port });
    ctx.setFinalResponseTimeout(500);
    ctx.setFailureRoute(onFailure);
    ctx.relay();
  }
}

function onFailure(ctx: FailureContext): void {
  failures.push(ctx.status);
  ctx.reply(480, 'No Answer Within Timeout');
}

before(async () => {
  const config = parseConfig({ listen: ['udp:127.0.0.1:0'], admin: { listen: '' }, logLevel: 'silent', timers: { t1: 100 } });
  const wheel = new TimerWheel();
  const transport = new TransportLayer({ maxMessageSize: config.maxMessageSize, logger: silentLogger });
  const t = await transport.listen({ protocol: 'UDP', address: '127.0.0.1', port: 0 });
  port = t.local.port;
  const identity = new LocalIdentity([t.local], config.domains);
  const core = new ProxyCore({ config, transport, identity, resolver: new TargetResolver(), logger: silentLogger, stats: new ProxyStats(), wheel });
  const transactions = new TransactionLayer(transport, core, { timers: { T1: config.timers.t1, T2: config.timers.t2, T4: config.timers.t4, timerC: config.timers.timerC }, logger: silentLogger, wheel });
  core.attach(transactions, new TimeoutRouter());
  transport.setSink(transactions);
  close = async () => {
    transactions.close();
    await transport.close();
    wheel.close();
  };
});

after(async () => {
  for (const p of peers) p.close();
  await close?.();
});

beforeEach(async () => {
  failures = [];
  uas = await UdpPeer.open();
  peers.push(uas);
});

async function caller(): Promise<UdpPeer> {
  const p = await UdpPeer.open();
  peers.push(p);
  p.send(request({ method: 'INVITE', ruri: `sip:callee@127.0.0.1:${port}`, from: p, headers: ['Max-Forwards: 70'] }), port);
  return p;
}

function answer(req: SipRequest, status: number): void {
  uas.sendMessage(createResponse(req, status, undefined, { toTag: 'uas' }), port);
}

describe('per-relay final-response timeout (t_set_fr)', () => {
  test('a ringing branch is CANCELled when it fires and the failure route sees a 408', async () => {
    const uac = await caller();
    const inv = await uas.nextRequest('INVITE');
    answer(inv, 180);
    const cancel = await uas.nextRequest('CANCEL');
    answer(cancel, 200);
    const final = await uac.nextResponse((r) => r.status >= 200);
    assert.equal(final.status, 480);
    assert.equal(final.reason, 'No Answer Within Timeout');
    assert.deepEqual(failures, [408]);
    answer(inv, 487);
  });

  test('a silent branch counts as 408 at once and is CANCELled only when a provisional arrives', async () => {
    const uac = await caller();
    const inv = await uas.nextRequest('INVITE');
    const final = await uac.nextResponse((r) => r.status >= 200);
    assert.equal(final.status, 480);
    assert.deepEqual(failures, [408]);
    assert.equal(uas.inbox.filter((m) => 'method' in m && m.method === 'CANCEL').length, 0);
    // RFC 3261 §9.1: the CANCEL may only follow a provisional.
    answer(inv, 180);
    const cancel = await uas.nextRequest('CANCEL');
    answer(cancel, 200);
    answer(inv, 487);
  });

  test('a 200 before the timeout goes to the caller; the timer never fires', async () => {
    const uac = await caller();
    const inv = await uas.nextRequest('INVITE');
    answer(inv, 180);
    answer(inv, 200);
    const final = await uac.nextResponse((r) => r.status >= 200);
    assert.equal(final.status, 200);
    // A second, silent call armed later with the same timeout: once it has timed out, the first
    // call's timer would have fired too — yet only the second reached the failure route.
    const uac2 = await caller();
    const inv2 = await uas.nextRequest('INVITE');
    assert.equal((await uac2.nextResponse((r) => r.status >= 200)).status, 480);
    assert.deepEqual(failures, [408]);
    assert.equal(uas.inbox.filter((m) => 'method' in m && m.method === 'CANCEL').length, 0);
    answer(inv2, 180);
    answer(await uas.nextRequest('CANCEL'), 200);
    answer(inv2, 487);
  });
});
