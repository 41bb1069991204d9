import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMER_SETTINGS, deriveTimers } from './timers.js';
import { SipTransactionError } from './errors.js';

describe('deriveTimers', () => {
  it('derives RFC 3261 Table 4 and RFC 6026 values from the defaults', () => {
    const t = deriveTimers(DEFAULT_TIMER_SETTINGS);
    assert.deepEqual(
      { A: t.A, B: t.B, C: t.C, D: t.D, E: t.E, F: t.F, G: t.G, H: t.H, I: t.I, J: t.J, K: t.K, L: t.L, M: t.M },
      { A: 500, B: 32_000, C: 181_000, D: 32_000, E: 500, F: 32_000, G: 500, H: 32_000, I: 5_000, J: 32_000, K: 5_000, L: 32_000, M: 32_000 },
    );
  });

  it('follows T1/T2/T4; Timer D stays at least 32 s and outlasts 64*T1', () => {
    const fast = deriveTimers({ T1: 100, T2: 400, T4: 1000 });
    assert.equal(fast.B, 6_400);
    assert.equal(fast.F, 6_400);
    assert.equal(fast.D, 32_000);
    assert.equal(fast.I, 1_000);
    assert.equal(fast.C, null);
    const slow = deriveTimers({ T1: 1000, T2: 8000, T4: 10_000 });
    assert.equal(slow.D, 64_000);
    assert.equal(slow.H, 64_000);
  });

  it('rejects out-of-range settings with SIP_ERR_TIMER_SETTINGS', () => {
    for (const bad of [
      { T1: 0, T2: 4000, T4: 5000 },
      { T1: 500, T2: 400, T4: 5000 },
      { T1: 500, T2: 4000, T4: 0 },
      { T1: 500, T2: 4000, T4: 5000, timerC: 180_000 },
      { T1: Number.NaN, T2: 4000, T4: 5000 },
    ]) {
      assert.throws(() => deriveTimers(bad), (e: unknown) => e instanceof SipTransactionError && e.code === 'SIP_ERR_TIMER_SETTINGS');
    }
  });
});
