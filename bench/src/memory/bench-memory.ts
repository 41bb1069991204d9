#!/usr/bin/env node
/**
 * `npm run bench:memory`: the memory a registration costs in our sip-proxy. The proxy runs the
 * standard route (no database, so the in-memory location table and no digest auth); SIPp
 * registers batches of new, unique AORs at a high rate; after each batch the bench waits until
 * the transactions have ended, forces a full GC from outside (SIGUSR1 + the inspector protocol,
 * no code in the proxy), reads the whole process's RSS and the V8 heap (admin API), and checks that the
 * registrar holds every binding (`GET /stats` contacts = registrations so far).
 * Per-contact figures are (reading - baseline) / contacts. Method: bench/README.md.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import {
  formatTable,
  freeUdpPorts,
  installCleanupHandlers,
  ProcessRegistry,
  SippRun,
  positiveInt,
  runMain,
  intList,
} from '../common/index.js';
import { measuredProxy, MiB, settle, type QuietReading } from './proxy-memory.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO_DIR = resolve(BENCH_DIR, '..');
const SCENARIO = join(BENCH_DIR, 'src', 'memory', 'register-unique.xml');
/** SIPp runs per reading to reach its contact count. */
const MAX_ROUNDS = 4;

interface CliOptions {
  contacts: number[];
  rate: number;
  expires: number;
  workers: number;
  quiet: number;
  gc: boolean;
  host: string;
  proxyMain: string;
  recvTimeout: number;
  json?: string;
  keep: boolean;
}

function parseCli(argv: string[]): CliOptions {
  const program = new Command('bench-memory')
    .description('memory per registration of our sip-proxy: RSS and V8 heap at 0, 100k, 1M contacts')
    .addOption(
      new Option('--contacts <list>', 'registered contacts at which memory is read (rising)')
        .env('BENCH_CONTACTS')
        .argParser(intList)
        .default([100_000, 1_000_000]),
    )
    .addOption(new Option('--rate <n>', 'REGISTERs per second SIPp sends').env('BENCH_RATE').argParser(positiveInt).default(5000))
    .addOption(new Option('--expires <s>', 'Expires of every registration').argParser(positiveInt).default(3600))
    .addOption(new Option('--workers <n>', 'proxy worker threads (each holds a full copy of the location table)').argParser(positiveInt).default(1))
    .addOption(new Option('--quiet <s>', 'idle seconds sampled for each reading (after transactions ended and the GC)').argParser(positiveInt).default(10))
    .addOption(new Option('--no-gc', 'do not force a full GC (SIGUSR1 + inspector) before each reading'))
    .addOption(new Option('--recv-timeout <ms>', 'SIPp fails a registration waiting longer than this').argParser(positiveInt).default(10_000))
    .addOption(new Option('--host <ip>', 'loopback address for the proxy and SIPp').default('127.0.0.1'))
    .addOption(new Option('--proxy-main <file>', 'our proxy entry point').default(join(REPO_DIR, 'services/proxy/dist/main.js')))
    .addOption(new Option('--json <file>', 'also write the readings as JSON'))
    .addOption(new Option('--keep', 'keep the run directory (proxy log, SIPp statistics)').default(false))
    .parse(argv);
  const o = program.opts<CliOptions>();
  if (o.expires < 60) program.error('--expires must be at least 60 (the registrar\'s minimum)');
  for (let i = 1; i < o.contacts.length; i++) {
    if (o.contacts[i]! <= o.contacts[i - 1]!) program.error('--contacts must rise');
  }
  return o;
}

interface Reading extends QuietReading {
  target: number;
  registered: number;
  failed: number;
  registerSeconds: number;
}

/** Growth over the baseline per binding the registrar actually holds (GET /stats contacts). */
function perContact(r: Reading, base: Reading): { rss: number; heap: number } {
  return { rss: (r.rssBytes - base.rssBytes) / r.contacts, heap: (r.heapUsedBytes - base.heapUsedBytes) / r.contacts };
}

async function main(): Promise<number> {
  const o = parseCli(process.argv);
  const runDir = mkdtempSync(join(tmpdir(), 'bench-memory-'));
  const registry = new ProcessRegistry();
  const removeHandlers = installCleanupHandlers(registry, () => {
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  });
  const { server, sipPort, adminUrl, inspectPort } = await measuredProxy(registry, { host: o.host, proxyMain: o.proxyMain, workers: o.workers, runDir });
  const settleOptions = { quietMs: o.quiet * 1000, ...(o.gc ? { inspectPort } : {}) };
  try {
    console.log('bench:memory — registrations held by our sip-proxy (standard route, memory location, no auth)');
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
    await server.start();
    console.log(`started: ${server.commandLine}`);
    for (const w of server.warnings) console.log(`WARNING: ${w}`);
    console.log(`worker threads: ${server.effectiveWorkers} (the proxy's default, config key workers, is 1); run dir ${runDir}`);

    const pid = server.rootPid;
    const readings: Reading[] = [];
    const base0 = await settle(pid, adminUrl, settleOptions);
    const base: Reading = { ...base0, target: 0, registered: 0, failed: 0, registerSeconds: 0 };
    readings.push(base);
    console.log(
      `[0 contacts] RSS ${(base.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(base.heapUsedBytes / MiB).toFixed(1)} MiB ` +
        `(${base.majorGcsDuring} major GCs${o.gc ? ' (the forced one included)' : ''}, ${o.quiet} s quiet)`,
    );
    let registered = 0;
    let batch = 0;
    let held = 0;
    for (const target of o.contacts) {
      if (target <= held) throw new Error(`BENCH_ERR_CONTACTS: already ${held} bindings, not fewer than ${target}`);
      let ok = 0;
      let failed = 0;
      let seconds = 0;
      // Tops up until `target` bindings are held: a REGISTER SIPp gave up on (no answer within
      // --recv-timeout while the proxy was saturated) may still have been saved, or not.
      for (let round = 1; held < target && round <= MAX_ROUNDS; round++) {
        const count = target - held;
        batch++;
        const [uacPort] = await freeUdpPorts(o.host, 1);
        const workDir = join(runDir, `batch-${batch}`);
        mkdirSync(workDir, { recursive: true });
        const t0 = Date.now();
        const uac = SippRun.start(registry, {
          role: 'register',
          scenarioFile: SCENARIO,
          localIp: o.host,
          localPort: uacPort!,
          remote: `${o.host}:${sipPort}`,
          rate: o.rate,
          maxCalls: count,
          // A prefix per batch keeps every AOR unique across SIPp runs (call numbers restart at 1).
          keys: { prefix: `m${batch}u`, expires: String(o.expires) },
          recvTimeoutMs: o.recvTimeout,
          traceRtt: false,
          workDir,
        });
        const deadlineMs = Math.ceil((count / o.rate) * 3_000) + o.recvTimeout * 2 + 30_000;
        if ((await uac.process.waitForExit(deadlineMs)) === null) {
          console.log(`SIPp still running after ${Math.round(deadlineMs / 1000)} s: stopping it`);
          await uac.stop(o.recvTimeout + 2_000);
        }
        const t = uac.collect().totals;
        const took = (Date.now() - t0) / 1000;
        seconds += took;
        ok += t.successful;
        failed += t.failed;
        registered += t.successful;
        // Transactions ended: every REGISTER the proxy will ever answer has been saved.
        held = (await settle(pid, adminUrl, { quietMs: 0 })).contacts;
        console.log(
          `[${target} contacts, round ${round}] SIPp: ${t.successful} answered 200, ${t.failed} given up, ${took.toFixed(0)} s ` +
            `(${(t.successful / took).toFixed(0)}/s); /stats contacts ${held}`,
        );
      }
      const q = await settle(pid, adminUrl, settleOptions);
      held = q.contacts;
      const r: Reading = { ...q, target, registered, failed, registerSeconds: seconds };
      readings.push(r);
      const pc = perContact(r, base);
      console.log(
        `[${target} contacts] ${ok} REGISTERs answered 200, ${failed} given up by SIPp; /stats contacts ${q.contacts}; ` +
          `RSS ${(q.rssBytes / MiB).toFixed(1)} MiB, heapUsed ${(q.heapUsedBytes / MiB).toFixed(1)} MiB ` +
          `(${q.majorGcsDuring} major GCs${o.gc ? ', the forced one included' : ''}, ${o.quiet} s quiet); ` +
          `per contact: RSS ${pc.rss.toFixed(0)} B, heap ${pc.heap.toFixed(0)} B`,
      );
      if (q.contacts < registered) console.log(`WARNING: the registrar holds ${q.contacts} bindings, SIPp saw ${registered} registrations answered 200`);
    }

    console.log('\n== Memory per registered contact (whole process RSS; V8 heapUsed of the thread serving the admin API)\n');
    const rows = readings.map((r) => {
      const pc = r.target === 0 ? null : perContact(r, base);
      return [
        String(r.target),
        String(r.contacts),
        r.target === 0 ? '-' : String(r.failed),
        (r.rssBytes / MiB).toFixed(1),
        (r.heapUsedBytes / MiB).toFixed(1),
        pc === null ? '-' : pc.rss.toFixed(0),
        pc === null ? '-' : pc.heap.toFixed(0),
        String(r.majorGcsDuring),
      ];
    });
    console.log(
      formatTable(
        [
          { header: 'contacts', align: 'right' },
          { header: '/stats contacts', align: 'right' },
          { header: 'given up by SIPp', align: 'right' },
          { header: 'RSS MiB', align: 'right' },
          { header: 'heapUsed MiB', align: 'right' },
          { header: 'RSS B/contact', align: 'right' },
          { header: 'heap B/contact', align: 'right' },
          { header: 'major GCs', align: 'right' },
        ],
        rows,
      ),
    );
    // Lost = a registration SIPp saw answered 200 that the location table does not hold.
    const lost = readings.some((r) => r.contacts < r.registered);
    const complete = readings.every((r) => r.contacts === r.target);
    console.log(
      lost
        ? '\nWARNING: the location table holds fewer bindings than SIPp saw registered'
        : complete
          ? '\nall registrations held: /stats contacts = contacts registered at every reading'
          : '\nno registration lost, but not every REGISTER was answered in time (see failed)',
    );
    if (o.json !== undefined) {
      writeFileSync(o.json, JSON.stringify({ rate: o.rate, expires: o.expires, workers: server.effectiveWorkers, quietSeconds: o.quiet, readings }, null, 2));
      console.log(`results written to ${o.json}`);
    }
    if (o.keep) console.log(`logs kept in ${runDir}`);
    return lost ? 1 : 0;
  } finally {
    await server.stop().catch(() => undefined);
    await registry.stopAll();
    removeHandlers();
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(main);
