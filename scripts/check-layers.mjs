#!/usr/bin/env node
// Enforces the layering of STYLE.md: lower layers never import higher ones, and
// services reach @voip/sip only through its index. Fails CI on a violation or a cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
// Layer order inside each source tree: an import may only point to the same or a lower rank.
const LAYERS = [
  { base: 'packages/sip/src', order: ['util', 'message', 'transport', 'transaction'] },
  { base: 'services/proxy/src', order: ['util', 'config', 'core', 'routing', 'modules', 'admin'] },
];

function walk(dir, out = []) {
  let entries;
  try { entries = readdirSync(dir, { withFileTypes: true }); } catch { return out; }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) { if (e.name !== 'node_modules' && e.name !== 'dist') walk(p, out); }
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const importRe = /^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|^\s*import\s+['"]([^'"]+)['"]/gm;
const errors = [];
const graph = new Map();

for (const tree of ['packages', 'services', 'integration', 'bench']) {
  for (const file of walk(join(root, tree))) {
    const src = readFileSync(file, 'utf8');
    const deps = [];
    for (const m of src.matchAll(importRe)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith('@voip/sip/')) errors.push(`${relative(root, file)}: import @voip/sip only through its index, not ${spec}`);
      if (!spec.startsWith('.')) continue;
      const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      deps.push(target);
      if (file.endsWith('.test.ts')) continue; // tests may reach up to wire a layer to fakes
      for (const { base, order } of LAYERS) {
        const b = join(root, base) + '/';
        if (!file.startsWith(b) || !target.startsWith(b)) continue;
        const layerOf = (p) => order.indexOf(relative(b, p).split('/')[0]);
        const from = layerOf(file), to = layerOf(target);
        if (from >= 0 && to >= 0 && to > from) {
          errors.push(`${relative(root, file)}: layer '${order[from]}' must not import higher layer '${order[to]}' (${spec})`);
        }
      }
    }
    graph.set(file, deps);
  }
}

// Cycle detection over relative imports of non-test files.
const state = new Map();
function visit(n, stack) {
  state.set(n, 1);
  stack.push(n);
  for (const d of graph.get(n) ?? []) {
    if (!graph.has(d) || d.endsWith('.test.ts') || n.endsWith('.test.ts')) continue;
    if (d.endsWith('/index.ts')) continue; // barrels re-export; cycles through them are reported via their members
    if (state.get(d) === 1) errors.push(`import cycle: ${[...stack.slice(stack.indexOf(d)), d].map((p) => relative(root, p)).join(' -> ')}`);
    else if (!state.has(d)) visit(d, stack);
  }
  stack.pop();
  state.set(n, 2);
}
for (const n of graph.keys()) if (!state.has(n)) visit(n, []);

if (errors.length) {
  console.error(errors.join('\n'));
  process.exit(1);
}
console.log(`layers ok (${graph.size} files)`);
