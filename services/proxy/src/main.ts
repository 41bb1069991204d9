#!/usr/bin/env node
/**
 * sip-proxy: the book's OpenSER daemon as a CLI.
 *   sip-proxy --listen udp:IP:PORT --listen tcp:IP:PORT [--config FILE] [--log-level L] [--check-config]
 */
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig, type ProxyConfig } from './config.js';
import { startProxy, VERSION } from './server.js';
import { runWorkers } from './cluster/main-thread.js';
import { runLoopThread } from './cluster/loop-runner.js';
import { listenList } from './cluster/listen-list.js';
import { warmUp } from './warm-up.js';
import { defaultStateDir, loadOrCreateNonceSecret } from './modules/auth/nonce-secret-store.js';
import { removeAdminUrlFile, writeAdminUrlFile } from './cli/admin-url-file.js';

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const program = new Command()
  .name('sip-proxy')
  .description('Stateful SIP proxy and registrar (RFC 3261) running the book\'s standard configuration')
  .version(VERSION)
  .option('-l, --listen <proto:ip:port>', 'listen address, repeatable (udp:127.0.0.1:5060, tcp:[::1]:5060, tls:127.0.0.1:5061)', collect)
  .option('-c, --config <file>', 'YAML or JSON configuration file')
  .option('-d, --domain <domain>', 'domain served besides the listen addresses, repeatable', collect)
  .option('--admin <host:port>', 'admin HTTP API address (empty string disables)')
  .option('--db <url>', 'database (mysql://USER:PASS@HOST:PORT/DB or file:provisioning.yaml; or SIP_DB_URL): subscribers, location, aliases, domains and the provider route\'s tables')
  .addOption(new Option('--route <route>', 'routing configuration (default: provider with --db, standard without)').choices(['provider', 'ch5', 'standard']))
  .option('--workers <n>', 'worker threads (default 1; N > 1 spreads calls over N cores)')
  .option('--state-dir <dir>', 'directory for state kept across restarts (the generated nonce secret, the TLS lab certificate)')
  .option('--acc-journal <file>', 'write call records to this append-only journal (read by radius-acct --journal)')
  .addOption(new Option('--log-level <level>', 'log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']))
  .option('--check-config', 'validate the configuration, print it and exit')
  .parse();

const opts = program.opts<{ listen?: string[]; config?: string; domain?: string[]; admin?: string; accJournal?: string; db?: string; workers?: string; logLevel?: string; checkConfig?: boolean; stateDir?: string; route?: string }>();

const cli: Record<string, unknown> = {};
if (opts.listen) cli.listen = opts.listen;
if (opts.domain) cli.domains = opts.domain;
if (opts.admin !== undefined) cli.admin = { listen: opts.admin };
if (opts.logLevel) cli.logLevel = opts.logLevel;
if (opts.db) cli.db = { url: opts.db };
if (opts.route) cli.route = opts.route;
if (opts.stateDir) cli.stateDir = opts.stateDir;
if (opts.accJournal) cli.accounting = { journal: opts.accJournal };
if (opts.workers !== undefined) cli.workers = Number(opts.workers);

let config: ProxyConfig;
try {
  config = loadConfig({ file: opts.config, env: process.env, cli });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`sip-proxy: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}

if (opts.checkConfig) {
  process.stdout.write(`${JSON.stringify(config, null, 2)}\nconfiguration OK\n`);
  process.exit(0);
}

const logger = pino({ level: config.logLevel, base: { service: 'sip-proxy' } });

// Digest auth (--db) without auth.nonceSecret: the secret generated on the first start and kept
// in the state directory, so a restarted proxy and every worker accept each other's nonces.
if (config.db.url && config.auth.nonceSecret === undefined) {
  try {
    const stored = loadOrCreateNonceSecret(defaultStateDir(config.stateDir));
    logger.info({ path: stored.path, created: stored.created }, stored.created ? 'nonce secret generated' : 'nonce secret loaded');
    config = { ...config, auth: { ...config.auth, nonceSecret: stored.secret } };
  } catch (err) {
    logger.fatal({ err }, 'cannot keep the nonce secret: set stateDir (SIP_PROXY_STATE_DIR) to a writable directory, or auth.nonceSecret');
    process.stderr.write(`sip-proxy: cannot keep the nonce secret: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

/** What main needs of a running proxy: one event loop, or worker threads behind a socket thread. */
interface Running {
  listening: string[];
  adminUrl: string | null;
  close(): Promise<void>;
}

async function start(): Promise<Running> {
  if (config.workers > 1) {
    const w = await runWorkers(config, logger);
    w.failed.then((err) => {
      logger.fatal({ err }, 'a worker thread died; stopping so the supervisor restarts the proxy');
      void w.close().finally(() => process.exit(1));
    });
    return w;
  }
  if (config.loopThread) {
    // The one event loop in a thread whose young generation we size (config.ts: loopThread).
    const loop = await runLoopThread(config, logger);
    loop.failed.then((err) => {
      logger.fatal({ err }, 'the proxy thread died; stopping so the supervisor restarts the proxy');
      process.exit(1);
    });
    return loop;
  }
  // JIT warm-up before the sockets open (workers do their own).
  await warmUp(config, config.warmUpCalls);
  const proxy = await startProxy(config, logger);
  return { listening: listenList(proxy.transports), adminUrl: proxy.adminUrl, close: () => proxy.close() };
}

try {
  const proxy = await start();
  const { listening } = proxy;
  logger.info({ listening, admin: proxy.adminUrl, relayMode: config.relayMode, workers: config.workers }, 'sip-proxy ready');
  // One plain line for people and scripts (sipctl --proxy-admin takes the admin URL).
  process.stdout.write(
    `sip-proxy ${VERSION} listening on ${listening.join(' ')}; admin API ${proxy.adminUrl ?? 'disabled'}` +
      `${config.workers > 1 ? `; ${config.workers} worker threads` : ''}\n`,
  );
  // sipctl without --proxy-admin finds the admin API (a random port by default) in the state
  // directory, so its changes apply at once rather than at the next periodic reload.
  let adminUrlFile: string | null = null;
  if (proxy.adminUrl !== null) {
    try {
      adminUrlFile = writeAdminUrlFile(defaultStateDir(config.stateDir), proxy.adminUrl);
    } catch (err) {
      logger.warn({ err }, 'cannot write admin-url to the state directory: sipctl needs --proxy-admin');
    }
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    if (adminUrlFile !== null && proxy.adminUrl !== null) removeAdminUrlFile(adminUrlFile, proxy.adminUrl);
    proxy.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
} catch (err) {
  logger.fatal({ err }, 'sip-proxy failed to start');
  process.stderr.write(`sip-proxy: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
