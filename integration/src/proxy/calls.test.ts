/**
 * Calls through the proxy (chapter 4 routing: record_route, lookup("location"), t_relay,
 * loose_route for in-dialog requests), SIPp caller and callee, each registered first.
 * Asserts on what each side really sent and received: the Via and Record-Route the callee
 * got, the Route set of the caller's ACK and BYE, hop-by-hop ACKs and CANCELs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  allocatePort, assertSippOk, createBackend, explain, one, receivedBy, sentBy, uriHostPort, uriOf,
  type Backend, type RunningProxy, type SippResult, type SipTransport,
} from '../harness/index.js';
import {
  assertLooseRoute, failureTracker, namesProxy, phoneContact, proxyRecordRoutes, register, viaSentBy,
} from './support.js';

interface CallSetup {
  uas: { name: string; scenario: string; extraArgs?: string[] };
  uac: { name: string; scenario: string; extraArgs?: string[] };
  caller: string;
  callee: string;
  transport: SipTransport;
  /** Register the callee (false: test an unknown user). */
  registerCallee?: boolean;
}

async function runCall(lab: Backend, proxy: RunningProxy, s: CallSetup): Promise<{ uac: SippResult; uas: SippResult | null }> {
  const [uasPort, uacPort] = [await allocatePort(lab.host), await allocatePort(lab.host)];
  if (s.registerCallee !== false) {
    await register(lab, proxy, { user: s.callee, contact: phoneContact(s.callee, lab.host, uasPort, s.transport), transport: s.transport, expires: 600 });
  }
  await register(lab, proxy, { user: s.caller, contact: phoneContact(s.caller, lab.host, uacPort, s.transport), transport: s.transport, expires: 600 });
  const uas = s.registerCallee === false
    ? null
    : await lab.startSipp({ name: s.uas.name, scenario: s.uas.scenario, transport: s.transport, localPort: uasPort, timeoutMs: 20_000, ...(s.uas.extraArgs ? { extraArgs: s.uas.extraArgs } : {}) });
  const uac = await lab.runSipp({
    name: s.uac.name,
    scenario: s.uac.scenario,
    remote: proxy.sipAddress,
    transport: s.transport,
    localPort: uacPort,
    keys: { caller: s.caller, callee: s.callee },
    timeoutMs: 20_000,
    ...(s.uac.extraArgs ? { extraArgs: s.uac.extraArgs } : {}),
  });
  const uasResult = uas ? await uas.result(25_000) : null;
  return { uac, uas: uasResult };
}

describe('proxy: calls between registered phones', () => {
  let lab: Backend;
  let proxy: RunningProxy;
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('proxy-calls');
    proxy = await lab.startProxy();
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`A calls B over ${transport.toUpperCase()}: record-routed, ACK and BYE follow the route set`, t.track(async () => {
      const caller = `alice-${transport}`;
      const callee = `bob-${transport}`;
      const { uac, uas } = await runCall(lab, proxy, {
        uas: { name: `uas-${transport}`, scenario: 'uas-answer' },
        uac: { name: `uac-${transport}`, scenario: 'uac-call' },
        caller, callee, transport,
      });
      const ctx = explain([uac, uas!], proxy);
      assertSippOk([uac, uas!], proxy);
      const T = transport.toUpperCase();

      // What the callee got: the INVITE relayed by the proxy to the registered contact.
      const invite = one(receivedBy(uas!, { method: 'INVITE' }), 'INVITE at the callee', ctx);
      assert.equal(uriHostPort(invite.requestUri!).port, uas!.localPort, `R-URI is the registered contact\n${ctx}`);
      const vias = invite.values('via');
      assert.equal(vias.length, 2, `proxy Via on top of the caller's (RFC 3261 §16.6 step 8)\n${invite.raw}`);
      const top = viaSentBy(vias[0]!);
      assert.ok(namesProxy(top, proxy), `top Via names the proxy ${proxy.sipAddress}: ${vias[0]}`);
      assert.equal(top.transport, T);
      assert.equal(viaSentBy(vias[1]!).port, uac.localPort, 'second Via is the caller');
      // §16.6 step 3: Max-Forwards decremented by one.
      assert.equal(invite.header('max-forwards'), '69');
      const rr = proxyRecordRoutes(invite, proxy);
      assert.ok(rr.length >= 1, `proxy Record-Route in the INVITE\n${invite.raw}`);
      for (const v of rr) assertLooseRoute(uriOf(v), 'Record-Route');

      // What the caller got: the 200 with the Record-Route set, only its own Via.
      const ok = receivedBy(uac, { status: 200, cseqMethod: 'INVITE' });
      assert.ok(ok.length >= 1, ctx);
      assert.equal(ok[0]!.values('via').length, 1, `proxy removed its Via from the 200\n${ok[0]!.raw}`);
      assert.ok(proxyRecordRoutes(ok[0]!, proxy).length >= 1, `200 keeps the Record-Route\n${ok[0]!.raw}`);

      // The caller's ACK and BYE carry the route set (RFC 3261 §12.2.1.1): the proxy, ;lr.
      for (const method of ['ACK', 'BYE']) {
        const req = one(sentBy(uac, { method }), `${method} sent by the caller`, ctx);
        const routes = req.values('route');
        assert.ok(routes.length >= 1 && routes.every((r) => namesProxy(uriHostPort(uriOf(r)), proxy)), `${method} Route set is the proxy\n${req.raw}`);
        assert.equal(uriHostPort(req.requestUri!).port, uas!.localPort, `${method} R-URI is the callee's Contact (remote target)`);
        // ... and arrive at the callee through the proxy, which consumed its own Route
        // entry (loose routing, §16.4 / §16.12).
        const got = one(receivedBy(uas!, { method }), `${method} at the callee`, ctx);
        const gotVias = got.values('via');
        assert.equal(gotVias.length, 2, `${method} went via the proxy\n${got.raw}`);
        assert.ok(namesProxy(viaSentBy(gotVias[0]!), proxy), `${method} top Via is the proxy\n${got.raw}`);
        assert.equal(got.values('route').filter((r) => namesProxy(uriHostPort(uriOf(r)), proxy)).length, 0, `proxy left its own Route in the ${method}\n${got.raw}`);
        assert.equal(got.header('max-forwards'), '69');
      }
      // The BYE is answered end to end.
      assert.equal(receivedBy(uac, { status: 200, cseqMethod: 'BYE' }).length >= 1, true, ctx);
    }));
  }

  it('486 Busy Here reaches the caller; the proxy ACKs the callee hop-by-hop', t.track(async () => {
    const { uac, uas } = await runCall(lab, proxy, {
      uas: { name: 'uas-busy', scenario: 'uas-busy' },
      uac: { name: 'uac-busy', scenario: 'uac-expect-486' },
      caller: 'alice-busy', callee: 'bob-busy', transport: 'udp',
    });
    const ctx = explain([uac, uas!], proxy);
    assertSippOk([uac, uas!], proxy);
    const busy = receivedBy(uac, { status: 486 });
    assert.ok(busy.length >= 1, ctx);
    const invite = one(receivedBy(uas!, { method: 'INVITE' }), 'INVITE at the callee', ctx);
    // RFC 3261 §17.1.1.3: the ACK for a non-2xx belongs to the proxy's client transaction:
    // its own single Via with the INVITE's branch, same CSeq number, To with the callee's tag.
    const ack = one(receivedBy(uas!, { method: 'ACK' }), 'ACK at the callee (the caller\'s must be absorbed)', ctx);
    assert.equal(ack.values('via').length, 1, `hop-by-hop ACK has only the proxy's Via\n${ack.raw}`);
    assert.equal(ack.topBranch, invite.topBranch, `ACK branch = the proxy's INVITE branch\n${ack.raw}`);
    assert.equal(ack.cseqNumber, invite.cseqNumber);
    assert.equal(ack.cseqMethod, 'ACK');
    assert.match(ack.header('to') ?? '', /;\s*tag=/);
    assert.equal(uriOf(ack.requestUri!), uriOf(invite.requestUri!), 'ACK R-URI = INVITE R-URI');
  }));

  it('404 Not Found for a user with no binding', t.track(async () => {
    const { uac } = await runCall(lab, proxy, {
      uas: { name: 'unused', scenario: 'uas-answer' },
      uac: { name: 'uac-404', scenario: 'uac-expect-404' },
      caller: 'alice-404', callee: 'nobody-here', transport: 'udp', registerCallee: false,
    });
    assertSippOk([uac], proxy);
    const nf = receivedBy(uac, { status: 404, cseqMethod: 'INVITE' });
    assert.ok(nf.length >= 1, explain([uac], proxy));
    assert.equal(nf[0]!.values('via').length, 1);
  }));

  it('CANCEL before the answer: caller gets 200 (CANCEL) and 487, callee gets CANCEL and ACK', t.track(async () => {
    const { uac, uas } = await runCall(lab, proxy, {
      uas: { name: 'uas-cancelled', scenario: 'uas-cancelled' },
      uac: { name: 'uac-cancel', scenario: 'uac-cancel' },
      caller: 'alice-cancel', callee: 'bob-cancel', transport: 'udp',
    });
    const ctx = explain([uac, uas!], proxy);
    assertSippOk([uac, uas!], proxy);
    assert.ok(receivedBy(uac, { status: 200, cseqMethod: 'CANCEL' }).length >= 1, ctx);
    assert.ok(receivedBy(uac, { status: 487, cseqMethod: 'INVITE' }).length >= 1, ctx);
    const invite = one(receivedBy(uas!, { method: 'INVITE' }), 'INVITE at the callee', ctx);
    // RFC 3261 §9.1 / §16.10: the proxy's CANCEL matches its own INVITE: one Via, same branch,
    // same R-URI and CSeq number.
    const cancel = one(receivedBy(uas!, { method: 'CANCEL' }), 'CANCEL at the callee', ctx);
    assert.equal(cancel.values('via').length, 1, cancel.raw);
    assert.equal(cancel.topBranch, invite.topBranch);
    assert.equal(cancel.cseqNumber, invite.cseqNumber);
    assert.equal(uriOf(cancel.requestUri!), uriOf(invite.requestUri!));
    const ack = one(receivedBy(uas!, { method: 'ACK' }), 'ACK for the 487 at the callee', ctx);
    assert.equal(ack.topBranch, invite.topBranch);
    assert.equal(ack.values('via').length, 1);
  }));

  it('parallel forking: both contacts ring, the first 200 wins, the other branch is cancelled', t.track(async () => {
    const [p1, p2, pc] = [await allocatePort(lab.host), await allocatePort(lab.host), await allocatePort(lab.host)];
    const callee = 'bob-fork';
    await register(lab, proxy, { user: callee, contact: phoneContact(callee, lab.host, p1), expires: 600, name: 'register-fork-1' });
    await register(lab, proxy, { user: callee, contact: phoneContact(callee, lab.host, p2), expires: 600, name: 'register-fork-2' });
    await register(lab, proxy, { user: 'alice-fork', contact: phoneContact('alice-fork', lab.host, pc), expires: 600 });
    // Branch 1 rings for a moment then answers; branch 2 rings until it is cancelled.
    const answering = await lab.startSipp({ name: 'uas-fork-answer', scenario: 'uas-answer-late', localPort: p1, timeoutMs: 20_000, extraArgs: ['-d', '500'] });
    const ringing = await lab.startSipp({ name: 'uas-fork-cancelled', scenario: 'uas-cancelled', localPort: p2, timeoutMs: 20_000 });
    const uac = await lab.runSipp({ name: 'uac-fork', scenario: 'uac-call', remote: proxy.sipAddress, localPort: pc, keys: { caller: 'alice-fork', callee }, timeoutMs: 20_000 });
    const [a, r] = [await answering.result(25_000), await ringing.result(25_000)];
    const ctx = explain([uac, a, r], proxy);
    assertSippOk([uac, a, r], proxy);
    // RFC 3261 §16.7 step 10: after a 2xx the proxy CANCELs the other pending branches.
    const cancel = one(receivedBy(r, { method: 'CANCEL' }), 'CANCEL at the losing branch', ctx);
    assert.equal(cancel.topBranch, one(receivedBy(r, { method: 'INVITE' }), 'INVITE at branch 2', ctx).topBranch);
    // Both INVITEs were forked from the same server transaction: same Call-ID, different branches.
    const inv1 = one(receivedBy(a, { method: 'INVITE' }), 'INVITE at branch 1', ctx);
    const inv2 = one(receivedBy(r, { method: 'INVITE' }), 'INVITE at branch 2', ctx);
    assert.equal(inv1.callId, inv2.callId);
    assert.notEqual(inv1.topBranch, inv2.topBranch);
    // The caller saw exactly one dialog answered.
    const oks = receivedBy(uac, { status: 200, cseqMethod: 'INVITE' });
    assert.ok(oks.length >= 1 && new Set(oks.map((m) => m.header('to'))).size === 1, ctx);
  }));
});
