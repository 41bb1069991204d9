import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '@voip/sip';
import { inNetworks, networkList, PikeGuard, type PikeSettings } from './pike-guard.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

const S: PikeSettings = { enabled: true, windowMs: 2_000, maxRequests: 10, blockSeconds: 60, trusted: ['10.1.0.0/16', '2001:db8::/32'], maxTracked: 1_000 };

describe('pike', () => {
  it('admits up to the limit within the window, then blocks the source for the period; others go on', () => {
    const c = clock();
    const p = new PikeGuard(S, silentLogger, c.now);
    for (let i = 0; i < 10; i++) assert.equal(p.admit('192.0.2.1'), true, `request ${i}`);
    assert.equal(p.admit('192.0.2.1'), false);
    assert.equal(p.blocks, 1);
    assert.equal(p.admit('192.0.2.2'), true);
    // Blocked for the whole period, whatever it sends meanwhile; one block, many drops.
    c.advance(59_999);
    assert.equal(p.admit('192.0.2.1'), false);
    assert.equal(p.blocks, 1);
    assert.equal(p.dropped, 2);
    c.advance(1);
    assert.equal(p.admit('192.0.2.1'), true);
  });

  it('a steady rate under the limit is never blocked (the window slides)', () => {
    const c = clock();
    const p = new PikeGuard(S, silentLogger, c.now);
    for (let i = 0; i < 1_000; i++) {
      assert.equal(p.admit('192.0.2.1'), true, `request ${i}`);
      c.advance(250); // 8 per 2 s
    }
    // Bursts across a window edge are caught: 6 at the end of one window + 6 at the start of the next.
    const q = new PikeGuard(S, silentLogger, c.now);
    for (let i = 0; i < 6; i++) q.admit('192.0.2.3');
    c.advance(2_000);
    const results = Array.from({ length: 6 }, () => q.admit('192.0.2.3'));
    assert.ok(results.includes(false), results.join(','));
  });

  it('trusted networks (IPv4, IPv6, IPv4-mapped) are neither counted nor blocked', () => {
    const p = new PikeGuard(S, silentLogger);
    for (let i = 0; i < 100; i++) assert.equal(p.admit('10.1.2.3'), true);
    for (let i = 0; i < 100; i++) assert.equal(p.admit('::ffff:10.1.2.3'), true);
    for (let i = 0; i < 100; i++) assert.equal(p.admit('2001:db8::5'), true);
    assert.equal(p.tracked, 0);
    const list = networkList(['127.0.0.0/8', '::1/128', '192.0.2.7']);
    assert.equal(inNetworks(list, '127.9.9.9'), true);
    assert.equal(inNetworks(list, '::1'), true);
    assert.equal(inNetworks(list, '192.0.2.7'), true);
    assert.equal(inNetworks(list, '192.0.2.8'), false);
    assert.throws(() => networkList(['10.0.0.0/33']));
  });

  it('peers the routing tables trust (trustedPeer) are neither counted nor blocked; it is asked with the source port', () => {
    const asked: string[] = [];
    const peer = (ip: string, port: number): boolean => {
      asked.push(`${ip}:${port}`);
      return ip === '203.0.113.9' && port === 5060;
    };
    const p = new PikeGuard(S, silentLogger, Date.now, peer);
    for (let i = 0; i < 100; i++) assert.equal(p.admit('203.0.113.9', 5060), true);
    assert.equal(p.tracked, 0);
    // The same address from another port is not the peer (an address row bound to a port).
    const other = Array.from({ length: 20 }, () => p.admit('203.0.113.9', 5062));
    assert.ok(other.includes(false));
    assert.equal(asked[0], '203.0.113.9:5060');
    // Static trusted networks are checked first: the peer function is not asked for them.
    const n = asked.length;
    p.admit('10.1.2.3');
    assert.equal(asked.length, n);
  });

  it('memory is bounded and idle sources are forgotten', () => {
    const c = clock();
    const p = new PikeGuard({ ...S, maxTracked: 100 }, silentLogger, c.now);
    for (let i = 0; i < 5_000; i++) p.admit(`198.51.${(i >> 8) & 255}.${i & 255}`);
    assert.ok(p.tracked <= 100);
    c.advance(4_000);
    p.sweep();
    assert.equal(p.tracked, 0);
  });
});
