#!/usr/bin/env node
/**
 * `npm run bench:proxy`: SIPp drives calls (UAC -> proxy -> UAS, stateful, record-routed) through
 * our sip-proxy and through Kamailio in the same run, at rising rates, and prints per step the
 * failures, latency, CPU and UDP drops, then each proxy's highest stable rate, its CPU-seconds
 * per 1000 calls at fixed rates, and the ratios. Method and pitfalls: bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import {
  clockTicksPerSecond,
  installCleanupHandlers,
  KamailioServer,
  OurProxyServer,
  ProcessRegistry,
  benchDbUrl,
  mysqlAdminOf,
  mysqlAdminQuery,
  runSipctl,
  receiveBufferWarning,
  freeUdpPorts,
  runInterleavedSteps,
  type SipServer,
  positiveInt,
  runMain,
  intList,
} from '../common/index.js';
import { callStepConfig, runCallStep, type CallStepResult, type ProviderCallConfig } from './call-step.js';
import { formatStepRow, formatStepTable, formatSummary } from './call-report.js';

const BENCH_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REPO_DIR = resolve(BENCH_DIR, '..');
const SIPCTL = join(REPO_DIR, 'services', 'proxy', 'dist', 'cli', 'sipctl.js');
const OURS = 'ours';
const PEER = 'kamailio';

const FULL_RATES = [500, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000];
const QUICK_RATES = [1000, 2000, 4000];

interface CliOptions {
  quick: boolean;
  rates?: number[];
  duration?: number;
  fixedRates: number[];
  targets: string[];
  workers: number;
  oursWorkers: number;
  hold: number;
  warmup: number;
  routeBy: 'ruri' | 'registrar';
  route: 'standard' | 'provider';
  mysql: string;
  recvTimeout: number;
  giveUpAfter: number;
  host: string;
  proxyMain: string;
  kamailioCfg?: string;
  json?: string;
  oursConfig?: string;
  keep: boolean;
}

function parseCli(argv: string[]): CliOptions {
  const program = new Command('bench-proxy')
    .description('SIPp call benchmark: our sip-proxy against Kamailio, same run')
    .addOption(new Option('--quick', 'short run (~1 min): rates 1000,2000,4000 for 5 s each').env('BENCH_QUICK').default(false))
    .addOption(new Option('--rates <list>', `call rates to step through (default ${FULL_RATES.join(',')})`).env('BENCH_RATES').argParser(intList))
    .addOption(new Option('--duration <s>', 'seconds per step (default 15, quick 5)').env('BENCH_DURATION').argParser(positiveInt))
    .addOption(
      new Option('--fixed-rates <list>', 'rates at which CPU per 1000 calls is compared (added to the steps)')
        .env('BENCH_FIXED_RATES')
        .argParser(intList)
        .default([1000, 2000]),
    )
    .addOption(
      new Option('--targets <list>', 'proxies to measure: ours,kamailio')
        .env('BENCH_TARGETS')
        .argParser((v) => v.split(',').map((s) => s.trim()))
        .default([OURS, PEER]),
    )
    .addOption(new Option('--workers <n>', 'Kamailio children (both cores: 2)').env('BENCH_WORKERS').argParser(positiveInt).default(2))
    .addOption(
      new Option(
        '--ours-workers <n>',
        'worker threads of our proxy (both cores: 2, like Kamailio\'s children); 1 = one event loop, which costs less CPU ' +
          'per call at low rates but saturates sooner (services/proxy/README.md)',
      )
        .env('BENCH_OURS_WORKERS')
        .argParser(positiveInt)
        .default(2),
    )
    .addOption(new Option('--warmup <s>', 'unmeasured warm-up per proxy before the steps (0: none)').env('BENCH_WARMUP').argParser(Number).default(3))
    .addOption(new Option('--hold <ms>', 'call hold time between ACK and BYE').env('BENCH_HOLD_MS').argParser(Number).default(0))
    .addOption(
      new Option('--route-by <how>', 'ruri: R-URI names the UAS; registrar: the UAS registers, calls go through location lookup')
        .env('BENCH_ROUTE_BY')
        .choices(['ruri', 'registrar'])
        .default('ruri'),
    )
    .addOption(
      new Option(
        '--route <route>',
        'standard: the chapter-4 relay; provider: the book\'s final configuration (digest-authenticated caller, ' +
          'ACL group, E.164 normalisation, LCR to a SIPp gateway) on MariaDB, Kamailio with auth_db/group/avpops/alias_db/lcr',
      )
        .env('BENCH_ROUTE')
        .choices(['standard', 'provider'])
        .default('standard'),
    )
    .addOption(
      new Option('--mysql <url>', 'MariaDB admin access for --route provider (a database is created and dropped)')
        .env('VOIP_TEST_MYSQL_URL')
        .default('mysql://root@127.0.0.1:3306'),
    )
    .addOption(new Option('--recv-timeout <ms>', 'SIPp fails a call waiting longer than this').argParser(positiveInt).default(5000))
    .addOption(new Option('--give-up-after <n>', 'stop a proxy after this many unstable steps in a row').argParser(positiveInt).default(2))
    .addOption(new Option('--host <ip>', 'loopback address for proxies and SIPp').default('127.0.0.1'))
    .addOption(new Option('--proxy-main <file>', 'our proxy entry point').default(join(REPO_DIR, 'services/proxy/dist/main.js')))
    .addOption(new Option('--kamailio-cfg <file>', 'Kamailio config (default kamailio/proxy.cfg, or kamailio/provider.cfg with --route provider)'))
    .addOption(new Option('--ours-config <file>', 'YAML merged into the config the bench writes for our proxy (tuning)'))
    .addOption(new Option('--json <file>', 'also write all results as JSON'))
    .addOption(new Option('--keep', 'keep the run directory (logs, SIPp statistics)').default(false))
    .parse(argv);
  const o = program.opts<CliOptions>();
  for (const t of o.targets) {
    if (t !== OURS && t !== PEER) program.error(`unknown target "${t}" (use ${OURS}, ${PEER})`);
  }
  return o;
}

function readYamlMapping(file: string): Record<string, unknown> {
  const v: unknown = parseYaml(readFileSync(file, 'utf8'));
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${file}: expected a YAML mapping`);
  return v as Record<string, unknown>;
}

function versionOf(cmd: string, args: string[], pick: RegExp): string {
  // `sipp -v` exits 99 after printing its version, so read the output whatever the status.
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 5_000 });
  if (r.error !== undefined) return 'not found';
  return pick.exec(`${r.stdout}${r.stderr}`)?.[0] ?? 'unknown';
}

async function main(): Promise<number> {
  const o = parseCli(process.argv);
  const duration = o.duration ?? (o.quick ? 5 : 15);
  const rates = [...new Set([...(o.rates ?? (o.quick ? QUICK_RATES : FULL_RATES)), ...o.fixedRates])].sort((a, b) => a - b);
  if (o.targets.includes(OURS) && !existsSync(o.proxyMain)) {
    console.error(
      `BENCH_ERR_NO_PROXY: ${o.proxyMain} does not exist (build services/proxy first), ` +
        `or measure the peer alone with --targets ${PEER}`,
    );
    return 2;
  }

  if (o.route === 'provider' && !existsSync(SIPCTL)) {
    console.error(`BENCH_ERR_NO_PROXY: ${SIPCTL} does not exist (build services/proxy first)`);
    return 2;
  }

  const runDir = mkdtempSync(join(tmpdir(), 'bench-proxy-'));
  const registry = new ProcessRegistry();
  const admin = mysqlAdminOf(o.mysql);
  const dbName = `bench_provider_${process.pid}_${randomBytes(3).toString('hex')}`;
  let dbCreated = false;
  const removeHandlers = installCleanupHandlers(registry, () => {
    if (dbCreated && !o.keep) {
      try {
        mysqlAdminQuery(admin, `DROP DATABASE IF EXISTS \`${dbName}\``);
      } catch (err) {
        console.error((err as Error).message);
      }
      dbCreated = false;
    }
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  });
  const ports = await freeUdpPorts(o.host, 3);
  // --route provider: both proxies read one database; the SIPp gateway listens on a fixed port.
  let provider: ProviderSetup | null = null;
  if (o.route === 'provider') {
    mysqlAdminQuery(admin, `CREATE DATABASE \`${dbName}\` CHARACTER SET utf8mb4`);
    dbCreated = true;
    provider = provisionProvider(benchDbUrl(admin, dbName), o.host, ports[2]!);
  }
  const kamailioCfg = o.kamailioCfg ?? join(BENCH_DIR, 'kamailio', o.route === 'provider' ? 'provider.cfg' : 'proxy.cfg');
  const servers = new Map<string, SipServer>();
  const notes: string[] = [];
  try {
    if (o.targets.includes(PEER)) {
      servers.set(
        PEER,
        new KamailioServer(registry, {
          name: PEER,
          configFile: kamailioCfg,
          host: o.host,
          port: ports[0]!,
          children: o.workers,
          runDir,
          defines: provider === null ? [] : [`DBURL="${provider.dbUrl}"`, `SECRET="${provider.secret}"`],
        }),
      );
    }
    if (o.targets.includes(OURS)) {
      servers.set(
        OURS,
        new OurProxyServer(registry, {
          name: OURS,
          mainJs: o.proxyMain,
          host: o.host,
          port: ports[1]!,
          workers: o.oursWorkers,
          runDir,
          config: {
            ...(provider === null
              ? {}
              : // The benchmark config is the lab's config minus nothing: database, provider route, digest
                // auth (MD5: SIPp 3.6 knows no other), the same nonce secret as Kamailio's.
                { db: { url: provider.dbUrl }, route: 'provider', auth: { algorithms: ['MD5'], nonceSecret: provider.secret } }),
            ...(o.oursConfig === undefined ? {} : readYamlMapping(o.oursConfig)),
          },
        }),
      );
    }

    console.log(
      provider === null
        ? 'bench:proxy — calls through a stateful, record-routing proxy (SIPp UAC -> proxy -> SIPp UAS)'
        : `bench:proxy --route provider — digest-authenticated calls to a long-distance number, ACL group ld, E.164, LCR ` +
            `(SIPp UAC -> proxy -> SIPp gateway udp:${o.host}:${provider.call.gatewayPort}); database ${dbName}`,
    );
    console.log(
      `machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}; ` +
        `SIPp ${versionOf('sipp', ['-v'], /v[\d.]+/)}, Kamailio ${versionOf('kamailio', ['-v'], /kamailio [\d.]+/)}, node ${process.version}`,
    );
    console.log(
      `steps: ${rates.join(', ')} calls/s, ${duration} s each, hold ${o.hold} ms, kamailio children ${o.workers}, our worker threads ${o.oursWorkers}, ` +
        `routing by ${o.routeBy === 'ruri' ? 'Request-URI (UAS address)' : 'registrar lookup'}; run dir ${runDir}`,
    );

    for (const s of servers.values()) {
      await s.start();
      console.log(`started ${s.name} on udp:${s.host}:${s.port}: ${s.commandLine}`);
      if (s instanceof OurProxyServer) for (const w of s.warnings) notes.push(`${s.name}: ${w}`);
      const rb = receiveBufferWarning(s);
      if (rb !== null) notes.push(rb);
    }
    for (const n of notes) console.log(`WARNING: ${n}`);

    const cfg = callStepConfig({
      host: o.host,
      durationSec: duration,
      recvTimeoutMs: o.recvTimeout,
      callHoldMs: o.hold,
      routeBy: o.routeBy,
      ticksPerSecond: clockTicksPerSecond(),
      ...(provider === null ? {} : { provider: provider.call }),
    });
    // An unmeasured warm-up per proxy: our proxy's JIT compiles its hot paths and both fill
    // their transaction tables once, so the first measured step is not a start-up measurement.
    if (o.warmup > 0) {
      for (const s of servers.values()) {
        const rate = Math.max(100, Math.round(rates[0]! / 2));
        const r = await runCallStep(registry, s, rate, { ...cfg, durationSec: o.warmup }, join(runDir, `${s.name}-warmup`));
        console.log(`[${s.name} warm-up @ ${rate}/s for ${o.warmup} s] ${r.successful}/${r.planned} calls completed (not measured)`);
      }
    }
    console.log('');
    const results = await runInterleavedSteps<CallStepResult>({
      targets: [...servers.keys()],
      rates,
      giveUpAfter: o.giveUpAfter,
      runStep: (target, rate) => {
        const server = servers.get(target)!;
        return runCallStep(registry, server, rate, cfg, join(runDir, `${target}-${rate}`));
      },
      onStep: (target, rate, r) => {
        const row = formatStepRow(r);
        console.log(
          `[${target} @ ${rate}/s] achieved ${row[1]}/s, failed ${row[3]}, p50/p95/p99 ${row[6]}/${row[7]}/${row[8]} ms, ` +
            `proxy CPU ${row[9]} %, ${row[10]} CPU-s/1k calls, SIPp CPU ${row[11]} %, drops ${row[12]} -> ${r.stable ? 'stable' : 'UNSTABLE'}`,
        );
      },
    });

    for (const t of results) {
      console.log(`\n== ${t.target}: ${servers.get(t.target)!.commandLine}\n`);
      console.log(formatStepTable(t));
    }
    console.log('\n== Summary\n');
    console.log(formatSummary(results, o.fixedRates, OURS, PEER));
    for (const n of notes) console.log(`WARNING: ${n}`);
    if (o.json !== undefined) {
      writeFileSync(o.json, JSON.stringify({ rates, duration, workers: o.workers, route: o.route, routeBy: o.routeBy, notes, results }, null, 2));
      console.log(`\nresults written to ${o.json}`);
    }
    if (o.keep) console.log(`\nlogs and SIPp statistics kept in ${runDir}`);
    return 0;
  } finally {
    for (const s of [...servers.values()].reverse()) await s.stop().catch(() => undefined);
    await registry.stopAll();
    removeHandlers();
    if (dbCreated && !o.keep) mysqlAdminQuery(admin, `DROP DATABASE IF EXISTS \`${dbName}\``);
    if (!o.keep) rmSync(runDir, { recursive: true, force: true });
  }
}

interface ProviderSetup {
  readonly dbUrl: string;
  readonly secret: string;
  readonly call: ProviderCallConfig;
}

/**
 * The provider data both proxies route by, written with our sipctl into Kamailio's tables: one
 * domain, one caller allowed long-distance calls, one gateway (the SIPp UAS) behind an LCR rule
 * for +1 (the E.164 form of a North-American number after the dial plan's strip 1 / prefix +1).
 */
function provisionProvider(dbUrl: string, host: string, gatewayPort: number): ProviderSetup {
  const domain = 'bench.example.com';
  const call: ProviderCallConfig = { gatewayPort, user: 'caller', password: 'bench-secret', domain, dial: '12125551234' };
  const sipctl = (args: string[]): void => runSipctl(SIPCTL, ['--db', dbUrl, ...args]);
  sipctl(['db', 'init']);
  sipctl(['domain', 'add', domain]);
  sipctl(['add', `${call.user}@${domain}`, call.password]);
  sipctl(['acl', 'grant', `${call.user}@${domain}`, 'ld']);
  sipctl(['lcr', 'gw', 'add', 'gw1', `${host}:${gatewayPort}`]);
  sipctl(['lcr', 'rule', 'add', '+1', '--gw', 'gw1']);
  return { dbUrl, secret: randomBytes(16).toString('hex'), call };
}

runMain(main);
