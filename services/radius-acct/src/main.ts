#!/usr/bin/env node
/**
 * radius-acct: sends the proxy's accounting records to RADIUS servers (RFC 2866), losslessly.
 *
 *   radius-acct --journal PATH | --db mysql://… --radius HOST:PORT [--radius HOST:PORT …] --secret S
 *   radius-acct cdr --journal PATH | --db mysql://… [--format table|json|csv]
 *   radius-acct parked --state-dir DIR
 *
 * main.ts builds the owners (reader, progress store, parking lot, emitter) and injects them
 * (STYLE.md, State).
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, Option } from 'commander';
import { pino, type Logger } from 'pino';
import { JournalReader, MysqlReader, redactUri, type AccReader, type StoredAccRecord } from '@voip/acc';
import { loadConfig, type RadiusAcctConfig, type RawOptions } from './config.js';
import { RadiusAcctError } from './errors.js';
import { Emitter } from './delivery/emitter.js';
import { ParkingLot } from './delivery/parking-lot.js';
import { ProgressStore } from './delivery/progress-store.js';
import { buildCdrs, formatCdrs } from './cdr/cdr.js';
import { startHttpServer } from './http/http-server.js';
import { Metrics } from './metrics.js';

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

async function openReader(source: { db?: string; journal?: string }, log: Logger, gapGraceMs = 5000): Promise<AccReader> {
  try {
    if (source.journal !== undefined) return await JournalReader.open({ path: source.journal, logger: log.child({ layer: 'acc.journal' }) });
    if (source.db !== undefined) {
      const r = new MysqlReader({ uri: source.db, logger: log.child({ layer: 'acc.mysql' }), gapGraceMs });
      await r.read(0); // connect now, so a bad URI fails at start-up
      return r;
    }
  } catch (err) {
    throw new RadiusAcctError('RADIUS_ACCT_ERR_SOURCE', `${source.journal ?? redactUri(source.db ?? '')}: ${(err as Error).message}`);
  }
  throw new RadiusAcctError('RADIUS_ACCT_ERR_SOURCE', 'give --journal or --db');
}

async function run(cfg: RadiusAcctConfig): Promise<void> {
  const log = pino({ name: 'radius-acct', level: cfg.logLevel });
  const reader = await openReader(cfg, log, cfg.gapGraceMs);
  const metrics = new Metrics();
  const progress = new ProgressStore(cfg.stateDir, log.child({ layer: 'progress' }));
  const parking = new ParkingLot(cfg.stateDir, log.child({ layer: 'parking' }));
  const emitter = new Emitter(reader, progress, parking, metrics, log.child({ layer: 'emitter' }), {
    servers: cfg.radius,
    secret: cfg.secret,
    nas: { nasIdentifier: cfg.nasIdentifier, nasIpAddress: cfg.nasIpAddress },
    window: cfg.window,
    retransmitMs: cfg.retransmitMs,
    maxRetransmitMs: cfg.maxRetransmitMs,
    triesPerServer: cfg.triesPerServer,
    maxAttempts: cfg.maxAttempts,
    deadTimeMs: cfg.deadTimeMs,
    pollMs: cfg.pollMs,
  });
  let where: string;
  try {
    where = await emitter.start();
  } catch (err) {
    throw new RadiusAcctError('RADIUS_ACCT_ERR_PROGRESS', `${progress.path}: ${(err as Error).message}`);
  }
  log.info({ stream: reader.streamId, servers: cfg.radius.map((s) => `${s.host}:${s.port}`), stateDir: cfg.stateDir }, `radius-acct ${where}`);
  const http = cfg.http === undefined ? null : await startHttpServer(cfg.http.host, cfg.http.port, emitter, metrics);
  if (http !== null) log.info({ http: `${cfg.http?.host}:${cfg.http?.port}` }, 'serving /health and /metrics');
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: draining in-flight records');
    void (async () => {
      await emitter.stop(cfg.drainMs);
      await http?.close();
      const snap = emitter.snapshot();
      log.info({ position: snap.position, settled: snap.settled }, 'stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function readAll(reader: AccReader): Promise<StoredAccRecord[]> {
  await reader.seek(reader.initialCursor());
  const out: StoredAccRecord[] = [];
  for (;;) {
    const items = await reader.read(1000);
    if (items.length === 0) return out;
    for (const i of items) if (i.ok) out.push(i.record);
  }
}

export function buildProgram(): Command {
  const program = new Command('radius-acct').description('Send the proxy\'s accounting records to RADIUS servers (RFC 2866) without losing any').showHelpAfterError();

  program
    .command('run', { isDefault: true })
    .description('deliver records (default command)')
    .option('--config <file>', 'YAML/JSON config file (env RADIUS_ACCT_CONFIG)')
    .option('--db <uri>', 'read Kamailio-schema acc/missed_calls from mysql://user:pass@host/db (env RADIUS_ACCT_DB)')
    .option('--journal <path>', 'read the proxy\'s journal (env RADIUS_ACCT_JOURNAL)')
    .option('--radius <host:port>', 'RADIUS accounting server; repeat for failover servers, in order (env RADIUS_ACCT_SERVERS=a:1813,b:1813)', collect)
    .option('--secret <secret>', 'RADIUS shared secret (env RADIUS_ACCT_SECRET keeps it out of ps)')
    .option('--state-dir <dir>', 'directory for progress.json and parked.ndjson (default /var/lib/radius-acct)')
    .option('--nas-identifier <id>', 'NAS-Identifier to send (default voip-proxy)')
    .option('--nas-ip <ipv4>', 'NAS-IP-Address to send')
    .option('--window <n>', 'records in flight at once (1..100, default 32)')
    .option('--retransmit-ms <ms>', 'first retransmission timeout (default 1000)')
    .option('--max-retransmit-ms <ms>', 'back-off cap (default 8000)')
    .option('--tries-per-server <n>', 'sends to one server before failing over (default 3)')
    .option('--max-attempts <n>', 'sends before an unanswered record is parked, while servers answer others (default 20)')
    .option('--dead-time-ms <ms>', 'how long a server that stopped answering is skipped (default 30000)')
    .option('--http <host:port>', 'serve /health and /metrics (env RADIUS_ACCT_HTTP)')
    .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace']))
    .option('--check-config', 'validate the configuration, print it (secret hidden) and exit')
    .action(async (opts: RawOptions & { checkConfig?: boolean }) => {
      const cfg = loadConfig(opts, process.env);
      if (opts.checkConfig === true) {
        process.stdout.write(`${JSON.stringify({ ...cfg, secret: '***', db: cfg.db === undefined ? undefined : redactUri(cfg.db) }, null, 2)}\n`);
        return;
      }
      await run(cfg);
    });

  program
    .command('cdr')
    .description('join Start (INVITE 2xx) and Stop (BYE) records into call detail records with duration')
    .option('--db <uri>', 'read acc/missed_calls from MySQL')
    .option('--journal <path>', 'read the proxy\'s journal')
    .addOption(new Option('--format <format>', 'output format').choices(['table', 'json', 'csv']).default('table'))
    .option('--since <iso>', 'only calls that started at or after this time')
    .option('--until <iso>', 'only calls that started before this time')
    .option('--include-open', 'include answered calls without a BYE yet', false)
    .option('--include-failed', 'include missed/failed calls', false)
    .action(async (opts: { db?: string; journal?: string; format: 'table' | 'json' | 'csv'; since?: string; until?: string; includeOpen: boolean; includeFailed: boolean }) => {
      if ((opts.db === undefined) === (opts.journal === undefined)) throw new RadiusAcctError('RADIUS_ACCT_ERR_CONFIG', 'give exactly one of --db or --journal');
      const since = opts.since === undefined ? -Infinity : Date.parse(opts.since);
      const until = opts.until === undefined ? Infinity : Date.parse(opts.until);
      if (Number.isNaN(since) || Number.isNaN(until)) throw new RadiusAcctError('RADIUS_ACCT_ERR_CONFIG', '--since/--until must be ISO 8601 times');
      const log = pino({ name: 'radius-acct', level: 'warn' }, pino.destination(2));
      const reader = await openReader(opts, log);
      try {
        const cdrs = buildCdrs(await readAll(reader)).filter((c) => {
          const t = Date.parse(c.start_time);
          if (t < since || t >= until) return false;
          if (c.status === 'open') return opts.includeOpen;
          if (c.status === 'failed') return opts.includeFailed;
          return true;
        });
        process.stdout.write(formatCdrs(cdrs, opts.format));
      } finally {
        await reader.close();
      }
    });

  program
    .command('parked')
    .description('list parked records (NDJSON) with their reasons')
    .requiredOption('--state-dir <dir>', 'radius-acct state directory')
    .action(async (opts: { stateDir: string }) => {
      for (const e of await ParkingLot.readAll(opts.stateDir)) process.stdout.write(`${JSON.stringify(e)}\n`);
    });

  return program;
}

// Run only as the program, not when a test imports buildProgram().
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((err: unknown) => {
      if (err instanceof RadiusAcctError) {
        process.stderr.write(`radius-acct: ${err.code}: ${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`radius-acct: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
