/**
 * Transaction behaviour of the stateful proxy (RFC 3261 §16, §17) that only shows with
 * retransmissions and silence: a 2xx retransmitted by the callee is forwarded, a caller's
 * INVITE retransmission is absorbed and answered with the last provisional, and a callee
 * that never answers yields 408 (Timer B / Timer F). T1 is set small so the timeouts take
 * ~3 s instead of 32 s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  UdpEndpoint, allocatePort, assertSippOk, createBackend, explain, one, receivedBy, sentBy,
  type Backend, type RunningProxy, type SipText,
} from '../harness/index.js';
import { failureTracker, phoneContact, register } from './support.js';

const T1 = 50;

function rawInvite(proxy: RunningProxy, ep: UdpEndpoint, caller: string, callee: string): { text: string; branch: string; callId: string; fromTag: string } {
  const branch = `z9hG4bK-raw-${randomBytes(6).toString('hex')}`;
  const callId = `raw-${randomBytes(8).toString('hex')}@${ep.address}`;
  const fromTag = randomBytes(4).toString('hex');
  const text = [
    `INVITE sip:${callee}@${proxy.sipAddress} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ep.address}:${ep.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${caller}@${proxy.sipAddress}>;tag=${fromTag}`,
    `To: <sip:${callee}@${proxy.sipAddress}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:${caller}@${ep.address}:${ep.port}>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return { text, branch, callId, fromTag };
}

/** RFC 3261 §17.1.1.3: ACK for a non-2xx final response, same branch as the INVITE. */
function rawAck(proxy: RunningProxy, ep: UdpEndpoint, inv: { branch: string; callId: string; fromTag: string }, caller: string, callee: string, final: SipText): string {
  return [
    `ACK sip:${callee}@${proxy.sipAddress} SIP/2.0`,
    `Via: SIP/2.0/UDP ${ep.address}:${ep.port};branch=${inv.branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${caller}@${proxy.sipAddress}>;tag=${inv.fromTag}`,
    `To: ${final.header('to')}`,
    `Call-ID: ${inv.callId}`,
    'CSeq: 1 ACK',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

describe('proxy: retransmissions and timeouts (T1 = 50 ms)', () => {
  let lab: Backend;
  let proxy: RunningProxy;
  const t = failureTracker();

  before(async () => {
    lab = await createBackend('proxy-transactions');
    proxy = await lab.startProxy({ timers: { t1: T1, t2: 4000 } });
  });

  after(async () => {
    await lab?.close({ failed: t.failed() });
  });

  it('a 2xx retransmitted by the callee (its ACK is late) is forwarded to the caller', t.track(async () => {
    const [uasPort, uacPort] = [await allocatePort(lab.host), await allocatePort(lab.host)];
    await register(lab, proxy, { user: 'bob-2xx', contact: phoneContact('bob-2xx', lab.host, uasPort) });
    await register(lab, proxy, { user: 'alice-2xx', contact: phoneContact('alice-2xx', lab.host, uacPort) });
    const uas = await lab.startSipp({ name: 'uas-2xx', scenario: 'uas-answer', localPort: uasPort, timeoutMs: 20_000 });
    // The caller holds its ACK for 1.8 s: SIPp's callee retransmits its 200 at 0.5 s and 1.5 s
    // (Timer G doubling from SIPp's own T1 of 500 ms, RFC 3261 §13.3.1.4).
    const uac = await lab.runSipp({
      name: 'uac-late-ack', scenario: 'uac-call', remote: proxy.sipAddress, localPort: uacPort,
      keys: { caller: 'alice-2xx', callee: 'bob-2xx' }, timeoutMs: 20_000, extraArgs: ['-d', '1800'],
    });
    const uasResult = await uas.result(25_000);
    const ctx = explain([uac, uasResult], proxy);
    assertSippOk([uac, uasResult], proxy);
    const sent200 = sentBy(uasResult, { status: 200, cseqMethod: 'INVITE' });
    assert.ok(sent200.length >= 2, `the callee retransmitted its 200 (${sent200.length} sent)\n${ctx}`);
    // RFC 3261 §16.7 step 5 / RFC 6026 §7.2: every 2xx, retransmissions included, is forwarded.
    const got200 = receivedBy(uac, { status: 200, cseqMethod: 'INVITE' });
    assert.ok(got200.length >= 2, `retransmitted 200s forwarded: caller got ${got200.length}\n${ctx}`);
    assert.equal(new Set(got200.map((m) => m.header('to'))).size, 1, 'same dialog (To tag) in every copy');
    // The late ACK still reaches the callee (end to end, through the proxy).
    one(receivedBy(uasResult, { method: 'ACK' }), 'ACK at the callee', ctx);
  }));

  it('a retransmitted INVITE is absorbed and answered with the last provisional', t.track(async () => {
    const uasPort = await allocatePort(lab.host);
    await register(lab, proxy, { user: 'bob-rtx', contact: phoneContact('bob-rtx', lab.host, uasPort) });
    // The callee rings for 1.5 s, then says busy.
    const uas = await lab.startSipp({ name: 'uas-rtx', scenario: 'uas-busy', localPort: uasPort, timeoutMs: 20_000, extraArgs: ['-d', '1500'] });
    const ep = await UdpEndpoint.open(lab.host);
    try {
      const inv = rawInvite(proxy, ep, 'alice-rtx', 'bob-rtx');
      await ep.send(inv.text, proxy.host, proxy.port);
      const is = (status: number) => (d: { message: SipText }) => d.message.status === status && d.message.callId === inv.callId;
      const first180 = await ep.waitFor(is(180), 3000);
      assert.ok(first180, `no 180 from the proxy; got: ${ep.received.map((d) => d.message.startLine).join(' | ')}\n${proxy.logTail()}`);
      const mark = ep.received.length;
      // The same INVITE again, byte for byte (RFC 3261 §17.1.1.2 Timer A retransmission).
      await ep.send(inv.text, proxy.host, proxy.port);
      // RFC 3261 §17.2.1: "the most recent provisional response ... MUST be passed to the
      // transport layer for retransmission".
      const again = await ep.waitFor(is(180), 1000, mark);
      assert.ok(again, `proxy did not re-send its 180 for the retransmitted INVITE; after it got: ${ep.received.slice(mark).map((d) => d.message.startLine).join(' | ') || 'nothing'}`);
      assert.equal(again.message.header('to'), first180.message.header('to'), 'the same provisional (same To tag)');
      const busy = await ep.waitFor(is(486), 5000);
      assert.ok(busy, `no 486; got: ${ep.received.map((d) => d.message.startLine).join(' | ')}`);
      await ep.send(rawAck(proxy, ep, inv, 'alice-rtx', 'bob-rtx', busy.message), proxy.host, proxy.port);
      const r = await uas.result(25_000);
      assertSippOk([r], proxy);
      // The callee saw exactly one INVITE: the retransmission never left the proxy.
      one(receivedBy(r, { method: 'INVITE' }), 'INVITE at the callee (retransmission must be absorbed)', explain([r], proxy));
      one(receivedBy(r, { method: 'ACK' }), 'hop-by-hop ACK at the callee', explain([r], proxy));
    } finally {
      await ep.close();
    }
  }));

  it('an INVITE the callee never answers ends in 408 (Timer B), retransmitted over UDP meanwhile', t.track(async () => {
    const hole = await UdpEndpoint.open(lab.host);
    try {
      const uacPort = await allocatePort(lab.host);
      await register(lab, proxy, { user: 'ghost-inv', contact: phoneContact('ghost-inv', lab.host, hole.port) });
      await register(lab, proxy, { user: 'alice-408', contact: phoneContact('alice-408', lab.host, uacPort) });
      const uac = await lab.runSipp({ name: 'uac-408', scenario: 'uac-expect-408', remote: proxy.sipAddress, localPort: uacPort, keys: { caller: 'alice-408', callee: 'ghost-inv' }, timeoutMs: 20_000 });
      assertSippOk([uac], proxy);
      assert.ok(receivedBy(uac, { status: 408, cseqMethod: 'INVITE' }).length >= 1, explain([uac], proxy));
      // RFC 3261 §17.1.1.2: Timer A retransmits the INVITE (same branch) until Timer B fires.
      const invites = hole.received.filter((d) => d.message.method === 'INVITE');
      assert.ok(invites.length >= 2, `proxy retransmitted the INVITE over UDP (${invites.length} copies)`);
      assert.equal(new Set(invites.map((d) => d.message.topBranch)).size, 1, 'retransmissions keep the branch');
    } finally {
      await hole.close();
    }
  }));

  it('a MESSAGE the callee never answers ends in 408 (Timer F), retransmitted over UDP meanwhile', t.track(async () => {
    const hole = await UdpEndpoint.open(lab.host);
    try {
      await register(lab, proxy, { user: 'ghost-msg', contact: phoneContact('ghost-msg', lab.host, hole.port) });
      const uac = await lab.runSipp({ name: 'uac-message-408', scenario: 'uac-message-408', remote: proxy.sipAddress, keys: { caller: 'alice-msg', callee: 'ghost-msg' }, timeoutMs: 20_000 });
      assertSippOk([uac], proxy);
      assert.ok(receivedBy(uac, { status: 408, cseqMethod: 'MESSAGE' }).length >= 1, explain([uac], proxy));
      // RFC 3261 §17.1.2.2: Timer E retransmits the request until Timer F fires.
      const msgs = hole.received.filter((d) => d.message.method === 'MESSAGE');
      assert.ok(msgs.length >= 2, `proxy retransmitted the MESSAGE over UDP (${msgs.length} copies)`);
      assert.equal(new Set(msgs.map((d) => d.message.topBranch)).size, 1, 'retransmissions keep the branch');
    } finally {
      await hole.close();
    }
  }));
});
