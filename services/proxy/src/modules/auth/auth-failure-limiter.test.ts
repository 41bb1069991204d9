import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AuthFailureLimiter } from './auth-failure-limiter.js';

function clock(): { now: () => number; advance: (s: number) => void } {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

const BASE = { windowSeconds: 60, maxFailuresPerUser: 3, maxFailuresPerIp: 5, blockSeconds: 300, maxTracked: 1000 };

describe('AuthFailureLimiter', () => {
  it('blocks an account at the N-th failure within the window, once, for the back-off period', () => {
    const c = clock();
    const l = new AuthFailureLimiter({ ...BASE, now: c.now });
    assert.deepEqual(l.recordFailure('192.0.2.1', 'alice@example.com'), []);
    assert.deepEqual(l.recordFailure('192.0.2.2', 'alice@example.com'), []);
    assert.equal(l.userBlocked('alice@example.com'), false);
    const blocks = l.recordFailure('192.0.2.3', 'alice@example.com');
    assert.deepEqual(blocks.map((b) => [b.by, b.key]), [['user', 'alice@example.com']]);
    assert.equal(l.userBlocked('alice@example.com'), true);
    assert.equal(l.userBlocked('bob@example.com'), false);
    // Failures during the block do not start a second one (one log line per block).
    assert.deepEqual(l.recordFailure('192.0.2.4', 'alice@example.com'), []);
    c.advance(299);
    assert.equal(l.userBlocked('alice@example.com'), true);
    c.advance(1);
    assert.equal(l.userBlocked('alice@example.com'), false);
    assert.equal(l.blocks, 1);
  });

  it('blocks an address guessing many accounts (svwar/svcrack over user lists)', () => {
    const c = clock();
    const l = new AuthFailureLimiter({ ...BASE, now: c.now });
    const found: string[] = [];
    for (let i = 0; i < 5; i++) for (const b of l.recordFailure('198.51.100.7', `user${i}@example.com`)) found.push(b.by);
    assert.deepEqual(found, ['ip']);
    assert.equal(l.ipBlocked('198.51.100.7'), true);
    assert.equal(l.ipBlocked('198.51.100.8'), false);
  });

  it('failures spread wider than the window never block; the window slides', () => {
    const c = clock();
    const l = new AuthFailureLimiter({ ...BASE, now: c.now });
    for (let i = 0; i < 10; i++) {
      assert.deepEqual(l.recordFailure('192.0.2.1', 'alice@example.com'), [], `failure ${i}`);
      c.advance(45);
    }
    // Failures of the previous window still count, weighted by how much of it overlaps the
    // last 60 s: two, then 70 s later (5/6 of them still inside) two more block.
    const d = clock();
    const m = new AuthFailureLimiter({ ...BASE, now: d.now });
    m.recordFailure('192.0.2.1', 'bob@example.com');
    m.recordFailure('192.0.2.1', 'bob@example.com');
    d.advance(70);
    assert.equal(m.recordFailure('192.0.2.1', 'bob@example.com').length, 0);
    assert.equal(m.recordFailure('192.0.2.1', 'bob@example.com').length, 1);
  });

  it('a correct password forgives the account\'s failures, not a running block', () => {
    const c = clock();
    const l = new AuthFailureLimiter({ ...BASE, now: c.now });
    l.recordFailure('192.0.2.1', 'alice@example.com');
    l.recordFailure('192.0.2.1', 'alice@example.com');
    l.recordSuccess('alice@example.com');
    assert.deepEqual(l.recordFailure('192.0.2.1', 'alice@example.com'), []);
    l.recordFailure('192.0.2.1', 'alice@example.com');
    l.recordFailure('192.0.2.1', 'alice@example.com');
    l.recordSuccess('alice@example.com');
    assert.equal(l.userBlocked('alice@example.com'), true);
  });

  it('0 turns a kind of block off', () => {
    const l = new AuthFailureLimiter({ ...BASE, maxFailuresPerUser: 0, maxFailuresPerIp: 0 });
    for (let i = 0; i < 50; i++) assert.deepEqual(l.recordFailure('192.0.2.1', 'alice@example.com'), []);
    assert.equal(l.trackedUsers + l.trackedIps, 0);
  });

  it('memory is bounded while guessing and back to nothing after the window and the blocks', () => {
    const c = clock();
    const l = new AuthFailureLimiter({ ...BASE, maxTracked: 100, now: c.now });
    for (let i = 0; i < 10_000; i++) l.recordFailure(`10.0.${(i >> 8) & 255}.${i & 255}`, `u${i}@example.com`);
    assert.ok(l.trackedUsers <= 100 && l.trackedIps <= 100, `${l.trackedUsers} ${l.trackedIps}`);
    c.advance(121);
    l.sweep();
    assert.equal(l.trackedUsers + l.trackedIps, 0);
    // A block outlives the window: kept until it ends, then swept.
    for (let i = 0; i < 5; i++) l.recordFailure('192.0.2.9', `x${i}@example.com`);
    c.advance(200);
    l.sweep();
    assert.equal(l.trackedIps, 1);
    c.advance(101);
    l.sweep();
    assert.equal(l.trackedUsers + l.trackedIps, 0);
  });
});
