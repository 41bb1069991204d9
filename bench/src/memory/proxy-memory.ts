/**
 * Reading our proxy's memory from outside, with no benchmark-only code path in the proxy:
 * the resident set of the whole process from /proc/PID/status (VmRSS: every thread, V8 heaps,
 * native buffers, code), the V8 heap of the thread serving the admin API from its Prometheus
 * `/metrics` (prom-client's default metrics: `nodejs_heap_size_used_bytes` is
 * `v8.getHeapStatistics().used_heap_size`, `nodejs_gc_duration_seconds_count{kind="major"}`
 * counts mark-compacts), and the registrar's binding count from `GET /stats`.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { freeTcpPort, freeUdpPorts, OurProxyServer, type ProcessRegistry } from '../common/index.js';

/** The admin API's metric names carry this prefix (services/proxy/src/admin/admin-server.ts). */
const METRIC_PREFIX = 'sip_proxy_process_';
/** Longest wait for transactions to end before a reading (Timer J is 32 s). */
const DRAIN_TIMEOUT_MS = 180_000;

/** VmRSS / VmHWM of /proc/PID/status, bytes; NaN when absent. */
export function parseProcStatusMemory(text: string): { rssBytes: number; peakRssBytes: number } {
  const kb = (field: string): number => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m === null ? NaN : Number(m[1]) * 1024;
  };
  return { rssBytes: kb('VmRSS'), peakRssBytes: kb('VmHWM') };
}

export function readProcessRss(pid: number, procRoot = '/proc'): { rssBytes: number; peakRssBytes: number } {
  return parseProcStatusMemory(readFileSync(`${procRoot}/${pid}/status`, 'utf8'));
}

/** One value of a Prometheus text exposition: `name{labels} value`; NaN when absent. */
export function promValue(text: string, name: string, labels = ''): number {
  const wanted = labels === '' ? name : `${name}{${labels}}`;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const sp = line.lastIndexOf(' ');
    if (sp < 0) continue;
    const key = line.slice(0, sp);
    if (key === wanted || (labels === '' && key === `${name}{}`)) return Number(line.slice(sp + 1));
  }
  return NaN;
}

export interface HeapMetrics {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  majorGcs: number;
}

export function parseHeapMetrics(text: string): HeapMetrics {
  const p = METRIC_PREFIX;
  return {
    heapUsedBytes: promValue(text, `${p}nodejs_heap_size_used_bytes`),
    heapTotalBytes: promValue(text, `${p}nodejs_heap_size_total_bytes`),
    externalBytes: promValue(text, `${p}nodejs_external_memory_bytes`),
    majorGcs: promValue(text, `${p}nodejs_gc_duration_seconds_count`, 'kind="major"'),
  };
}

export interface MemorySample extends HeapMetrics {
  /** ms since the epoch. */
  at: number;
  rssBytes: number;
  peakRssBytes: number;
  /** `contacts` of GET /stats: bindings in the registrar's location table. */
  contacts: number;
  /** Live server + client transactions (GET /stats), which hold their messages until they end. */
  activeTransactions: number;
}

async function getText(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`BENCH_ERR_ADMIN: GET ${url} answered ${r.status}`);
  return r.text();
}

/** RSS of `pid` plus heap and contacts from the admin API at `adminUrl` (http://host:port). */
export async function sampleMemory(pid: number, adminUrl: string): Promise<MemorySample> {
  const [metrics, stats] = await Promise.all([getText(`${adminUrl}/metrics`), getText(`${adminUrl}/stats`)]);
  const s = JSON.parse(stats) as Record<string, unknown>;
  const num = (k: string): number => (typeof s[k] === 'number' ? s[k] : NaN);
  const heap = parseHeapMetrics(metrics);
  return {
    at: Date.now(),
    ...readProcessRss(pid),
    ...heap,
    // No mark-compact yet: prom-client has no kind="major" row until the first one.
    majorGcs: Number.isNaN(heap.majorGcs) ? 0 : heap.majorGcs,
    contacts: num('contacts'),
    activeTransactions: num('activeServerTransactions') + num('activeClientTransactions'),
  };
}

/**
 * Forces a full garbage collection in a running Node process from outside, with no code for it
 * in the proxy: SIGUSR1 makes Node open its inspector (on the port NODE_OPTIONS
 * `--inspect-port=N` gave the process at start; bound to 127.0.0.1), and the DevTools protocol's
 * `HeapProfiler.collectGarbage` runs V8's "collect all available garbage" (repeated mark-compacts,
 * memory-reducing, as a heap snapshot does first). Only the main thread's isolate is collected,
 * which is the whole proxy with `workers: 1`.
 */
export async function collectGarbage(pid: number, inspectPort: number, host = '127.0.0.1'): Promise<void> {
  process.kill(pid, 'SIGUSR1');
  let targets: { webSocketDebuggerUrl?: string }[];
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const r = await fetch(`http://${host}:${inspectPort}/json/list`, { signal: AbortSignal.timeout(2_000) });
      targets = (await r.json()) as { webSocketDebuggerUrl?: string }[];
      if (targets.length > 0) break;
    } catch {
      // The inspector is not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`BENCH_ERR_INSPECTOR: no inspector on ${host}:${inspectPort} after SIGUSR1`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const url = targets[0]!.webSocketDebuggerUrl;
  if (url === undefined) throw new Error('BENCH_ERR_INSPECTOR: the inspector lists no debugger URL');
  await new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(url);
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error('BENCH_ERR_INSPECTOR: HeapProfiler.collectGarbage did not answer in 120 s'));
    }, 120_000);
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    ws.onmessage = (ev: MessageEvent) => {
      const m = JSON.parse(String(ev.data)) as { id?: number; error?: { message: string } };
      if (m.id !== 1) return;
      clearTimeout(timer);
      ws.close();
      if (m.error) reject(new Error(`BENCH_ERR_INSPECTOR: ${m.error.message}`));
      else resolve();
    };
    ws.onerror = () => {
      clearTimeout(timer);
      reject(new Error(`BENCH_ERR_INSPECTOR: cannot connect to ${url}`));
    };
  });
}

export interface QuietReading {
  /** Lowest heapUsed and RSS over the quiet period's samples (see settle()). */
  heapUsedBytes: number;
  rssBytes: number;
  contacts: number;
  /** Mark-compacts during the quiet period, the forced collection included. */
  majorGcsDuring: number;
  /** Whether a full collection was forced through the inspector before the samples. */
  forcedGc: boolean;
  samples: number;
  /** Seconds waited for the last transactions to end before the quiet period. */
  drainSeconds: number;
}

export interface SettleOptions {
  /** Idle time sampled after the drain (and the forced collection). */
  quietMs: number;
  everyMs?: number;
  /** The proxy's `--inspect-port`: force a full GC through it (collectGarbage()); absent = do not. */
  inspectPort?: number;
}

/**
 * Waits until the proxy has no live transaction, optionally forces a full GC (collectGarbage()),
 * then samples for `quietMs` and returns the minimum heapUsed and RSS.
 *
 * Without the forced GC a reading includes whatever garbage V8 has not collected yet: measured
 * here, 100,000 REGISTERs left ~370 MB of heap (their ended transactions) that no mark-compact
 * collected in 30 idle seconds — V8's memory reducer did not start, since nothing allocates in an
 * idle proxy. The minimum over the samples then only smooths out the scrapes' own allocations.
 */
export async function settle(pid: number, adminUrl: string, o: SettleOptions): Promise<QuietReading> {
  // A REGISTER's server transaction keeps its request and response for Timer J (64*T1 = 32 s over
  // UDP, RFC 3261 §17.2.2) after the 200: memory read before they end is not the bindings' alone.
  const drainStart = Date.now();
  let first = await sampleMemory(pid, adminUrl);
  while (first.activeTransactions > 0 && Date.now() - drainStart < DRAIN_TIMEOUT_MS) {
    await new Promise((r) => setTimeout(r, 1_000));
    first = await sampleMemory(pid, adminUrl);
  }
  const drainSeconds = (Date.now() - drainStart) / 1000;
  const majorBefore = first.majorGcs;
  if (o.inspectPort !== undefined) {
    await collectGarbage(pid, o.inspectPort);
    first = await sampleMemory(pid, adminUrl);
  }
  let last = first;
  let heap = first.heapUsedBytes;
  let rss = first.rssBytes;
  let n = 1;
  const end = Date.now() + o.quietMs;
  while (Date.now() < end) {
    await new Promise((r) => setTimeout(r, o.everyMs ?? 2_000));
    last = await sampleMemory(pid, adminUrl);
    heap = Math.min(heap, last.heapUsedBytes);
    rss = Math.min(rss, last.rssBytes);
    n++;
  }
  return {
    heapUsedBytes: heap,
    rssBytes: rss,
    contacts: last.contacts,
    majorGcsDuring: last.majorGcs - majorBefore,
    forcedGc: o.inspectPort !== undefined,
    samples: n,
    drainSeconds,
  };
}

export const MiB = 1024 * 1024;

function mean(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/**
 * The soak's growth figure: the mean of the first and of the last third of a series of samples
 * (at least one sample each). Means over thirds, not first and last sample, so that one sample
 * taken just after a major GC (or just before one) does not decide the verdict.
 */
export function growthByThirds(values: readonly number[]): { first: number; last: number } {
  const k = Math.max(1, Math.floor(values.length / 3));
  return { first: mean(values.slice(0, k)), last: mean(values.slice(values.length - k)) };
}

/** Our proxy as bench:memory and bench:soak measure it, not yet started. */
export interface MeasuredProxy {
  server: OurProxyServer;
  sipPort: number;
  adminUrl: string;
  /** The port its inspector opens on SIGUSR1 (collectGarbage). */
  inspectPort: number;
}

/**
 * The proxy bench:memory and bench:soak read: standard route, memory location, the admin API on a
 * free port, and the inspector port a forced GC (collectGarbage) goes to — Node takes it from
 * NODE_OPTIONS, which the proxy inherits from us (the default 9229 may be someone else's here).
 * `loopThread: false` keeps the proxy's heap in the main isolate, the one the inspector's forced
 * GC and the heap figures reach; RSS is the process's either way.
 */
export async function measuredProxy(registry: ProcessRegistry, o: { host: string; proxyMain: string; workers: number; runDir: string }): Promise<MeasuredProxy> {
  const [sipPort] = await freeUdpPorts(o.host, 1);
  const adminPort = await freeTcpPort(o.host);
  const inspectPort = await freeTcpPort(o.host);
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --inspect-port=${o.host}:${inspectPort}`.trim();
  const server = new OurProxyServer(registry, {
    name: 'ours',
    mainJs: resolve(o.proxyMain),
    host: o.host,
    port: sipPort!,
    workers: o.workers,
    runDir: o.runDir,
    config: { admin: { listen: `${o.host}:${adminPort}` }, route: 'standard', usrloc: { dbMode: 'memory' }, loopThread: false },
  });
  return { server, sipPort: sipPort!, adminUrl: `http://${o.host}:${adminPort}`, inspectPort };
}
