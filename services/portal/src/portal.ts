/**
 * Builds a running portal from a config: storage, the portal store, sessions, throttle, clients,
 * metrics (the owners of the portal's state, STYLE.md §3), then the HTTP server. main.ts and the
 * tests both start it through `startPortal`.
 */
import { openPortalStore, openStorage, PORTAL_TABLE_VERSIONS, StorageError, type Storage } from '@voip/storage';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { SessionStore } from './auth/session-store.js';
import { SignInThrottle } from './auth/sign-in-throttle.js';
import { SmtpMailer, type Mailer } from './clients/mailer.js';
import { ProxyAdminClient } from './clients/proxy-admin-client.js';
import { VoicemailClient } from './clients/voicemail-client.js';
import type { PortalConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { buildPortalServer } from './portal-server.js';
import { PortalService, type PortalDeps } from './portal-service.js';

export interface RunningPortal {
  readonly app: FastifyInstance;
  readonly deps: PortalDeps;
  readonly service: PortalService;
  /** http://HOST:PORT actually bound (port 0 resolved). */
  readonly url: string;
  stop(): Promise<void>;
}

export interface PortalOptions {
  /** Replaces SMTP (tests). */
  mailer?: Mailer;
  /** Replaces openStorage(config.db) (tests). */
  storage?: Storage;
  /** false: build the server without listening (fastify inject). */
  listen?: boolean;
  /** Default process metrics (off in unit tests that build many portals). */
  processMetrics?: boolean;
}

/** Refuses a MySQL database without the portal's tables, with the command that adds them. */
async function assertPortalTables(storage: Storage): Promise<void> {
  if (storage.kind !== 'mysql') return;
  const v = await storage.versions();
  for (const t of Object.keys(PORTAL_TABLE_VERSIONS)) {
    if (!v.has(t)) throw new StorageError('STORAGE_ERR_SCHEMA', `${storage.description} has no ${t} table; run sipctl db init (it adds the portal's tables)`);
  }
}

export async function startPortal(config: PortalConfig, log: Logger, opts: PortalOptions = {}): Promise<RunningPortal> {
  const storage = opts.storage ?? (await openStorage(config.db, { logger: log.child({ layer: 'storage' }), connectAttempts: 10 }));
  try {
    await assertPortalTables(storage);
  } catch (err) {
    if (opts.storage === undefined) await storage.close();
    throw err;
  }
  const sessions = new SessionStore(config.session.idleTimeout, config.session.maxSessions);
  const deps: PortalDeps = {
    config,
    storage,
    store: openPortalStore(storage),
    sessions,
    throttle: new SignInThrottle({ maxFailures: config.signIn.maxFailures, lockMs: config.signIn.lock, maxLockMs: config.signIn.maxLock }),
    proxy: new ProxyAdminClient(config.proxyAdminUrl),
    voicemail: new VoicemailClient(config.voicemailUrl),
    mailer: opts.mailer ?? new SmtpMailer(config.smtp),
    readOnly: config.db.startsWith('file:'),
    metrics: createMetrics(() => sessions.size, opts.processMetrics ?? true),
    log,
  };
  const service = new PortalService(deps);
  if (config.admin.user !== undefined && config.admin.password !== undefined) {
    const r = await service.ensureAdmin(config.admin.user, config.admin.password, false);
    log.info({ admin: config.admin.user, result: r }, 'administrator from the configuration');
  }
  const app = buildPortalServer(deps);
  const sweep = setInterval(() => {
    sessions.sweep();
    if (!deps.readOnly) deps.store.purgeSignups(Date.now()).catch((err: Error) => log.warn({ err: err.message }, 'purging expired sign-ups failed'));
  }, 60_000);
  sweep.unref();
  let url = '';
  if (opts.listen !== false) {
    await app.listen({ host: config.listen.address, port: config.listen.port });
    const a = app.server.address();
    const port = typeof a === 'object' && a !== null ? a.port : config.listen.port;
    const host = config.listen.address.includes(':') ? `[${config.listen.address}]` : config.listen.address;
    url = `http://${host}:${port}`;
  }
  return {
    app,
    deps,
    service,
    url,
    async stop() {
      clearInterval(sweep);
      await app.close();
      if (opts.storage === undefined) await storage.close();
    },
  };
}
