#!/usr/bin/env node
/**
 * `npm run bench:soak`: calls through our sip-proxy at a constant rate for a long time (the
 * bench:proxy call step: SIPp UAC -> proxy -> SIPp UAS, stateful, record-routed), with the proxy's
 * whole-process RSS and V8 heap sampled at a fixed interval. It prints the memory curve and the
 * growth from the first to the last third of the run: a proxy that leaks per call grows linearly,
 * one that does not levels off once its transaction tables reach their steady size.
 * Method: bench/README.md.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import {
  clockTicksPerSecond,
  formatTable,
  installCleanupHandlers,
  ProcessRegistry,
  receiveBufferWarning,
  positiveNumber,
  positiveInt,
  runMain,
} from '../common/index.js';
import { callStepConfig, runCallStep } from '../proxy/call-step.js';
import { formatStepTable } from '../proxy/call-report.js';
import { growthByThirds, measuredProxy, MiB, sampleMemory, settle, type MemorySample } from '../memory/proxy-memory.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO_DIR = resolve(BENCH_DIR, '..');

interface CliOptions {
  minutes: number;
  rate: number;
  sampleEvery: number;
  workers: number;
  hold: number;
  routeBy: 'ruri' | 'registrar';
  recvTimeout: number;
  host: string;
  proxyMain: string;
  json?: string;
  keep: boolean;
}

function parseCli(argv: string[]): CliOptions {
  const program = new Command('bench-soak')
    .description('memory of our sip-proxy under a constant call rate over a long run')
    .addOption(new Option('--minutes <m>', 'length of the run').env('BENCH_SOAK_MINUTES').argParser(positiveNumber).default(30))
    .addOption(new Option('--rate <n>', 'calls per second').env('BENCH_SOAK_RATE').argParser(positiveInt).default(1000))
    .addOption(new Option('--sample-every <s>', 'seconds between memory samples').argParser(positiveInt).default(60))
    .addOption(new Option('--workers <n>', 'proxy worker threads (the proxy\'s default is 1)').argParser(positiveInt).default(1))
    .addOption(new Option('--hold <ms>', 'call hold time between ACK and BYE').argParser(Number).default(0))
    .addOption(
      new Option('--route-by <how>', 'ruri: R-URI names the UAS; registrar: the UAS registers, calls go through location lookup')
        .choices(['ruri', 'registrar'])
        .default('ruri'),
    )
    .addOption(new Option('--recv-timeout <ms>', 'SIPp fails a call waiting longer than this').argParser(positiveInt).default(5000))
    .addOption(new Option('--host <ip>', 'loopback address for the proxy and SIPp').default('127.0.0.1'))
    .addOption(new Option('--proxy-main <file>', 'our proxy entry point').default(join(REPO_DIR, 'services/proxy/dist/main.js')))
    .addOption(new Option('--json <file>', 'also write the samples and the call step as JSON'))
    .addOption(new Option('--keep', 'keep the run directory (proxy log, SIPp statistics)').default(false))
    .parse(argv);
  return program.opts<CliOptions>();
}

async function main(): Promise<number> {
  const o = parseCli(process.argv);
  const durationSec = Math.round(o.minutes * 60);
  const runDir = mkdtempSync(join(tmpdir(), 'bench-soak-'));
  const registry = new ProcessRegistry();
  const removeHandlers = installCleanupHandlers(registry, () => {
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  });
  // Idle readings before and after the calls force a full GC through the inspector (SIGUSR1).
  const { server, adminUrl, inspectPort } = await measuredProxy(registry, { host: o.host, proxyMain: o.proxyMain, workers: o.workers, runDir });
  try {
    console.log(`bench:soak — ${o.rate} calls/s for ${o.minutes} min through our sip-proxy, memory sampled every ${o.sampleEvery} s`);
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
    await server.start();
    console.log(`started: ${server.commandLine}`);
    for (const w of server.warnings) console.log(`WARNING: ${w}`);
    const rb = receiveBufferWarning(server);
    if (rb !== null) console.log(`WARNING: ${rb}`);
    const pid = server.rootPid;

    const before = await settle(pid, adminUrl, { quietMs: 10_000, inspectPort });
    console.log(`[idle, after a forced GC] RSS ${(before.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(before.heapUsedBytes / MiB).toFixed(1)} MiB`);

    const samples: MemorySample[] = [];
    const t0 = Date.now();
    const take = async (): Promise<void> => {
      try {
        const s = await sampleMemory(pid, adminUrl);
        samples.push(s);
        console.log(
          `[${((s.at - t0) / 60_000).toFixed(1)} min] RSS ${(s.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(s.heapUsedBytes / MiB).toFixed(1)} MiB, ` +
            `${s.activeTransactions} live transactions`,
        );
      } catch (err) {
        console.log(`sample failed: ${(err as Error).message}`);
      }
    };
    await take();
    const timer = setInterval(() => void take(), o.sampleEvery * 1000);

    const cfg = callStepConfig({
      host: o.host,
      durationSec,
      recvTimeoutMs: o.recvTimeout,
      callHoldMs: o.hold,
      routeBy: o.routeBy,
      ticksPerSecond: clockTicksPerSecond(),
    });
    let step;
    try {
      step = await runCallStep(registry, server, o.rate, cfg, join(runDir, 'soak'));
    } finally {
      clearInterval(timer);
    }
    // The curve ends with the calls: the last sample is taken as the UAC finishes.
    await take();
    const after = await settle(pid, adminUrl, { quietMs: 10_000, inspectPort });

    console.log(`\n== Calls (one step of ${durationSec} s)\n`);
    console.log(formatStepTable({ target: 'ours', steps: [{ rate: o.rate, outcome: step }], highestStableRate: step.stable ? o.rate : NaN }));
    console.log('\n== Memory curve (whole process RSS; V8 heapUsed of the thread serving the admin API)\n');
    console.log(
      formatTable(
        [
          { header: 'minute', align: 'right' },
          { header: 'RSS MiB', align: 'right' },
          { header: 'heapUsed MiB', align: 'right' },
          { header: 'live transactions', align: 'right' },
        ],
        samples.map((s) => [
          ((s.at - t0) / 60_000).toFixed(1),
          (s.rssBytes / MiB).toFixed(1),
          (s.heapUsedBytes / MiB).toFixed(1),
          String(s.activeTransactions),
        ]),
      ),
    );
    // The t=0 sample is the idle proxy before any call: growth is judged on the samples under load.
    const loaded = samples.slice(1);
    const rss = growthByThirds(loaded.map((s) => s.rssBytes));
    const heap = growthByThirds(loaded.map((s) => s.heapUsedBytes));
    const line = (what: string, t: { first: number; last: number }): string =>
      `${what}: first third ${(t.first / MiB).toFixed(1)} MiB, last third ${(t.last / MiB).toFixed(1)} MiB, ` +
      `growth ${((t.last - t.first) / MiB).toFixed(1)} MiB (${(((t.last - t.first) / t.first) * 100).toFixed(1)} %)`;
    console.log(`\n${line('RSS', rss)}\n${line('heapUsed', heap)}`);
    console.log(
      `idle before: RSS ${(before.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(before.heapUsedBytes / MiB).toFixed(1)} MiB; ` +
        `idle after (transactions ended after ${after.drainSeconds.toFixed(0)} s, then a forced GC): ` +
        `RSS ${(after.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(after.heapUsedBytes / MiB).toFixed(1)} MiB`,
    );
    if (loaded.length < 6) console.log('NOTE: fewer than 6 samples under load: the thirds are one or two samples each');
    if (o.json !== undefined) {
      writeFileSync(o.json, JSON.stringify({ rate: o.rate, minutes: o.minutes, workers: server.effectiveWorkers, before, after, samples, step }, null, 2));
      console.log(`results written to ${o.json}`);
    }
    if (o.keep) console.log(`logs kept in ${runDir}`);
    return 0;
  } finally {
    await server.stop().catch(() => undefined);
    await registry.stopAll();
    removeHandlers();
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(main);
