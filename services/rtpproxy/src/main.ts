#!/usr/bin/env node
// rtp-relay: media relay for NAT traversal, controlled over rtpengine's ng protocol.
//   rtp-relay --ng udp:IP:PORT --media-ip IP --ports MIN-MAX [--timeout S]
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { ConfigError, configFromEnv, configFromFile, loadConfig, type RelayConfig, type RelayConfigInput } from './config.js';
import { startHttp } from './http.js';
import { RelayWorkerPool } from './media/relay-worker-pool.js';
import { RtpSessionTable } from './media/rtp-session-table.js';
import { RelayMetrics } from './metrics.js';
import { NgServer } from './ng/ng-server.js';

const SWEEP_INTERVAL_MS = 1000;

function int(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('not an integer');
  return n;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

interface CliOptions {
  config?: string;
  ng?: string;
  mediaIp?: string[];
  ports?: string;
  timeout?: number;
  maxSessions?: number;
  workers?: number;
  recvBuffer?: number;
  http?: string;
  logLevel?: string;
  checkConfig?: boolean;
}

function cliLayer(o: CliOptions): RelayConfigInput {
  return {
    ng: o.ng,
    mediaIp: o.mediaIp,
    ports: o.ports,
    timeout: o.timeout,
    maxSessions: o.maxSessions,
    workers: o.workers,
    recvBufferSize: o.recvBuffer,
    http: o.http,
    logLevel: o.logLevel as RelayConfigInput['logLevel'],
  };
}

async function run(cfg: RelayConfig): Promise<void> {
  const log = pino({ name: 'rtp-relay', level: cfg.logLevel });
  const pool = await RelayWorkerPool.start(cfg.ports.min, cfg.ports.max, cfg.workers, cfg.recvBufferSize);
  const table = new RtpSessionTable(
    pool,
    cfg.mediaIp,
    { maxSessions: cfg.maxSessions, timeoutSeconds: cfg.timeout },
    { onTimeout: (callId) => log.info({ callId }, 'call timed out without media; ports released') },
  );
  const metrics = new RelayMetrics(table);
  const ng = new NgServer({
    address: cfg.ng.address,
    port: cfg.ng.port,
    table,
    log: log.child({ layer: 'ng' }),
    replyCacheSeconds: cfg.replyCacheSeconds,
    observer: metrics,
  });
  const ngAddr = await ng.start();
  const http = cfg.http === 'off' ? null : await startHttp(cfg.http.address, cfg.http.port, table, metrics);
  const sweep = setInterval(() => table.sweep(Date.now()), SWEEP_INTERVAL_MS);
  log.info(
    {
      ng: `${ngAddr.address}:${ngAddr.port}`,
      media: cfg.mediaIp.map((m) => `${m.name}/${m.ip}${m.advertised !== m.ip ? `!${m.advertised}` : ''}`),
      ports: `${cfg.ports.min}-${cfg.ports.max}`,
      workers: pool.slices.map((s) => `${s.firstPort}-${s.lastPort + 1}`),
      http: cfg.http === 'off' ? 'off' : `${cfg.http.address}:${cfg.http.port}`,
    },
    'rtp-relay ready',
  );

  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    clearInterval(sweep);
    await ng.stop();
    await http?.close();
    table.clear();
    await pool.stop();
    log.flush();
    process.exit(process.exitCode ?? 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('rtp-relay')
    .description("RTP relay for NAT traversal, controlled over rtpengine's ng protocol")
    .option('-c, --config <file>', 'YAML or JSON configuration file')
    .option('--ng <udp:IP:PORT>', 'ng control socket (default udp:127.0.0.1:22222)')
    .option('--media-ip <[NAME/]IP[!ADV]>', 'media address; repeat for IPv4 + IPv6 or more interfaces', collect)
    .option('--ports <MIN-MAX>', 'media port range (default 30000-40000)')
    .option('--timeout <seconds>', 'tear a call down after this long without media or signalling', int)
    .option('--max-sessions <n>', 'maximum concurrent calls', int)
    .option('--workers <n>', 'media worker threads (default: one per core)', int)
    .option('--recv-buffer <bytes>', 'SO_RCVBUF of each media socket', int)
    .option('--http <IP:PORT|off>', 'health and Prometheus metrics endpoint (default 127.0.0.1:9900)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace, silent')
    .option('--check-config', 'validate the configuration, print it and exit')
    .showHelpAfterError();
  program.parse(argv);
  const o = program.opts<CliOptions>();
  let cfg: RelayConfig;
  try {
    cfg = loadConfig(o.config ? configFromFile(o.config) : {}, configFromEnv(process.env), cliLayer(o));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`rtp-relay: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (o.checkConfig) {
    process.stdout.write(`${JSON.stringify(cfg, null, 2)}\nconfiguration OK\n`);
    return;
  }
  await run(cfg);
}

main(process.argv).catch((e: unknown) => {
  process.stderr.write(`rtp-relay: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
