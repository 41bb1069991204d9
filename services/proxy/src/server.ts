/**
 * Composition root: builds every layer from the config and wires them (STYLE.md §3: state
 * owners are created here and injected). Used by main.ts and by tests that run a proxy in-process.
 */
import { TimerWheel, TransactionLayer, TransportLayer, type Logger, type Transport, type TransportHost } from '@voip/sip';
import {
  ACC_TABLE,
  createAccPool,
  databaseOfUri,
  JournalAccountingSink,
  missingAccColumns,
  MISSED_CALLS_TABLE,
  MysqlAccountingSink,
  type AccountingSink,
} from '@voip/acc';
import type { FastifyInstance } from 'fastify';
import type { ProxyConfig } from './config.js';
import { LocalIdentity } from './core/local-identity.js';
import { ProxyCore } from './core/proxy-core.js';
import { ProxyStats } from './core/proxy-stats.js';
import { TargetResolver } from './core/target-resolver.js';
import { createRouter } from './routing/index.js';
import * as rr from './modules/rr/index.js';
import * as registrar from './modules/registrar/index.js';
import * as acc from './modules/acc/index.js';
import { LocationStore } from './modules/location/location-store.js';
import { buildAdminServer } from './admin/admin-server.js';
import { randomBytes } from 'node:crypto';
import { assertSchema, openStorage, type Storage } from './storage/index.js';
import { createCh5Router } from './routing/ch5-route.js';
import type { Ch5Modules } from './routing/ch5-modules-api.js';
import * as auth from './modules/auth/index.js';
import * as aliases from './modules/aliases/index.js';
import * as domain from './modules/domain/index.js';
import { LocationPersistence } from './modules/location/location-persistence.js';
import { usrlocSync } from './modules/location/location-persistence-sync.js';

export const VERSION = '0.1.0';

export interface RunningProxy {
  readonly transports: readonly Transport[];
  readonly location: LocationStore;
  readonly stats: ProxyStats;
  readonly accounting: AccountingSink | null;
  /** Chapter 5 (--db): the storage, the location persistence and the domain module; null in chapter 4. */
  readonly storage: Storage | null;
  readonly locationPersistence: LocationPersistence | null;
  readonly domains: domain.DomainModule | null;
  /** http://host:port of the admin API, or null when disabled. */
  readonly adminUrl: string | null;
  close(): Promise<void>;
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(s);
  if (!m) throw new Error(`admin.listen must be host:port, got ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

/**
 * Database accounting into Kamailio's acc/missed_calls. A database made by kamdbctl lacks our
 * db_extra columns until `sipctl db init` adds them: then accounting is off, said once, instead
 * of every INSERT failing.
 */
async function mysqlAccounting(uri: string, logger: Logger): Promise<AccountingSink | null> {
  const log = logger.child({ layer: 'acc.mysql' });
  const pool = createAccPool(uri);
  try {
    const database = databaseOfUri(uri);
    for (const table of [ACC_TABLE, MISSED_CALLS_TABLE]) {
      const missing = await missingAccColumns(pool, database, table);
      if (missing.length > 0) {
        log.error({ table, missing }, `accounting disabled: table ${table} lacks columns ${missing.join(', ')}; run sipctl db init`);
        await pool.end();
        return null;
      }
    }
  } catch (err) {
    log.error({ err }, 'accounting disabled: cannot inspect the acc tables');
    await pool.end();
    return null;
  }
  await pool.end();
  return new MysqlAccountingSink({ uri, logger: log });
}

export interface StartOptions {
  /**
   * Builds the transports instead of binding `config.listen` (in-process benchmarks, fakes).
   * They deliver into `host`; the proxy attaches them to its transport layer.
   */
  transports?: (host: TransportHost) => Transport[];
  /** Overrides the accounting sink the config would make (a worker thread posting to the main thread's journal). */
  accounting?: AccountingSink | null;
}

export async function startProxy(config: ProxyConfig, logger: Logger, opts: StartOptions = {}): Promise<RunningProxy> {
  const wheel = new TimerWheel();
  const transport = new TransportLayer({
    maxMessageSize: config.maxMessageSize,
    udpRecvBufferSize: config.udpReceiveBufferSize,
    logger,
  });
  const transports: Transport[] = [];
  if (opts.transports) {
    for (const t of opts.transports(transport.host)) {
      transport.attach(t);
      transports.push(t);
    }
  } else {
    try {
      for (const l of config.listen) transports.push(await transport.listen({ protocol: l.protocol, address: l.address, port: l.port }));
    } catch (err) {
      await transport.close();
      throw err;
    }
  }
  // Port 0 (tests) becomes the real port: identity must know what we actually bound.
  const identity = new LocalIdentity(
    transports.map((t) => t.local),
    config.domains,
    config.advertisedAddress,
  );
  const stats = new ProxyStats();
  // Accounting: a journal when configured (the embedded default); with a MySQL database
  // (chapter 5) Kamailio's acc/missed_calls tables (database accounting); else none.
  let accounting: AccountingSink | null = null;
  if (opts.accounting !== undefined) accounting = opts.accounting;
  else if (config.accounting.journal) {
    accounting = await JournalAccountingSink.open({ path: config.accounting.journal, fsync: config.accounting.fsync, logger: logger.child({ layer: 'acc.journal' }) });
  } else if (config.db.url?.startsWith('mysql:')) accounting = await mysqlAccounting(config.db.url, logger);
  const location = new LocationStore();
  location.start();
  const core = new ProxyCore({ config, transport, identity, resolver: new TargetResolver(), logger, stats });
  const transactions = new TransactionLayer(transport, core, {
    timers: { T1: config.timers.t1, T2: config.timers.t2, T4: config.timers.t4, timerC: config.timers.timerC },
    logger,
    wheel,
    stateless: config.relayMode === 'stateless',
  });
  const modules = {
    rr: rr.init({ identity }),
    registrar: registrar.init({ settings: config.registrar, location }),
    acc: acc.init({ sink: accounting, logger }),
  };
  // Chapter 5 (--db / SIP_DB_URL): subscribers, location, aliases and domains in the database,
  // digest authentication for REGISTER and for calls from local users. Without it: chapter 4.
  let storage: Storage | null = null;
  let persistence: LocationPersistence | null = null;
  let domains: domain.DomainModule | null = null;
  if (config.db.url) {
    const storageLog = logger.child({ layer: 'proxy.storage' });
    try {
      storage = await openStorage(config.db.url, { logger: storageLog, connectAttempts: config.db.connectAttempts });
      await assertSchema(storage);
      if (config.usrloc.dbMode !== 'memory') {
        persistence = new LocationPersistence({
          mode: config.usrloc.dbMode,
          repo: storage.location,
          store: location,
          logger: storageLog,
          flushIntervalMs: config.usrloc.flushInterval,
          cleanupIntervalMs: config.usrloc.cleanupInterval,
          serverId: config.usrloc.serverId,
        });
        await persistence.start();
      }
      domains = await domain.init({ settings: { configured: config.domains, reloadIntervalMs: config.domainReloadInterval }, domains: storage.domains, identity, logger });
    } catch (err) {
      domains?.stop();
      await persistence?.close();
      await storage?.close();
      await transport.close();
      throw err;
    }
    let nonceSecret = config.auth.nonceSecret;
    if (nonceSecret === undefined) {
      nonceSecret = randomBytes(32).toString('hex');
      logger.warn({}, 'auth.nonceSecret not set: nonces are valid for this process only (set it, or SIP_PROXY_AUTH_SECRET, for several workers or restarts)');
    }
    const ch5: Ch5Modules = {
      ...modules,
      auth: auth.init({ settings: { ...config.auth, nonceSecret }, subscribers: storage.subscribers, logger }),
      aliases: aliases.init({ settings: config.aliases, aliases: storage.aliases, logger }),
      domain: domains,
      usrloc: usrlocSync(persistence),
    };
    core.attach(transactions, createCh5Router(ch5));
    logger.info({ db: storage.description, usrloc: config.usrloc.dbMode, domains: domains.domains }, 'chapter-5 configuration (database, digest authentication)');
  } else {
    core.attach(transactions, createRouter(modules));
  }
  transport.setSink(transactions);

  let admin: FastifyInstance | null = null;
  let adminUrl: string | null = null;
  if (config.admin.listen) {
    const { host, port } = splitHostPort(config.admin.listen);
    const domainModule = domains;
    admin = buildAdminServer({
      reloadDomains: domainModule ? () => domainModule.reload() : null,
      stats,
      location,
      version: VERSION,
      gauges: () => ({ response_contexts: core.activeContexts, ...transactions.stats }),
    });
    await admin.listen({ host, port });
    const addr = admin.server.address();
    if (addr && typeof addr === 'object') adminUrl = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
  }

  return {
    transports,
    location,
    stats,
    accounting,
    storage,
    locationPersistence: persistence,
    domains,
    adminUrl,
    async close(): Promise<void> {
      domains?.stop();
      location.stop();
      transactions.close();
      await transport.close();
      wheel.close();
      if (admin) await admin.close();
      if (accounting) await accounting.close();
      // Pending location writes (write-back batch, retries) go out before the pool closes.
      await persistence?.close();
      await storage?.close();
    },
  };
}
