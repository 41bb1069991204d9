import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { proxyThreadResourceLimits } from './young-generation.js';

/** The size of a fresh thread's new space (bytes), as V8 set it up. */
async function newSpaceOfThread(resourceLimits: ResourceLimits): Promise<number> {
  const w = new Worker(
    `const { parentPort } = require('node:worker_threads');
     const { getHeapSpaceStatistics } = require('node:v8');
     parentPort.postMessage(getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size);`,
    { eval: true, resourceLimits },
  );
  try {
    return await new Promise<number>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  } finally {
    await w.terminate();
  }
}

test('proxy threads start with their whole young generation (no shrinking and regrowing)', async () => {
  // Control first: --min-semi-space-size is process-wide once set.
  const plain = await newSpaceOfThread({ maxYoungGenerationSizeMb: 24 });
  const limits = proxyThreadResourceLimits(24);
  assert.deepEqual(limits, { maxYoungGenerationSizeMb: 24 });
  const fixed = await newSpaceOfThread(limits);
  // The minimum semi-space is a third of the young generation (8 MB here), committed from the start.
  assert.ok(fixed >= 7 * 1024 * 1024, `new space ${fixed} B`);
  assert.ok(fixed > plain, `fixed ${fixed} B, V8's default start ${plain} B`);
});
