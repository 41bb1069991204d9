#!/usr/bin/env node
/**
 * bench:overload (`node bench/dist/overload/bench-overload.js`): the overload figure of
 * docs/security.md. Our sip-proxy is started as a new user starts it — `--listen`, `--admin`,
 * `--db file:<provisioning>`, no config file: the provider route, one event loop, every edge
 * protection at its default — and SIPp offers calls at `--multiple` × `--rate` (the highest
 * stable rate, found with bench:proxy or an earlier run of this one):
 *
 *   SIPp UAC (carol@other.example.net, foreign: not challenged)
 *     --INVITE sip:bob@example.com--> proxy --location--> SIPp UAS (registered as bob)
 *     <-- 200 (answered at once) or 503 + Retry-After (the proxy is overloaded) --
 *
 * It prints offered vs served calls/s, the 503s (the proxy's overload_rejected; SIPp fails a
 * call whose 503 lacks Retry-After), failed calls, the overload episodes and kernel drops from
 * the proxy's /metrics, and whether one ordinary call succeeds right after the burst (the proxy
 * recovers by itself). Method and figures: docs/security.md "Measured".
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import {
  fmt,
  formatTable,
  freeUdpPorts,
  installCleanupHandlers,
  parseProcNetUdp,
  ProcessRegistry,
  SippRun,
  waitForSipResponder,
  type LaunchedProcess,
  type SippResult,
  positiveNumber,
  positiveInt,
  runMain,
  freeTcpPort,
} from '../common/index.js';
import { promValue } from '../memory/proxy-memory.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO_DIR = resolve(BENCH_DIR, '..');
const DOMAIN = 'example.com';
const CALLEE = { user: 'bob', password: 'bob-pw' };
/** The proxy's edge gauges in /metrics (docs/security.md "Metrics"). */
const GAUGES = ['overload_rejected', 'overload_episodes', 'udp_drops', 'pike_dropped', 'event_loop_delay_p99_ms'] as const;
type Gauges = Record<(typeof GAUGES)[number], number>;

interface CliOptions {
  rate: number;
  multiple: number;
  duration: number;
  recvTimeout: number;
  host: string;
  proxyMain: string;
  json?: string;
  keep: boolean;
}

function parseCli(argv: string[]): CliOptions {
  return new Command('bench-overload')
    .description('calls offered to our default sip-proxy at a multiple of its highest stable rate: 503s, served and failed calls')
    .addOption(new Option('--rate <n>', 'the highest stable rate (calls/s) on this machine').env('BENCH_OVERLOAD_RATE').argParser(positiveInt).default(1000))
    .addOption(new Option('--multiple <x>', 'offered rate = multiple × rate').env('BENCH_OVERLOAD_MULTIPLE').argParser(positiveNumber).default(2))
    .addOption(new Option('--duration <s>', 'seconds of calls offered').env('BENCH_OVERLOAD_DURATION').argParser(positiveInt).default(10))
    .addOption(new Option('--recv-timeout <ms>', 'SIPp fails a call waiting longer than this').argParser(positiveInt).default(5000))
    .addOption(new Option('--host <ip>', 'loopback address for the proxy and SIPp').default('127.0.0.1'))
    .addOption(new Option('--proxy-main <file>', 'our proxy entry point').default(join(REPO_DIR, 'services/proxy/dist/main.js')))
    .addOption(new Option('--json <file>', 'also write the result as JSON'))
    .addOption(new Option('--keep', 'keep the run directory (proxy log, SIPp statistics and errors)').default(false))
    .parse(argv)
    .opts<CliOptions>();
}

async function gauges(adminUrl: string): Promise<Gauges> {
  const text = await (await fetch(`${adminUrl}/metrics`)).text();
  const out = {} as Gauges;
  for (const g of GAUGES) out[g] = promValue(text, 'sip_proxy_state', `name="${g}"`);
  return out;
}

/** Waits until SIPp has bound its UDP port (the UAS is up) or exited. */
async function waitForUdpBind(port: number, p: LaunchedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (p.hasExited) throw new Error(`BENCH_ERR_EXITED: ${p.name} exited at start; see ${p.logFile}`);
    if (parseProcNetUdp(readFileSync('/proc/net/udp', 'utf8')).some((s) => s.localPort === port)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`BENCH_ERR_NOT_READY: ${p.name} did not bind UDP port ${port} in ${timeoutMs} ms`);
}

/** Runs a SIPp client to its end (bounded); what it measured. */
async function runToEnd(run: SippRun, deadlineMs: number, graceMs: number): Promise<SippResult> {
  if ((await run.process.waitForExit(deadlineMs)) === null) await run.stop(graceMs);
  return run.collect();
}

export interface OverloadResult {
  readonly offeredRate: number;
  readonly durationSec: number;
  readonly planned: number;
  readonly created: number;
  /** Calls the UAS answered (200, ACK, BYE): served. */
  readonly served: number;
  readonly servedRate: number;
  /** The proxy's overload_rejected over the burst: 503 + Retry-After. */
  readonly refused503: number;
  /** UAC-side calls that failed (timeout, unexpected answer, a 503 without Retry-After) or never completed. */
  readonly failed: number;
  readonly overloadEpisodes: number;
  readonly udpDrops: number;
  readonly pikeDropped: number;
  readonly eventLoopP99Ms: number;
  readonly proxyAlive: boolean;
  /** One call offered alone after the burst was answered. */
  readonly recovered: boolean;
}

async function main(): Promise<number> {
  const o = parseCli(process.argv);
  const runDir = mkdtempSync(join(tmpdir(), 'bench-overload-'));
  const registry = new ProcessRegistry();
  const removeHandlers = installCleanupHandlers(registry, () => {
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  });
  const offeredRate = Math.round(o.rate * o.multiple);
  const planned = offeredRate * o.duration;
  const [sipPort, uasPort, uacPort] = await freeUdpPorts(o.host, 3);
  const adminPort = await freeTcpPort(o.host);
  const adminUrl = `http://${o.host}:${adminPort}`;
  const subscribers = join(runDir, 'subscribers.yaml');
  writeFileSync(subscribers, stringify({ domains: [DOMAIN], subscribers: [{ username: CALLEE.user, domain: DOMAIN, password: CALLEE.password }] }));
  const proxyArgs = [resolve(o.proxyMain), '--listen', `udp:${o.host}:${sipPort}`, '--admin', `${o.host}:${adminPort}`, '--db', `file:${subscribers}`, '--log-level', 'warn'];
  const sippBase = { localIp: o.host, recvTimeoutMs: o.recvTimeout, traceRtt: false, workDir: runDir } as const;
  try {
    console.log(`bench:overload — ${offeredRate} calls/s (${o.multiple} × ${o.rate}) for ${o.duration} s into our default sip-proxy`);
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
    console.log(`proxy: node ${proxyArgs.join(' ')}`);
    const proxy = registry.launch({ name: 'sip-proxy', command: process.execPath, args: proxyArgs, cwd: runDir, logFile: join(runDir, 'proxy.log'), processGroup: true });
    await waitForSipResponder({ host: o.host, port: sipPort!, timeoutMs: 15_000, abort: () => (proxy.hasExited ? `BENCH_ERR_EXITED: the proxy exited; see ${proxy.logFile}` : null) });

    // bob registers (digest) from the port his UAS then answers on.
    const reg = await runToEnd(
      SippRun.start(registry, {
        ...sippBase,
        role: 'register',
        scenarioFile: join(BENCH_DIR, 'src', 'register', 'register-digest.xml'),
        localPort: uasPort!,
        remote: `${o.host}:${sipPort}`,
        maxCalls: 1,
        keys: { user: CALLEE.user, domain: DOMAIN },
        extraArgs: ['-au', CALLEE.user, '-ap', CALLEE.password],
      }),
      o.recvTimeout + 5_000,
      1_000,
    );
    if (reg.totals.successful !== 1) throw new Error(`BENCH_ERR_REGISTER: bob did not register:\n${reg.errorExcerpt}`);
    const uas = SippRun.start(registry, { ...sippBase, role: 'uas', scenarioFile: join(BENCH_DIR, 'scenarios', 'uas-call.xml'), localPort: uasPort! });
    await waitForUdpBind(uasPort!, uas.process, 5_000);

    const caller = (role: string, rate: number, calls: number): SippRun =>
      SippRun.start(registry, {
        ...sippBase,
        role,
        // The edge suite's overload caller: the same call-or-503 flow the test asserts on.
        scenarioFile: join(BENCH_DIR, '..', 'integration', 'src', 'edge', 'scenarios', 'uac-call-or-503.xml'),
        localPort: uacPort!,
        remote: `${o.host}:${sipPort}`,
        rate,
        maxCalls: calls,
        keys: { caller: 'carol', caller_domain: 'other.example.net', callee: CALLEE.user, domain: DOMAIN },
        // SIPp's own limit on calls in progress (default 3 × rate) would cap the offer.
        extraArgs: ['-l', String(Math.max(1_000, offeredRate * 10))],
      });

    const g0 = await gauges(adminUrl);
    const burst = await runToEnd(caller('uac', offeredRate, planned), o.duration * 2_000 + o.recvTimeout * 2 + 10_000, o.recvTimeout + 2_000);
    const g1 = await gauges(adminUrl);
    // Recovery: one ordinary call, offered alone once the burst is over.
    const after = await runToEnd(caller('uac-after', 1, 1), o.recvTimeout * 2 + 10_000, 1_000);
    const proxyAlive = !proxy.hasExited;
    await uas.stop(o.recvTimeout + 3_000);
    const served = uas.collect().totals.successful - after.totals.successful;

    const result: OverloadResult = {
      offeredRate,
      durationSec: o.duration,
      planned,
      created: burst.totals.created,
      served,
      servedRate: served / o.duration,
      refused503: g1.overload_rejected - g0.overload_rejected,
      failed: burst.totals.failed + Math.max(0, planned - burst.totals.successful - burst.totals.failed),
      overloadEpisodes: g1.overload_episodes - g0.overload_episodes,
      udpDrops: g1.udp_drops - g0.udp_drops,
      pikeDropped: g1.pike_dropped - g0.pike_dropped,
      eventLoopP99Ms: g1.event_loop_delay_p99_ms,
      proxyAlive,
      recovered: after.totals.successful === 1 && after.totals.failed === 0,
    };
    console.log('');
    console.log(
      formatTable(
        [
          { header: 'offered/s', align: 'right' },
          { header: 'calls', align: 'right' },
          { header: 'served', align: 'right' },
          { header: 'served/s', align: 'right' },
          { header: '503+RA', align: 'right' },
          { header: 'failed', align: 'right' },
          { header: 'failed %', align: 'right' },
          { header: 'episodes', align: 'right' },
          { header: 'udp drops', align: 'right' },
          { header: 'alive', align: 'left' },
          { header: 'next call', align: 'left' },
        ],
        [
          [
            String(result.offeredRate),
            String(result.planned),
            String(result.served),
            fmt(result.servedRate),
            String(result.refused503),
            String(result.failed),
            fmt((result.failed / result.planned) * 100, 1),
            String(result.overloadEpisodes),
            String(result.udpDrops),
            result.proxyAlive ? 'yes' : 'NO',
            result.recovered ? 'answered' : 'FAILED',
          ],
        ],
      ),
    );
    console.log('');
    console.log('served: calls the UAS answered; 503+RA: the proxy\'s overload_rejected (SIPp fails a 503 without Retry-After);');
    console.log('failed: calls SIPp failed or never completed; episodes, udp drops: the proxy\'s /metrics over the burst.');
    if (result.pikeDropped > 0) console.log(`WARNING: pike dropped ${result.pikeDropped} requests (SIPp's address is not loopback?)`);
    if (burst.errorExcerpt !== '') console.log(`first SIPp errors:\n${burst.errorExcerpt.slice(0, 600)}`);
    if (o.json !== undefined) writeFileSync(o.json, JSON.stringify({ options: o, result }, null, 2));
    if (o.keep) console.log(`run directory kept: ${runDir}`);
    return result.proxyAlive && result.recovered ? 0 : 1;
  } finally {
    await registry.stopAll();
    removeHandlers();
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  }
}

runMain(main);
