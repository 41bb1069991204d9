/**
 * Admin HTTP API (fastify): health, Prometheus metrics, live location (the book's
 * `openserctl ul show|rm|add` and `online`), counters (`monitor`). Bound to loopback by default;
 * its address is printed at start-up for `sipctl --proxy-admin`.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Registry, Gauge, collectDefaultMetrics } from 'prom-client';
import { randomUUID } from 'node:crypto';
import { parseUri } from '@voip/sip';
import type { ProxyStats } from '../core/proxy-stats.js';
import type { LocationStore } from '../modules/location/location-store.js';
import type { Binding } from '../modules/location/binding.js';

export interface AdminDeps {
  stats: ProxyStats;
  location: LocationStore;
  /** Extra live numbers (transactions, contexts) sampled at scrape time. */
  gauges: () => Record<string, number>;
  version: string;
  /** Chapter 5: reloads the domain table now (-1 when the database did not answer); null in chapter 4. */
  reloadDomains?: (() => Promise<number>) | null;
  /** Provider route: reloads its in-memory tables / drops its caches (-1 = the database failed); null otherwise. */
  reloadProvider?: ProviderReloadApi | null;
}

/** The provider route's reloads, one per sipctl command group (trusted, lcr, dialplan, avp/speeddial). */
export interface ProviderReloadApi {
  permissions(): Promise<number>;
  lcr(): Promise<number>;
  dialplan(): Promise<number>;
  preferences(): Promise<number>;
}

function view(b: Binding, now: number): Record<string, unknown> {
  return {
    aor: b.aor,
    contact: b.contact,
    expires: Math.max(0, Math.round((b.expires - now) / 1000)),
    q: b.q,
    callId: b.callId,
    cseq: b.cseq,
    userAgent: b.userAgent,
    received: b.received,
    socket: b.socket,
    ruid: b.ruid,
    lastModified: new Date(b.lastModified).toISOString(),
  };
}

export function buildAdminServer(deps: AdminDeps): FastifyInstance {
  const app = Fastify({ logger: false });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sip_proxy_process_' });
  const counters = new Gauge({
    name: 'sip_proxy_counter',
    help: 'Proxy core counters (requests, responses, replies by class)',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      for (const [k, v] of Object.entries(deps.stats.snapshot())) this.set({ name: k }, v);
    },
  });
  void counters;
  new Gauge({
    name: 'sip_proxy_state',
    help: 'Live state sizes: registered contacts, AORs, transactions, response contexts',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      this.set({ name: 'contacts' }, deps.location.size);
      this.set({ name: 'aors' }, deps.location.aorCount);
      for (const [k, v] of Object.entries(deps.gauges())) this.set({ name: k }, v);
    },
  });

  app.get('/health', async () => ({ status: 'ok', version: deps.version }));
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/stats', async () => ({ ...deps.stats.snapshot(), ...deps.gauges(), contacts: deps.location.size, aors: deps.location.aorCount }));

  // `sipctl domain add|rm` call this so the change applies at once, not at the next periodic reload.
  app.post('/domain/reload', async (_req, reply) => {
    if (!deps.reloadDomains) return reply.code(404).send({ error: 'no domain table: the proxy runs without a database' });
    const n = await deps.reloadDomains();
    if (n < 0) return reply.code(503).send({ error: 'the domain table could not be read; the previous set stays in force' });
    return { domains: n };
  });

  // Provider route: `sipctl trusted|lcr|dialplan|avp …` call these so a change applies at once
  // (Kamailio's `permissions.trustedReload`, `lcr.reload`, `dialplan.reload` RPCs).
  for (const what of ['permissions', 'lcr', 'dialplan', 'preferences'] as const) {
    app.post(`/${what}/reload`, async (_req, reply) => {
      const reloaders = deps.reloadProvider;
      if (!reloaders) return reply.code(404).send({ error: 'the proxy does not run the provider route' });
      const n = await reloaders[what]();
      if (n < 0) return reply.code(503).send({ error: `the ${what} tables could not be read; the previous ones stay in force` });
      return { reloaded: n };
    });
  }

  app.get('/location', async () => {
    const now = Date.now();
    const out: Record<string, unknown>[] = [];
    for (const b of deps.location.all()) if (b.expires > now) out.push(view(b, now));
    return { bindings: out };
  });
  app.get<{ Params: { aor: string } }>('/location/:aor', async (req, reply) => {
    const now = Date.now();
    const list = deps.location.lookup(req.params.aor);
    if (list.length === 0) return reply.code(404).send({ error: `no bindings for ${req.params.aor}` });
    return { bindings: list.map((b) => view(b, now)) };
  });
  app.delete<{ Params: { aor: string } }>('/location/:aor', async (req, reply) => {
    const n = deps.location.removeAor(req.params.aor);
    if (n === 0) return reply.code(404).send({ error: `no bindings for ${req.params.aor}` });
    return { removed: n };
  });
  // `ul add`: a static binding, e.g. for a gateway or a phone that cannot register.
  app.post<{ Body: { aor?: unknown; contact?: unknown; expires?: unknown; q?: unknown } }>('/location', async (req, reply) => {
    const { aor, contact, expires, q } = req.body ?? {};
    if (typeof aor !== 'string' || !/^[^@\s]+@[^@\s]+$|^[^@\s]+$/.test(aor)) return reply.code(400).send({ error: 'aor must be user@domain' });
    if (typeof contact !== 'string' || !('scheme' in parseUri(contact))) return reply.code(400).send({ error: 'contact must be a SIP URI' });
    const secs = expires === undefined ? 3600 : Number(expires);
    if (!Number.isInteger(secs) || secs <= 0 || secs > 31_536_000) return reply.code(400).send({ error: 'expires must be 1..31536000 seconds' });
    const now = Date.now();
    deps.location.upsert({
      ruid: randomUUID(), aor, contact, received: null, path: null, expires: now + secs * 1000,
      q: typeof q === 'number' && q >= 0 && q <= 1 ? q : -1, callId: `admin-${randomUUID()}`, cseq: 1,
      lastModified: now, flags: 0, cflags: 0, userAgent: 'sipctl', socket: null, methods: null, instance: null, regId: 0,
    });
    return reply.code(201).send({ added: { aor, contact, expires: secs } });
  });
  return app;
}
