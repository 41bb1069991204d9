#!/usr/bin/env node
/**
 * `npm run bench:register`: REGISTER/s with MySQL digest authentication, our sip-proxy (chapter-5
 * configuration, `--db`) against Kamailio 5.6 (auth_db + usrloc db_mode 1) on the same MariaDB
 * database with the same subscribers, in the same run, at rising rates (interleaved). Prints each
 * registrar's highest stable REGISTER/s and the ratio. Each registration is a full digest
 * exchange (401 then 200): one subscriber lookup and one location write per registration.
 *
 * The database is created for the run and dropped at the end (VOIP_TEST_MYSQL_URL or --mysql gives
 * the admin access, default root on 127.0.0.1:3306).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import {
  clockTicksPerSecond,
  fmt,
  fmtMs,
  fmtRatio,
  formatTable,
  freeUdpPorts,
  installCleanupHandlers,
  KamailioServer,
  OurProxyServer,
  ProcessRegistry,
  runInterleavedSteps,
  benchDbUrl,
  mysqlAdminOf,
  mysqlAdminQuery,
  runSipctl,
  type Column,
  type SipServer,
  type TargetSteps,
  positiveInt,
  runMain,
} from '../common/index.js';
import { runRegisterStep, type RegisterStepConfig, type RegisterStepResult } from './register-step.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_DIR = resolve(HERE, '..', '..', '..');
const SRC_DIR = join(REPO_DIR, 'bench', 'src', 'register');
const SIPCTL = join(REPO_DIR, 'services', 'proxy', 'dist', 'cli', 'sipctl.js');
const OURS = 'ours';
const PEER = 'kamailio';
const DOMAIN = 'bench.example.com';
const PASSWORD = 'bench-secret';

const FULL_RATES = [250, 500, 1000, 1500, 2000, 3000];
const QUICK_RATES = [250, 500, 1000];

interface CliOptions {
  quick: boolean;
  rates?: number[];
  duration?: number;
  workers: number;
  oursWorkers: number;
  host: string;
  mysql: string;
  proxyMain: string;
  json?: string;
  keep: boolean;
}

function intList(value: string): number[] {
  const out = value.split(',').map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error(`expected positive integers, got "${value}"`);
  return out;
}

function parseCli(argv: string[]): CliOptions {
  return new Command('bench-register')
    .description('REGISTER/s with MySQL digest auth: our sip-proxy --db against Kamailio auth_db, same database, same run')
    .addOption(new Option('--quick', `short run: rates ${QUICK_RATES.join(',')} for 5 s each`).env('BENCH_QUICK').default(false))
    .addOption(new Option('--rates <list>', `registration rates (default ${FULL_RATES.join(',')})`).env('BENCH_RATES').argParser(intList))
    .addOption(new Option('--duration <s>', 'seconds per step (default 10, quick 5)').env('BENCH_DURATION').argParser(positiveInt))
    .addOption(new Option('--workers <n>', 'Kamailio children').env('BENCH_WORKERS').argParser(positiveInt).default(2))
    .addOption(
      new Option('--ours-workers <n>', 'worker threads of our proxy (1: one event loop, its most efficient setting on two cores; see bench:proxy)')
        .env('BENCH_OURS_WORKERS')
        .argParser(positiveInt)
        .default(1),
    )
    .addOption(new Option('--host <ip>', 'loopback address').default('127.0.0.1'))
    .addOption(new Option('--mysql <url>', 'MariaDB admin access').env('VOIP_TEST_MYSQL_URL').default('mysql://root@127.0.0.1:3306/mysql'))
    .addOption(new Option('--proxy-main <file>', 'our proxy entry point').default(join(REPO_DIR, 'services/proxy/dist/main.js')))
    .addOption(new Option('--json <file>', 'also write the results as JSON'))
    .addOption(new Option('--keep', 'keep the run directory and the database').default(false))
    .parse(argv)
    .opts<CliOptions>();
}

const COLUMNS: readonly Column[] = [
  { header: 'target/s', align: 'right' },
  { header: 'REGISTER/s', align: 'right' },
  { header: 'registrations', align: 'right' },
  { header: 'failed', align: 'right' },
  { header: 'retrans', align: 'right' },
  { header: 'p50 ms', align: 'right' },
  { header: 'p99 ms', align: 'right' },
  { header: 'CPU%', align: 'right' },
  { header: 'CPU-s/1k', align: 'right' },
  { header: 'stable', align: 'left' },
];

function row(r: RegisterStepResult): string[] {
  return [
    fmt(r.rate), fmt(r.achievedRate), fmt(r.planned), fmt(r.failed), fmt(r.retransmissions), fmtMs(r.p50Ms), fmtMs(r.p99Ms),
    fmt(r.cpuPercent, 1), fmt(r.cpuSecondsPer1k, 3), r.stable ? 'yes' : 'NO',
  ];
}

function table(t: TargetSteps<RegisterStepResult>): string {
  const notes = t.steps.filter((s) => s.outcome.notes.length > 0).map((s) => `  ${s.rate}/s: ${s.outcome.notes.join('; ')}`);
  return [formatTable(COLUMNS, t.steps.map((s) => row(s.outcome))), ...notes].join('\n');
}

/** Best stable REGISTER/s measured (the achieved rate of the highest stable step). */
function bestStable(t: TargetSteps<RegisterStepResult> | undefined): number {
  if (t === undefined) return NaN;
  let best = NaN;
  for (const s of t.steps) if (s.outcome.stable && !(s.outcome.achievedRate <= best)) best = s.outcome.achievedRate;
  return best;
}

async function main(): Promise<number> {
  const o = parseCli(process.argv);
  const duration = o.duration ?? (o.quick ? 5 : 10);
  const rates = o.rates ?? (o.quick ? QUICK_RATES : FULL_RATES);
  for (const f of [o.proxyMain, SIPCTL]) {
    if (!existsSync(f)) {
      console.error(`BENCH_ERR_NO_PROXY: ${f} does not exist (build services/proxy first)`);
      return 2;
    }
  }
  const a = mysqlAdminOf(o.mysql);
  const dbName = `bench_register_${process.pid}_${randomBytes(3).toString('hex')}`;
  const url = benchDbUrl(a, dbName);
  const runDir = mkdtempSync(join(tmpdir(), 'bench-register-'));
  const registry = new ProcessRegistry();
  let dbCreated = false;
  const cleanup = (): void => {
    if (dbCreated && !o.keep) {
      try {
        mysqlAdminQuery(a, `DROP DATABASE IF EXISTS \`${dbName}\``);
      } catch (err) {
        console.error((err as Error).message);
      }
      dbCreated = false;
    }
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  };
  const removeHandlers = installCleanupHandlers(registry, cleanup);
  const servers = new Map<string, SipServer>();
  try {
    mysqlAdminQuery(a, `CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4`);
    dbCreated = true;
    runSipctl(SIPCTL, ['--db', url, 'db', 'init']);
    runSipctl(SIPCTL, ['--db', url, 'domain', 'add', DOMAIN]);
    // One subscriber per registrar (same password, same work), so neither sees the other's bindings.
    for (const t of [OURS, PEER]) runSipctl(SIPCTL, ['--db', url, 'add', `bench-${t}@${DOMAIN}`, PASSWORD]);
    const secret = randomBytes(16).toString('hex');
    const ports = await freeUdpPorts(o.host, 2);
    servers.set(
      PEER,
      new KamailioServer(registry, {
        name: PEER,
        configFile: join(SRC_DIR, 'kamailio-register.cfg'),
        host: o.host,
        port: ports[0]!,
        children: o.workers,
        runDir,
        defines: [`DBURL="${url}"`, `SECRET="${secret}"`],
      }),
    );
    servers.set(
      OURS,
      new OurProxyServer(registry, {
        name: OURS,
        mainJs: o.proxyMain,
        host: o.host,
        port: ports[1]!,
        workers: o.oursWorkers,
        runDir,
        // SIPp 3.6 answers only the first challenge and only MD5: offer MD5 first (SHA-256 too).
        config: { db: { url }, auth: { algorithms: ['MD5', 'SHA-256'], nonceSecret: secret }, usrloc: { dbMode: 'write-through' } },
      }),
    );
    console.log('bench:register — digest REGISTER (401 then 200) with subscribers and location in MariaDB');
    console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; node ${process.version}`);
    console.log(`steps: ${rates.join(', ')} REGISTER/s, ${duration} s each, Kamailio children ${o.workers}, our worker threads ${o.oursWorkers}; database ${dbName}; run dir ${runDir}`);
    for (const s of servers.values()) {
      await s.start();
      console.log(`started ${s.name} on udp:${s.host}:${s.port}: ${s.commandLine}`);
      if (s instanceof OurProxyServer) for (const w of s.warnings) console.log(`WARNING: ${s.name}: ${w}`);
    }
    const cfg: RegisterStepConfig = {
      scenarioFile: join(SRC_DIR, 'register-digest.xml'),
      host: o.host,
      domain: DOMAIN,
      password: PASSWORD,
      durationSec: duration,
      warmupMs: Math.min(3_000, Math.round((duration * 1000) / 3)),
      recvTimeoutMs: 5_000,
      maxFailRatio: 0.001,
      minAchievedRatio: 0.95,
      ticksPerSecond: clockTicksPerSecond(),
    };
    const results = await runInterleavedSteps<RegisterStepResult>({
      targets: [OURS, PEER],
      rates,
      giveUpAfter: 2,
      runStep: (target, rate) => runRegisterStep(registry, servers.get(target)!, `bench-${target}`, rate, cfg, join(runDir, `${target}-${rate}`)),
      onStep: (target, rate, r) => {
        console.log(`[${target} @ ${rate}/s] ${fmt(r.achievedRate)} REGISTER/s, failed ${r.failed}, p50/p99 ${fmtMs(r.p50Ms)}/${fmtMs(r.p99Ms)} ms, CPU ${fmt(r.cpuPercent, 1)} % -> ${r.stable ? 'stable' : 'UNSTABLE'}`);
      },
    });
    for (const t of results) console.log(`\n== ${t.target}\n\n${table(t)}`);
    const ours = bestStable(results.find((t) => t.target === OURS));
    const peer = bestStable(results.find((t) => t.target === PEER));
    console.log('\n== Summary (highest stable REGISTER/s, digest auth against MariaDB)\n');
    console.log(`ours:     ${fmt(ours)} REGISTER/s`);
    console.log(`kamailio: ${fmt(peer)} REGISTER/s`);
    console.log(`ratio ours/kamailio: ${fmtRatio(ours, peer)}`);
    if (o.json !== undefined) {
      writeFileSync(o.json, JSON.stringify({ rates, duration, workers: o.workers, ours, kamailio: peer, results }, null, 2));
      console.log(`\nresults written to ${o.json}`);
    }
    return 0;
  } finally {
    for (const s of [...servers.values()].reverse()) await s.stop().catch(() => undefined);
    await registry.stopAll();
    cleanup();
    removeHandlers();
  }
}

runMain(main);
