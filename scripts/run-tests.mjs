#!/usr/bin/env node
// Runs the compiled test files with node's test runner.
// Unit tests (next to their layer, *.test.js under packages/ and services/) run in parallel;
// integration tests (integration/dist) start real programs on real ports, so they run one
// file at a time. Prints a plain "N passed, N failed" closing line over both runs.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, mkdtempSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const unitOnly = args.includes('--unit');
const integrationOnly = args.includes('--integration');
const filters = args.filter((a) => !a.startsWith('--'));

function findTests(dir, out = []) {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) findTests(p, out);
    else if (e.name.endsWith('.test.js') && p.includes('/dist/')) out.push(p);
  }
  return out;
}

const pick = (files) => (filters.length ? files.filter((f) => filters.some((x) => f.includes(x))) : files);
const unit = pick([...findTests(join(root, 'packages')), ...findTests(join(root, 'services')), ...findTests(join(root, 'bench'))]);
const integration = pick(findTests(join(root, 'integration')));
const tapDir = mkdtempSync(join(tmpdir(), 'voip-tests-'));

let passed = 0, failed = 0, skipped = 0, status = 0;
function run(name, files, concurrency) {
  if (files.length === 0) return;
  const tap = join(tapDir, `${name}.tap`);
  console.log(`\n== ${name}: ${files.length} file(s)`);
  const r = spawnSync(process.execPath, [
    '--enable-source-maps', '--test', `--test-concurrency=${concurrency}`,
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`,
    ...files.map((f) => relative(root, f)),
  ], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) status = 1;
  try {
    if (statSync(tap).size > 0) {
      const t = readFileSync(tap, 'utf8');
      // Top-level summary lines of the TAP stream.
      passed += Number(/^# pass (\d+)$/m.exec(t)?.[1] ?? 0);
      failed += Number(/^# fail (\d+)$/m.exec(t)?.[1] ?? 0);
      skipped += Number(/^# skipped (\d+)$/m.exec(t)?.[1] ?? 0);
    }
  } catch { /* no tap output: runner crashed; status already set */ }
}

if (!integrationOnly) run('unit', unit, 2);
if (!unitOnly) run('integration', integration, 1);
console.log(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(status || (failed > 0 ? 1 : 0));
