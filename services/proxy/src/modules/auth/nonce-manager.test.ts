import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NonceManager } from './nonce-manager.js';

const SECRET = 'a-secret-of-at-least-16-bytes';

function clock(start = 1_800_000_000_000): { now: () => number; advance: (s: number) => void } {
  let t = start;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

describe('NonceManager', () => {
  it('verifies its own nonces, and another instance with the same secret does too (other worker, restart)', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, now: c.now });
    const n = a.mint('example.com');
    assert.equal(n.length, 38);
    assert.equal(a.verify(n, 'example.com'), 'ok');
    const restarted = new NonceManager({ secret: SECRET, now: c.now });
    assert.equal(restarted.verify(n, 'example.com'), 'ok');
    assert.notEqual(a.mint('example.com'), n);
  });

  it('nonces minted in the same second differ and verify, across refills of the random pool', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, now: c.now });
    const seen = new Set<string>();
    // More than one pool of random bytes (512 nonces) so the refill is crossed.
    for (let i = 0; i < 1500; i++) {
      const n = a.mint('example.com');
      assert.equal(a.verify(n, 'example.com'), 'ok');
      seen.add(n);
    }
    assert.equal(seen.size, 1500);
  });

  it('refuses forged, altered, foreign-realm and other-secret nonces', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, now: c.now });
    const n = a.mint('example.com');
    assert.equal(a.verify(n, 'other.example.com'), 'invalid');
    assert.equal(new NonceManager({ secret: 'another-secret-16-bytes!!', now: c.now }).verify(n, 'example.com'), 'invalid');
    const flipped = (n[5] === 'A' ? 'B' : 'A');
    assert.equal(a.verify(n.slice(0, 5) + flipped + n.slice(6), 'example.com'), 'invalid');
    assert.equal(a.verify('dcd98b7102dd2f0e8b11d0f600bfb0c093', 'example.com'), 'invalid');
    assert.equal(a.verify('', 'example.com'), 'invalid');
    assert.equal(a.verify('!'.repeat(38), 'example.com'), 'invalid');
  });

  it('answers stale after the lifetime, and refuses nonces from the future', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, expiresSeconds: 30, now: c.now });
    const n = a.mint('example.com');
    c.advance(29);
    assert.equal(a.verify(n, 'example.com'), 'ok');
    c.advance(1);
    assert.equal(a.verify(n, 'example.com'), 'stale');
    const early = new NonceManager({ secret: SECRET, now: () => c.now() - 60_000 });
    assert.equal(early.verify(a.mint('example.com'), 'example.com'), 'invalid');
  });

  it('nonce-count: increasing counts pass, a repeated or too old count is a replay, reordering within the window passes', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, now: c.now });
    const n = a.mint('r');
    assert.equal(a.useCount(n, 1), 'ok');
    assert.equal(a.useCount(n, 1), 'replay');
    assert.equal(a.useCount(n, 3), 'ok');
    assert.equal(a.useCount(n, 2), 'ok');
    assert.equal(a.useCount(n, 2), 'replay');
    assert.equal(a.useCount(n, 3), 'replay');
    assert.equal(a.useCount(n, 100), 'ok');
    assert.equal(a.useCount(n, 60), 'replay');
    assert.equal(a.useCount(n, 0), 'replay');
    // Another nonce has its own counter.
    assert.equal(a.useCount(a.mint('r'), 1), 'ok');
  });

  it('keeps the tracking table bounded and drops entries of expired nonces', () => {
    const c = clock();
    const a = new NonceManager({ secret: SECRET, expiresSeconds: 10, maxTracked: 3, now: c.now });
    for (let i = 0; i < 10; i++) a.useCount(a.mint('r'), 1);
    assert.ok(a.tracked <= 3);
    c.advance(11);
    a.useCount(a.mint('r'), 1);
    assert.equal(a.tracked, 1);
  });

  it('refuses a short secret', () => {
    assert.throws(() => new NonceManager({ secret: 'short' }));
  });
});
