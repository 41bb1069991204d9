#!/usr/bin/env node
// voip-portal: the provider portal (book ch. 6, SerMyAdmin) — administrators and subscribers in a browser.
//   voip-portal [serve] --db URL [--listen HOST:PORT] [--proxy-admin URL] [--voicemail URL] [--config FILE]
//   voip-portal admin add NAME         (password from VOIP_PORTAL_ADMIN_PASSWORD or the first line of stdin)
import { Command } from 'commander';
import { pino } from 'pino';
import { configFromEnv, configFromFile, loadConfig, type PortalConfig, type PortalConfigInput } from './config.js';
import { PortalError } from './errors.js';
import { startPortal } from './portal.js';

interface CliOptions {
  config?: string;
  db?: string;
  listen?: string;
  proxyAdmin?: string;
  voicemail?: string;
  publicUrl?: string;
  insecureCookie?: boolean;
  logLevel?: string;
  checkConfig?: boolean;
}

function withCommon(c: Command): Command {
  return c
    .option('-c, --config <file>', 'YAML or JSON configuration file')
    .option('--db <url>', 'mysql://USER:PASS@HOST:PORT/DB (read-write) or file:provisioning.yaml (read-only)')
    .option('--listen <HOST:PORT>', 'HTTP listener (default 127.0.0.1:8090)')
    .option('--proxy-admin <url>', "the proxy's admin API, for reloads and online users (as sipctl --proxy-admin)")
    .option('--voicemail <url>', "voicemail-bridge's HTTP API (e.g. http://127.0.0.1:9902)")
    .option('--public-url <url>', 'the URL users open, used in confirmation links')
    .option('--insecure-cookie', 'session cookie without Secure: only for plain http on loopback')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--check-config', 'validate the configuration and exit');
}

function configOf(o: CliOptions): PortalConfig {
  const cli: Partial<PortalConfigInput> = {
    db: o.db,
    listen: o.listen,
    proxyAdminUrl: o.proxyAdmin,
    voicemailUrl: o.voicemail,
    publicUrl: o.publicUrl,
    logLevel: o.logLevel as PortalConfigInput['logLevel'],
    session: o.insecureCookie ? { secureCookie: false } : undefined,
  };
  return loadConfig(o.config ? configFromFile(o.config) : {}, configFromEnv(process.env), cli);
}

async function serve(o: CliOptions): Promise<void> {
  const cfg = configOf(o);
  if (o.checkConfig) {
    process.stdout.write('configuration OK\n');
    return;
  }
  const log = pino({ name: 'voip-portal', level: cfg.logLevel });
  const portal = await startPortal(cfg, log);
  log.info({ url: portal.url, storage: portal.deps.storage.description, readOnly: portal.deps.readOnly, proxyAdmin: cfg.proxyAdminUrl ?? null, voicemail: cfg.voicemailUrl ?? null }, 'voip-portal ready');
  process.stdout.write(`voip-portal listening on ${portal.url}\n`);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    await portal.stop();
    log.flush();
    process.exit(process.exitCode ?? 0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

async function readPassword(): Promise<string> {
  const fromEnv = process.env.VOIP_PORTAL_ADMIN_PASSWORD;
  if (fromEnv) return fromEnv;
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n') || text.length > 1024) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

async function main(argv: string[]): Promise<void> {
  const program = new Command().name('voip-portal').description('The provider portal: administrators and subscribers manage the VoIP service in a browser');
  withCommon(program.command('serve', { isDefault: true }).description('run the portal (default)')).action((o: CliOptions) => serve(o));
  const adminCmd = program.command('admin').description('portal administrator accounts');
  withCommon(adminCmd.command('add').argument('<name>').description('create an administrator, or set a new password with --reset').option('--reset', 'replace the password of an existing administrator')).action(
    async (name: string, o: CliOptions & { reset?: boolean }) => {
      const cfg = configOf(o);
      const log = pino({ name: 'voip-portal', level: 'warn' });
      const portal = await startPortal(cfg, log, { listen: false, processMetrics: false });
      try {
        const r = await portal.service.ensureAdmin(name, await readPassword(), o.reset === true);
        process.stdout.write(`administrator ${name}: ${r}${portal.deps.readOnly ? ' (in memory only: the database is a provisioning file)' : ''}\n`);
      } finally {
        await portal.stop();
      }
    },
  );
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  const code = err instanceof PortalError && err.code === 'PORTAL_ERR_CONFIG' ? 2 : 1;
  process.stderr.write(`voip-portal: ${(err as Error).message}\n`);
  process.exit(code);
});
