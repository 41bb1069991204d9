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
import { assertSchema, openStorage, type Storage } from '@voip/storage';
import { createCh5Router } from './routing/ch5-route.js';
import type { Ch5Modules } from './routing/ch5-modules-api.js';
import * as auth from './modules/auth/index.js';
import * as aliases from './modules/aliases/index.js';
import * as domain from './modules/domain/index.js';
import { LocationPersistence } from './modules/location/location-persistence.js';
import { usrlocSync } from './modules/location/location-persistence-sync.js';
import { setupProvider, type ProviderSetup } from './provider-setup.js';
import { createProviderRouter } from './routing/provider-route.js';
import * as nat from './modules/nat/index.js';
import * as rtpengine from './modules/rtpengine/index.js';
import { natModules } from './routing/nat-sub-routes.js';
import * as pike from './modules/pike/index.js';
import * as secfilter from './modules/secfilter/index.js';
import { OverloadGuard, eventLoopDelaySampler, procUdpDropSampler } from './core/overload-guard.js';
import { FilteringSink, type RequestFilter } from './core/request-filter.js';
import { listensOnTls, loadTlsCredentials } from './tls-credentials.js';
import { nativeUdp } from './udp-io.js';
import { NativeUdpTransport, nativeQueueDrops, nativeQueueWaitMs } from '@voip/udp-native';

export const VERSION = '0.1.0';

/** The in-memory tables the admin API reloads (POST /domain/reload, /permissions/reload …). */
export type AdminReloadKind = 'domains' | 'permissions' | 'lcr' | 'dialplan' | 'preferences';

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
  /**
   * Reloads a table this process keeps in memory (what the admin API's reload endpoints do);
   * -1 when the database failed, 0 when this proxy has no such table. Worker threads call it
   * when another worker's admin API reloaded.
   */
  reload(what: AdminReloadKind): Promise<number>;
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
  /**
   * Told after the admin API reloaded a table here (a worker thread: the other workers must
   * reload too, each keeps its own copy).
   */
  onAdminReload?: (what: AdminReloadKind) => void;
}

export async function startProxy(config: ProxyConfig, logger: Logger, opts: StartOptions = {}): Promise<RunningProxy> {
  if (config.route !== undefined && config.route !== 'standard' && !config.db.url) {
    throw new Error(`route ${config.route} needs a database or provisioning file (--db)`);
  }
  const wheel = new TimerWheel();
  // TLS listeners need a certificate (configured, or the generated lab one: tls-credentials.ts).
  const tls = opts.transports === undefined && listensOnTls(config) ? await loadTlsCredentials(config, logger) : undefined;
  const transport = new TransportLayer({
    maxMessageSize: config.maxMessageSize,
    udpRecvBufferSize: config.udpReceiveBufferSize,
    logger,
    // recvmmsg/sendmmsg sockets (udp-io.ts); the in-process `transports` bring their own.
    ...(opts.transports === undefined && nativeUdp(config, logger) ? { udpTransport: NativeUdpTransport.open } : {}),
    ...(tls !== undefined ? { tls } : {}),
  });
  const transports: Transport[] = [];
  if (opts.transports) {
    for (const t of opts.transports(transport.host)) {
      transport.attach(t);
      transports.push(t);
    }
  } else {
    try {
      // The book's advertised_address: what Via and Record-Route name when the proxy listens on
      // a wildcard address or sits behind a static NAT (a container on several networks).
      const advertise = config.advertisedAddress !== undefined ? { advertise: { host: config.advertisedAddress } } : {};
      for (const l of config.listen) transports.push(await transport.listen({ protocol: l.protocol, address: l.address, port: l.port, ...advertise }));
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
  // Edge protection (docs/security.md): overload guard in the core, pike and secfilter in front
  // of the transaction layer, password-guessing limits in the auth module.
  const udpPorts = transports.filter((t) => t.protocol === 'UDP').map((t) => t.local.port);
  const overload: OverloadGuard | null = config.overload.enabled
    ? new OverloadGuard(
        config.overload,
        (): number => core.activeContexts,
        logger,
        eventLoopDelaySampler(() => nativeQueueWaitMs(transports)),
        undefined,
        udpPorts.length > 0 ? procUdpDropSampler(udpPorts, undefined, () => nativeQueueDrops(transports)) : null,
      )
    : null;
  overload?.start();
  const core = new ProxyCore({ config, transport, identity, resolver: new TargetResolver(), logger, stats, wheel, overload });
  const transactions = new TransactionLayer(transport, core, {
    timers: { T1: config.timers.t1, T2: config.timers.t2, T4: config.timers.t4, timerC: config.timers.timerC },
    logger,
    wheel,
    stateless: config.relayMode === 'stateless',
  });
  const modules = {
    rr: rr.init({ identity }),
    // With NAT keepalives off, NATed UDP bindings get a short Expires so phones refresh in time.
    registrar: registrar.init({ settings: { ...config.registrar, natUdpMaxExpires: config.nat.keepalive.interval > 0 ? 0 : config.nat.udpMaxExpires }, location }),
    acc: acc.init({ sink: accounting, logger }),
  };
  // Chapter 5 (--db / SIP_DB_URL): subscribers, location, aliases and domains in the database,
  // digest authentication for REGISTER and for calls from local users. Without it: chapter 4.
  let storage: Storage | null = null;
  let persistence: LocationPersistence | null = null;
  let domains: domain.DomainModule | null = null;
  let authModule: auth.AuthModuleHandle | null = null;
  let natModule: nat.NatModule | null = null;
  let mediaModule: rtpengine.RtpengineModule | null = null;
  let provider: ProviderSetup | null = null;
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
      auth: (authModule = auth.init({ settings: { ...config.auth, nonceSecret }, subscribers: storage.subscribers, logger })),
      aliases: aliases.init({ settings: config.aliases, aliases: storage.aliases, logger }),
      domain: domains,
      usrloc: usrlocSync(persistence),
    };
    // NAT traversal (docs/nat.md): nathelper always, media anchoring when relays are configured.
    natModule = nat.init({ settings: config.nat, location, transports: transport, logger });
    if (config.rtpengine.relays.length > 0) mediaModule = rtpengine.init({ settings: config.rtpengine, logger });
    ch5.nat = natModules(natModule.api, mediaModule);
    // The route: provider (book ch. 7–8) by default with a database, or ch5 / standard on request.
    const route = config.route ?? 'provider';
    if (route === 'provider') {
      try {
        provider = await setupProvider(config, storage, ch5, logger);
      } catch (err) {
        domains.stop();
        await persistence?.close();
        await storage.close();
        await transport.close();
        throw err;
      }
      core.attach(transactions, createProviderRouter(provider.modules));
    } else if (route === 'ch5') core.attach(transactions, createCh5Router(ch5));
    else core.attach(transactions, createRouter(modules));
    logger.info({ route, db: storage.description, usrloc: config.usrloc.dbMode, domains: domains.domains }, `${route} route (database, digest authentication)`);
  } else {
    core.attach(transactions, createRouter(modules));
  }
  // Peers the provider's tables trust (gateways) are exempt from pike like `pike.trusted`.
  const peers = provider;
  const pikeGuard = config.pike.enabled ? pike.init({ settings: config.pike, logger, trustedPeer: peers !== null ? (ip, port): boolean => peers.trustsSource(ip, port) : null }) : null;
  const scannerFilter = config.secfilter.enabled ? secfilter.init({ settings: config.secfilter, logger }) : null;
  const filters: RequestFilter[] = [];
  if (pikeGuard) filters.push(pikeGuard);
  if (scannerFilter) filters.push(scannerFilter);
  const sink = filters.length > 0 ? new FilteringSink(transactions, filters) : transactions;
  // nat first: keepalive replies end there, force_rport happens before any transaction exists.
  transport.setSink(natModule !== null ? natModule.sinkFor(sink) : sink);
  const edgeMetrics = (): Record<string, number> => ({ ...pikeGuard?.metrics(), ...scannerFilter?.metrics(), ...overload?.metrics(), ...authModule?.metrics() });

  const providerSetup = provider;
  const domainTable = domains;
  const reload = (what: AdminReloadKind): Promise<number> => {
    if (what === 'domains') return domainTable ? domainTable.reload() : Promise.resolve(0);
    return providerSetup ? providerSetup.reloaders[what]() : Promise.resolve(0);
  };
  // An admin reload applies here, then (worker threads) in every other worker.
  const reloadAndTell = async (what: AdminReloadKind): Promise<number> => {
    const n = await reload(what);
    if (n >= 0) opts.onAdminReload?.(what);
    return n;
  };

  let admin: FastifyInstance | null = null;
  let adminUrl: string | null = null;
  if (config.admin.listen) {
    const { host, port } = splitHostPort(config.admin.listen);
    const domainModule = domains;
    admin = buildAdminServer({
      reloadDomains: domainModule ? () => reloadAndTell('domains') : null,
      reloadProvider: provider
        ? {
            permissions: () => reloadAndTell('permissions'),
            lcr: () => reloadAndTell('lcr'),
            dialplan: () => reloadAndTell('dialplan'),
            preferences: () => reloadAndTell('preferences'),
          }
        : null,
      stats,
      location,
      version: VERSION,
      gauges: () => ({ response_contexts: core.activeContexts, ...transactions.stats, ...edgeMetrics() }),
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
    reload,
    async close(): Promise<void> {
      provider?.stop();
      domains?.stop();
      location.stop();
      transactions.close();
      pikeGuard?.close();
      natModule?.close();
      mediaModule?.close();
      overload?.close();
      authModule?.close();
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
