/**
 * Composition root: builds every layer from the config and wires them (STYLE.md §3: state
 * owners are created here and injected). Used by main.ts and by tests that run a proxy in-process.
 */
import { TimerWheel, TransactionLayer, TransportLayer, type Logger, type Transport, type TransportHost } from '@voip/sip';
import { JournalAccountingSink, type AccountingSink } from '@voip/acc';
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

export const VERSION = '0.1.0';

export interface RunningProxy {
  readonly transports: readonly Transport[];
  readonly location: LocationStore;
  readonly stats: ProxyStats;
  readonly accounting: AccountingSink | null;
  /** http://host:port of the admin API, or null when disabled. */
  readonly adminUrl: string | null;
  close(): Promise<void>;
}

function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(s);
  if (!m) throw new Error(`admin.listen must be host:port, got ${s}`);
  return { host: m[1]!, port: Number(m[2]) };
}

export interface StartOptions {
  /**
   * Builds the transports instead of binding `config.listen` (in-process benchmarks, fakes).
   * They deliver into `host`; the proxy attaches them to its transport layer.
   */
  transports?: (host: TransportHost) => Transport[];
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
  const accounting: AccountingSink | null = config.accounting.journal
    ? await JournalAccountingSink.open({ path: config.accounting.journal, fsync: config.accounting.fsync, logger: logger.child({ layer: 'acc.journal' }) })
    : null;
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
  core.attach(transactions, createRouter(modules));
  transport.setSink(transactions);

  let admin: FastifyInstance | null = null;
  let adminUrl: string | null = null;
  if (config.admin.listen) {
    const { host, port } = splitHostPort(config.admin.listen);
    admin = buildAdminServer({
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
    adminUrl,
    async close(): Promise<void> {
      location.stop();
      transactions.close();
      await transport.close();
      wheel.close();
      if (admin) await admin.close();
      if (accounting) await accounting.close();
    },
  };
}
