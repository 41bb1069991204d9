import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseMessage, silentLogger, type SipRequest } from '@voip/sip';
import { OverloadGuard, eventLoopDelaySampler, procUdpDropSampler, type DelaySampler, type DropSampler, type OverloadSettings } from './overload-guard.js';

function invite(toTag: boolean, method = 'INVITE'): SipRequest {
  const text = [
    `${method} sip:bob@example.com SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-1',
    'Max-Forwards: 70',
    'From: <sip:alice@example.com>;tag=a',
    `To: <sip:bob@example.com>${toTag ? ';tag=b' : ''}`,
    'Call-ID: 1',
    `CSeq: 1 ${method}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const r = parseMessage(Buffer.from(text));
  if (!r.ok) throw new Error('bad fixture');
  return r.message as SipRequest;
}

class FakeSampler implements DelaySampler {
  next = 0;
  sample(): number {
    return this.next;
  }
  close(): void {}
}

const S: OverloadSettings = { enabled: true, udpDrops: true, maxEventLoopDelayMs: 100, maxPendingTransactions: 50, sampleIntervalMs: 500, retryAfterSeconds: 5 };

describe('overload guard', () => {
  it('event-loop delay over the limit refuses new INVITEs only; back to normal at half the limit', () => {
    const lag = new FakeSampler();
    const g = new OverloadGuard(S, () => 0, silentLogger, lag, () => 0.5);
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    lag.next = 150;
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), true);
    // In-dialog requests (re-INVITE, BYE) and other methods are still served.
    assert.equal(g.rejectsNewInvite(invite(true)), false);
    assert.equal(g.rejectsNewInvite(invite(false, 'REGISTER')), false);
    // Hysteresis: 80 ms is under the limit but not yet back to normal.
    lag.next = 80;
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), true);
    lag.next = 40;
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    assert.deepEqual([g.rejected, g.episodes], [2, 1]);
    assert.equal(g.retryAfter(), '7');
  });

  it('pending transactions at the limit refuse new INVITEs until they drain', () => {
    let pending = 49;
    const g = new OverloadGuard(S, () => pending, silentLogger, new FakeSampler());
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    pending = 50;
    assert.equal(g.rejectsNewInvite(invite(false)), true);
    pending = 10;
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    assert.equal(g.metrics().overload_episodes, 1);
  });

  it('Retry-After spreads over [n, 2n)', () => {
    const seen = new Set<string>();
    for (const r of [0, 0.2, 0.999]) seen.add(new OverloadGuard(S, () => 0, silentLogger, new FakeSampler(), () => r).retryAfter());
    assert.deepEqual([...seen], ['5', '6', '9']);
  });

  it('datagrams dropped by the kernel on our sockets: overloaded while drops keep rising', () => {
    const drops: DropSampler & { next: number | null } = { next: 0, sample() { return this.next; } };
    const g = new OverloadGuard(S, () => 0, silentLogger, new FakeSampler(), () => 0, drops);
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    drops.next = 120;
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), true);
    assert.equal(g.rejectsNewInvite(invite(true)), false);
    drops.next = 0;
    g.sample();
    assert.equal(g.rejectsNewInvite(invite(false)), false);
    // Not measurable (no /proc): never overloaded by this signal.
    drops.next = null;
    g.sample();
    assert.equal(g.overloaded, false);
    assert.equal(g.metrics().udp_drops, 120);
  });

  it('reads the drops column of /proc/net/udp{,6} for our ports only', () => {
    const header = '   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n';
    const row = (port: number, drops: number): string => ` 1: 0100007F:${port.toString(16).toUpperCase().padStart(4, '0')} 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1234 2 0000000095996642 ${drops}\n`;
    let v4 = header + row(5060, 10) + row(5070, 999);
    const v6 = header + ' 2: 00000000000000000000000001000000:13C4 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1235 2 0000000095996643 5\n';
    const sampler = procUdpDropSampler([5060], (p) => (p.endsWith('6') ? v6 : v4));
    assert.equal(sampler.sample(), 0);
    v4 = header + row(5060, 25) + row(5070, 5000);
    assert.equal(sampler.sample(), 15);
    assert.equal(sampler.sample(), 0);
    assert.equal(procUdpDropSampler([5060], () => { throw new Error('ENOENT'); }).sample(), null);
    // Native UDP I/O: drops in the per-thread queues count with the kernel's.
    let queueDrops = 0;
    const withQueues = procUdpDropSampler([5060], (p) => (p.endsWith('6') ? v6 : v4), () => queueDrops);
    assert.equal(withQueues.sample(), 0);
    queueDrops = 7;
    assert.equal(withQueues.sample(), 7);
  });

  it('a datagram that waited in the native receive queue counts like event-loop delay', () => {
    let waited = 0;
    const sampler = eventLoopDelaySampler(() => waited);
    try {
      waited = 400;
      assert.ok(sampler.sample() >= 400);
      waited = 0;
      assert.ok(sampler.sample() < 400);
    } finally {
      sampler.close();
    }
  });
});
