/**
 * Memory retained per finished call while its transactions linger (issue 13).
 *
 * After a call ends, RFC 3261 §17 and RFC 6026 keep its transactions for their last timers:
 * the INVITE server transaction in Accepted (Timer L, 64*T1), the INVITE client transaction in
 * Accepted (Timer M, 64*T1), the BYE server transaction in Completed (Timer J, 64*T1) and the
 * BYE client transaction in Completed (Timer K, T4). Over UDP that is 32 s; at 1000 calls/s
 * about 100 000 transactions are alive, and what each retains is what every scavenge copies
 * and every mark-compact traces.
 *
 * This runs N complete calls (INVITE, 100, 180, 200, ACK, BYE, 200: the stateful, record-routed
 * flow of `npm run bench:proxy`) through the proxy stack over warm-up.ts' fake UDP transport
 * (no socket, nothing leaves the process), forces a GC while they linger and prints the JS heap
 * and the off-heap (external, ArrayBuffer) bytes retained per call, against a reading taken
 * just before the calls. The figures are counts of bytes, not times: they do not depend on the
 * machine's load (as long as the N calls take less than 64*T1 = 32 s; the live counts printed
 * show that every transaction is still there).
 *
 *   node --expose-gc bench/dist/memory/lingering-calls.js [--calls N] [--snapshot FILE] [--by-constructor]
 *
 * --snapshot writes a heap snapshot (open it in Chrome DevTools' Memory tab); --by-constructor
 * takes a snapshot before and after the calls and prints what grew, by constructor name.
 */
import { writeHeapSnapshot, getHeapSnapshot, queryObjects } from 'node:v8';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Command, Option } from 'commander';
import {
  InviteClientTransaction,
  InviteServerTransaction,
  NonInviteClientTransaction,
  NonInviteServerTransaction,
  silentLogger,
} from '@voip/sip';
import { parseConfig } from '@voip/proxy/dist/config.js';
import { startProxy } from '@voip/proxy/dist/server.js';
import { LoopbackFakeUdp, syntheticCall, warmUp } from '@voip/proxy/dist/warm-up.js';
import { positiveInt } from '../common/cli.js';

interface Options {
  calls: number;
  warmUp: number;
  snapshot: string | undefined;
  byConstructor: boolean;
}

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with node --expose-gc');
  // Twice: the first pass may leave finalizable objects (weak callbacks) for the second.
  g();
  g();
}

interface Reading {
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

function read(): Reading {
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
}

/** Live objects of each transaction class (V8 counts them by prototype chain, after a GC). */
function liveTransactions(): Record<string, number> {
  const classes: [string, abstract new (...args: never[]) => unknown][] = [
    ['InviteServerTransaction', InviteServerTransaction],
    ['InviteClientTransaction', InviteClientTransaction],
    ['NonInviteServerTransaction', NonInviteServerTransaction],
    ['NonInviteClientTransaction', NonInviteClientTransaction],
  ];
  const out: Record<string, number> = {};
  for (const [name, cls] of classes) out[name] = queryObjects(cls as never, { format: 'count' }) as number;
  return out;
}

/** Self size and count by (node type, constructor or string-kind name) of a heap snapshot. */
async function heapByConstructor(): Promise<Map<string, { count: number; size: number }>> {
  const chunks: string[] = [];
  for await (const c of getHeapSnapshot()) chunks.push(typeof c === 'string' ? c : (c as Buffer).toString('utf8'));
  const snap = JSON.parse(chunks.join('')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const iSize = fields.indexOf('self_size');
  const out = new Map<string, { count: number; size: number }>();
  const nodes = snap.nodes;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + iType]!]!;
    // Strings and code are grouped by kind, objects by constructor name.
    const name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' || type === 'array' ? snap.strings[nodes[i + iName]!]! : '';
    const key = `${type} ${name.length > 60 ? name.slice(0, 60) + '…' : name}`;
    const e = out.get(key);
    if (e === undefined) out.set(key, { count: 1, size: nodes[i + iSize]! });
    else {
      e.count++;
      e.size += nodes[i + iSize]!;
    }
  }
  return out;
}

function printGrowth(before: Map<string, { count: number; size: number }>, after: Map<string, { count: number; size: number }>, calls: number): void {
  const rows: { key: string; count: number; size: number }[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, size: 0 };
    const size = a.size - b.size;
    if (size > 0) rows.push({ key, count: a.count - b.count, size });
  }
  rows.sort((x, y) => y.size - x.size);
  console.log('\nheap growth by constructor (self size), per call:');
  console.log('  bytes/call  objects/call  type constructor');
  for (const r of rows.slice(0, 40)) {
    console.log(`  ${(r.size / calls).toFixed(1).padStart(10)}  ${(r.count / calls).toFixed(2).padStart(12)}  ${r.key}`);
  }
}

async function main(): Promise<void> {
  const program = new Command('lingering-calls')
    .description('JS heap and off-heap bytes retained per finished call while its transactions linger (64*T1)')
    .addOption(new Option('--calls <n>', 'calls to run').argParser(positiveInt).default(10_000))
    .addOption(new Option('--warm-up <n>', 'calls through a throw-away stack first (JIT), as the proxy does at start').argParser(positiveInt).default(1000))
    .addOption(new Option('--snapshot <file>', 'write a heap snapshot after the calls'))
    .addOption(new Option('--by-constructor', 'print the heap growth by constructor (two snapshots)').default(false));
  const o = program.parse().opts<Options>();

  // The standard route in memory, nothing external, no edge guards (warm-up.ts' config). T4 is
  // raised from 5 s to 60 s so that Timer K (= T4) keeps every BYE client transaction for the
  // reading however slowly a loaded machine runs the calls; the other lingering timers are
  // 64*T1 = 32 s, and a duration changes nothing in what a transaction retains.
  const config = parseConfig({
    listen: ['udp:127.0.0.1:5060'],
    admin: { listen: '' },
    logLevel: 'silent',
    overload: { enabled: false },
    pike: { enabled: false },
    timers: { t4: 60_000 },
  });
  await warmUp(config, o.warmUp);

  let fake: LoopbackFakeUdp | null = null;
  const proxy = await startProxy(config, silentLogger, {
    transports: (host) => [(fake = new LoopbackFakeUdp(host))],
    accounting: null,
  });
  const t = fake!;
  try {
    // A few calls first so that lazily built structures (maps, caches) exist in the baseline.
    for (let i = 0; i < 10; i++) syntheticCall(t, 1_000_000 + i);
    const before = o.byConstructor ? await heapByConstructor() : null;
    const base = read();
    const started = performance.now();
    let done = 0;
    while (done < o.calls) {
      for (let i = 0; i < 250 && done < o.calls; i++, done++) {
        if (!syntheticCall(t, done)) throw new Error(`call ${done} was not relayed`);
      }
      await nextTurn();
    }
    const elapsed = performance.now() - started;
    const after = read();
    const live = liveTransactions();
    const n = o.calls;
    const perCall = (a: number, b: number): string => ((a - b) / n).toFixed(0);
    console.log(`calls: ${n} in ${(elapsed / 1000).toFixed(2)} s`);
    console.log(`live transactions: ${Object.entries(live).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    console.log(`JS heap per call:      ${perCall(after.heapUsed, base.heapUsed)} B  (heapUsed ${(base.heapUsed / 1e6).toFixed(1)} -> ${(after.heapUsed / 1e6).toFixed(1)} MB)`);
    console.log(`external per call:     ${perCall(after.external, base.external)} B`);
    console.log(`arrayBuffers per call: ${perCall(after.arrayBuffers, base.arrayBuffers)} B`);
    if (before !== null) printGrowth(before, await heapByConstructor(), n);
    if (o.snapshot !== undefined) console.log(`heap snapshot: ${writeHeapSnapshot(o.snapshot)}`);
  } finally {
    await proxy.close();
  }
}

await main();
