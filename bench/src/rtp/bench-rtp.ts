#!/usr/bin/env node
/**
 * `npm run bench:rtp`: N calls are offered over ng to our rtp-relay and to Debian's rtpengine
 * (userspace forwarding, --table=-1, no kernel module), each call streams G.711 at 50 packets/s
 * both ways, and each step reports packets/s forwarded, loss, one-way latency through the relay
 * (p50/p99) and the relay's CPU. A direct endpoint-to-endpoint run at the same N gives the
 * baseline, so "added" latency is what the relay adds. Steps are interleaved (ours, rtpengine,
 * direct at each N) so both relays see the same machine load. The summary gives each relay's
 * highest sustained rate with < 0.1 % loss and the ratio.
 */
import { cpus, loadavg, tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { NgClient } from '@voip/rtpproxy';
import {
  clockTicksPerSecond,
  fmt,
  fmtRatio,
  formatTable,
  freeUdpPorts,
  installCleanupHandlers,
  ProcessRegistry,
  ProcessTreeCpuSampler,
  type LaunchedProcess,
} from '../common/index.js';
import { runRtpLoad, type LoadResult } from './rtp-load.js';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const HOST = '127.0.0.1';
const MAX_LOSS_PCT = 0.1;
/** A step is sustained when nothing is lost, the relay keeps pace and latency stays usable. */
const MIN_RECEIVED_SHARE = 0.99;
/** One-way p99 through the relay; ITU-T G.114 budgets 150 ms mouth-to-ear for the whole path. */
const MAX_P99_MS = 50;

function sustainedStep(r: LoadResult): boolean {
  return r.lossPct < MAX_LOSS_PCT && r.setupErrors === 0 && r.achievedPps >= MIN_RECEIVED_SHARE * r.targetPps && r.p99Ms < MAX_P99_MS;
}

interface Options {
  calls: number[];
  warmup: number;
  measure: number;
  workers: number;
  keep: boolean;
}

interface Target {
  readonly name: string;
  readonly proc: LaunchedProcess | null;
  readonly ng: NgClient | null;
  failures: number;
  readonly results: Map<number, StepResult>;
}

interface StepResult extends LoadResult {
  readonly cpuPct: number;
}

function intList(v: string): number[] {
  const out = v.split(',').map((x) => Number(x.trim()));
  if (out.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`bad list: ${v}`);
  return out;
}

async function waitForPing(ng: NgClient, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  for (;;) {
    try {
      if ((await ng.request('ping'))['result'] === 'pong') return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${what} did not answer ng ping`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  const o = new Command()
    .name('bench-rtp')
    .option('--calls <list>', 'concurrent calls per step', intList, [100, 250, 500, 650, 800, 1000, 1250])
    .option('--warmup <ms>', 'warm-up before measuring, per step', Number, 1000)
    .option('--measure <ms>', 'measured streaming time per step', Number, 4000)
    .option('--workers <n>', 'media workers of rtp-relay', Number, 2)
    .option('--keep', 'keep the logs directory')
    .parse(process.argv)
    .opts<Options>();

  const dir = mkdtempSync(join(tmpdir(), 'bench-rtp-'));
  const registry = new ProcessRegistry();
  const removeHandlers = installCleanupHandlers(registry, () => {
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  });
  const ticks = clockTicksPerSecond();
  const [oursNg, engineNg] = await freeUdpPorts(HOST, 2);
  const targets: Target[] = [];
  try {
    const ours = registry.launch({
      name: 'rtp-relay',
      command: process.execPath,
      args: [join(REPO_DIR, 'services', 'rtpproxy', 'dist', 'main.js'), '--ng', `udp:${HOST}:${oursNg}`, '--media-ip', HOST,
        '--ports', '10000-17999', '--workers', String(o.workers), '--http', 'off', '--log-level', 'warn', '--max-sessions', '100000'],
      cwd: dir,
      logFile: join(dir, 'rtp-relay.log'),
      processGroup: true,
    });
    const engine = registry.launch({
      name: 'rtpengine',
      command: 'rtpengine',
      args: ['--table=-1', '--foreground', '--log-stderr', '--log-level=3', `--interface=${HOST}`, `--listen-ng=${HOST}:${engineNg}`,
        '--port-min=18000', '--port-max=25999', '--delete-delay=0', '--timeout=60'],
      cwd: dir,
      logFile: join(dir, 'rtpengine.log'),
      processGroup: true,
    });
    const ngOurs = new NgClient(HOST, oursNg, { timeoutMs: 2000, tries: 3 });
    const ngEngine = new NgClient(HOST, engineNg, { timeoutMs: 2000, tries: 3 });
    await waitForPing(ngOurs, 'rtp-relay');
    await waitForPing(ngEngine, 'rtpengine');
    targets.push(
      { name: 'rtp-relay', proc: ours, ng: ngOurs, failures: 0, results: new Map() },
      { name: 'rtpengine', proc: engine, ng: ngEngine, failures: 0, results: new Map() },
      { name: 'direct', proc: null, ng: null, failures: 0, results: new Map() },
    );

    console.log(`bench:rtp on ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`G.711 20 ms (172-byte RTP), 50 packets/s each way per call; ${o.warmup} ms warm-up + ${o.measure} ms measured per step\n`);
    const rows: string[][] = [];
    for (const calls of o.calls) {
      // A relay that failed two steps is done; the direct baseline runs while any relay does.
      const live = targets.filter((t) => t.name === 'direct' || t.failures < 2);
      if (live.every((t) => t.name === 'direct')) break;
      for (const t of live) {
        const sampler = t.proc === null ? null : new ProcessTreeCpuSampler(t.proc.pid, ticks);
        let cpuStart = 0;
        let cpuEnd = 0;
        const r = await runRtpLoad(t.ng ?? ngOurs, {
          host: HOST,
          calls,
          warmupMs: o.warmup,
          measureMs: o.measure,
          drainMs: 500,
          direct: t.ng === null,
          onWindow: (edge) => {
            const s = sampler?.sample().cpuSeconds ?? 0;
            if (edge === 'start') cpuStart = s;
            else cpuEnd = s;
          },
        });
        const res: StepResult = { ...r, cpuPct: sampler === null ? NaN : ((cpuEnd - cpuStart) / (o.measure / 1000)) * 100 };
        t.results.set(calls, res);
        if (!sustainedStep(res)) t.failures++;
        const row = [t.name, String(calls), fmt(res.targetPps), fmt(res.achievedPps), fmt(res.lossPct, 3), fmt(res.p50Ms, 2), fmt(res.p99Ms, 2), fmt(res.cpuPct, 0), String(res.setupErrors)];
        rows.push(row);
        console.log(row.join('\t'));
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    console.log('\n' + formatTable(
      [
        { header: 'target', align: 'left' },
        { header: 'calls', align: 'right' },
        { header: 'offered pps', align: 'right' },
        { header: 'received pps', align: 'right' },
        { header: 'loss %', align: 'right' },
        { header: 'p50 ms', align: 'right' },
        { header: 'p99 ms', align: 'right' },
        { header: 'relay CPU %', align: 'right' },
        { header: 'setup err', align: 'right' },
      ],
      rows,
    ));

    // Summary: highest step with < 0.1 % loss per relay, latency added over the direct path.
    const direct = targets[2].results;
    const best = (t: Target): { calls: number; r: StepResult } | null => {
      let out: { calls: number; r: StepResult } | null = null;
      for (const [calls, r] of t.results) if (sustainedStep(r) && (out === null || calls > out.calls)) out = { calls, r };
      return out;
    };
    const summary: string[][] = [];
    const sustained: number[] = [];
    for (const t of targets.slice(0, 2)) {
      const b = best(t);
      if (b === null) {
        summary.push([t.name, '-', '-', '-', '-', '-']);
        sustained.push(NaN);
        continue;
      }
      const d = direct.get(b.calls);
      sustained.push(b.r.achievedPps);
      summary.push([
        t.name,
        String(b.calls),
        fmt(b.r.achievedPps),
        fmt(b.r.p50Ms - (d?.p50Ms ?? NaN), 3),
        fmt(b.r.p99Ms - (d?.p99Ms ?? NaN), 3),
        fmt(b.r.cpuPct, 0),
      ]);
    }
    console.log(`\nSustained forwarding (loss < ${MAX_LOSS_PCT} %, >= ${MIN_RECEIVED_SHARE * 100} % of offered packets/s received, p99 < ${MAX_P99_MS} ms);`);
    console.log('added latency = through the relay minus the direct path at the same load:\n');
    console.log(formatTable(
      [
        { header: 'relay', align: 'left' },
        { header: 'calls', align: 'right' },
        { header: 'packets/s', align: 'right' },
        { header: 'added p50 ms', align: 'right' },
        { header: 'added p99 ms', align: 'right' },
        { header: 'CPU %', align: 'right' },
      ],
      summary,
    ));
    console.log(`\nratio rtp-relay / rtpengine (sustained packets/s): ${fmtRatio(sustained[0], sustained[1])}`);
    // CPU per packet at the largest step both relays passed: the fairer comparison when
    // the load generator, not the relay, is the ceiling.
    const common = [...targets[0].results.keys()].filter((c) => {
      const a = targets[0].results.get(c);
      const b = targets[1].results.get(c);
      return a !== undefined && b !== undefined && sustainedStep(a) && sustainedStep(b);
    });
    if (common.length > 0) {
      const c = Math.max(...common);
      const a = targets[0].results.get(c)!;
      const b = targets[1].results.get(c)!;
      const perPacket = (r: StepResult): number => ((r.cpuPct / 100) * 1e6) / r.achievedPps; // CPU µs per packet
      console.log(`CPU per forwarded packet at ${c} calls: rtp-relay ${fmt(perPacket(a), 1)} µs, rtpengine ${fmt(perPacket(b), 1)} µs (${fmtRatio(perPacket(a), perPacket(b))})`);
    }
    if (o.keep) console.log(`\nlogs: ${dir}`);
    ngOurs.close();
    ngEngine.close();
  } finally {
    await registry.stopAll();
    removeHandlers();
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
