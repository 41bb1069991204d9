import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hashPassword, verifyPassword } from './password-hash.js';
import { csrfMatches, SessionStore } from './session-store.js';
import { SignInThrottle } from './sign-in-throttle.js';

describe('password hashes (scrypt)', () => {
  it('verifies the right password only, with the cost recorded in the hash', async () => {
    const h = await hashPassword('correct horse', 16384);
    assert.match(h, /^scrypt\$16384\$8\$1\$/);
    assert.equal(await verifyPassword('correct horse', h), true);
    assert.equal(await verifyPassword('correct horsE', h), false);
    assert.notEqual(await hashPassword('correct horse', 16384), h, 'salted');
  });

  it('answers false for hashes it cannot read, never throws', async () => {
    for (const bad of ['', 'scrypt$', 'bcrypt$1$2$3$4$5', 'scrypt$3$8$1$AAAA$AAAA', 'scrypt$16384$8$1$AAAA$short', `scrypt$${2 ** 30}$8$1$AAAA$${'A'.repeat(43)}`]) {
      assert.equal(await verifyPassword('x', bad), false, bad);
    }
  });
});

describe('SessionStore', () => {
  it('ends a session after the idle timeout, and each request restarts it', () => {
    let now = 0;
    const s = new SessionStore(1000, 10, () => now);
    const a = s.create({ role: 'admin', name: 'root' });
    assert.match(a.id, /^[A-Za-z0-9_-]{43}$/);
    now = 900;
    assert.equal(s.get(a.id)?.id, a.id);
    now = 1800;
    assert.equal(s.get(a.id)?.id, a.id);
    now = 2801;
    assert.equal(s.get(a.id), null);
    assert.equal(s.get('x'), null);
  });

  it('keeps at most maxSessions, dropping the least recently used', () => {
    let now = 0;
    const s = new SessionStore(60_000, 2, () => now);
    const a = s.create({ role: 'admin', name: 'a' });
    const b = s.create({ role: 'admin', name: 'b' });
    now = 1;
    s.get(a.id);
    s.create({ role: 'admin', name: 'c' });
    assert.equal(s.size, 2);
    assert.equal(s.get(b.id), null);
    assert.ok(s.get(a.id));
  });

  it('ends every session of one subscriber except the one kept; CSRF tokens compare exactly', () => {
    const s = new SessionStore(60_000, 10);
    const c1 = s.create({ role: 'subscriber', username: 'carol', domain: 'example.com' });
    const c2 = s.create({ role: 'subscriber', username: 'carol', domain: 'example.com' });
    const b = s.create({ role: 'subscriber', username: 'bob', domain: 'example.com' });
    assert.equal(s.destroyFor((p) => p.role === 'subscriber' && p.username === 'carol', c1.id), 1);
    assert.ok(s.get(c1.id) && s.get(b.id));
    assert.equal(s.get(c2.id), null);
    assert.equal(csrfMatches(c1, c1.csrf), true);
    assert.equal(csrfMatches(c1, c2.csrf), false);
    assert.equal(csrfMatches(c1, undefined), false);
    assert.equal(csrfMatches(c1, c1.csrf.slice(1)), false);
  });
});

describe('SignInThrottle', () => {
  it('locks an account after maxFailures, doubling the lock per further failure up to maxLock', () => {
    let now = 0;
    const t = new SignInThrottle({ maxFailures: 3, lockMs: 1000, maxLockMs: 3000 }, () => now);
    for (let i = 0; i < 2; i++) t.failure(`10.0.0.${i}`, 'root');
    assert.equal(t.retryAfter('10.0.0.9', 'root'), 0);
    t.failure('10.0.0.3', 'root');
    assert.equal(t.retryAfter('10.0.0.9', 'ROOT'), 1000);
    now = 1000;
    t.failure('10.0.0.4', 'root');
    assert.equal(t.retryAfter('10.0.0.9', 'root'), 2000);
    now = 3000;
    t.failure('10.0.0.5', 'root');
    assert.equal(t.retryAfter('10.0.0.9', 'root'), 3000);
    t.success('root');
    assert.equal(t.retryAfter('10.0.0.9', 'root'), 0);
  });

  it('locks a source address that tries many accounts', () => {
    const t = new SignInThrottle({ maxFailures: 3, lockMs: 1000, maxLockMs: 3000 }, () => 0);
    for (const a of ['a', 'b', 'c']) t.failure('192.0.2.1', a);
    assert.equal(t.retryAfter('192.0.2.1', 'd'), 1000);
    assert.equal(t.retryAfter('192.0.2.2', 'd'), 0);
  });
});
