import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runInterleavedSteps } from './rate-stepper.js';
import { fmtMs, fmtRatio, formatTable } from './report-table.js';

describe('runInterleavedSteps', () => {
  it('alternates the order per rate and stops a target after consecutive unstable steps', async () => {
    const calls: string[] = [];
    // "a" is stable up to 2000, "b" up to 4000 except a blip at 3000.
    const limit: Record<string, (r: number) => boolean> = { a: (r) => r <= 2000, b: (r) => r <= 4000 && r !== 3000 };
    const results = await runInterleavedSteps({
      targets: ['a', 'b'],
      rates: [5000, 1000, 2000, 3000, 4000],
      giveUpAfter: 2,
      runStep: async (target, rate) => {
        calls.push(`${target}${rate}`);
        return { stable: limit[target]!(rate) };
      },
    });
    assert.deepEqual(calls, ['a1000', 'b1000', 'b2000', 'a2000', 'a3000', 'b3000', 'b4000', 'a4000', 'b5000']);
    assert.equal(results[0]!.highestStableRate, 2000);
    assert.equal(results[1]!.highestStableRate, 4000);
    assert.equal(results[1]!.steps.length, 5);
  });

  it('reports NaN when no step was stable', async () => {
    const [r] = await runInterleavedSteps({ targets: ['x'], rates: [1, 2, 3], giveUpAfter: 1, runStep: async () => ({ stable: false }) });
    assert.ok(Number.isNaN(r!.highestStableRate));
    assert.equal(r!.steps.length, 1);
  });
});

describe('formatTable', () => {
  it('aligns numbers right and labels left under a rule', () => {
    const text = formatTable(
      [
        { header: 'proxy', align: 'left' },
        { header: 'rate', align: 'right' },
      ],
      [
        ['kamailio', '6000'],
        ['ours', '500'],
      ],
    );
    assert.equal(text, ['proxy     rate', '--------  ----', 'kamailio  6000', 'ours       500'].join('\n'));
  });
  it('formats latency at 1 ms resolution and ratios', () => {
    assert.equal(fmtMs(0), '<1');
    assert.equal(fmtMs(12), '12');
    assert.equal(fmtMs(NaN), '-');
    assert.equal(fmtRatio(3000, 6000), '0.50x');
    assert.equal(fmtRatio(1, 0), '-');
  });
});
