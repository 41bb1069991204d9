import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TableReloader } from './table-reloader.js';

const quiet = { warn(): void {} };

test('start loads once and fails when the first load fails', async () => {
  let n = 0;
  const r = new TableReloader(async () => ++n, 0, quiet, 't');
  assert.equal(await r.start(), 1);
  const bad = new TableReloader(async () => Promise.reject(new Error('db down')), 0, quiet, 't');
  await assert.rejects(bad.start(), /db down/);
});

test('a failed reload answers -1 and logs; concurrent reloads share one read', async () => {
  let reads = 0;
  let fail = false;
  const warnings: string[] = [];
  const r = new TableReloader(
    async () => {
      reads++;
      await new Promise((res) => setTimeout(res, 5));
      if (fail) throw new Error('db down');
      return 7;
    },
    0,
    { warn: (_o, m) => warnings.push(m) },
    'lcr tables',
  );
  const [a, b] = await Promise.all([r.reload(), r.reload()]);
  assert.deepEqual([a, b, reads], [7, 7, 1]);
  fail = true;
  assert.equal(await r.reload(), -1);
  assert.deepEqual(warnings, ['lcr tables reload failed; keeping the previous data']);
});
