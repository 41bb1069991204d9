/**
 * lcr module: least-cost routing to PSTN gateways with Kamailio 5.x lcr semantics over the
 * `lcr_gw`, `lcr_rule` and `lcr_rule_target` tables (book ch. 7, ch. 8 route[4] and
 * failure_route[2]):
 *
 *  - `load_gws()`: rules whose prefix is a prefix of the R-URI user are tried longest first; a
 *    rule also needs its `from_uri` pattern to match the caller's URI and its `request_uri`
 *    pattern the R-URI; a matching rule with `stopper` = 1 ends the search at its length. Their
 *    targets are ordered by prefix length (longer first), then priority (LOWER number first, as
 *    Kamailio), then by weight at random among equals; a gateway appears once; `defunct`
 *    gateways are skipped.
 *  - `next_gw()`: the R-URI becomes `sip:<prefix><user without strip digits>@<gw>:<port>` with
 *    the gateway's transport and URI parameters.
 *
 * The tables live in memory (one instance `lcrId`), compiled at load and replaced whole on
 * reload (POST /lcr/reload, periodic) — never a query per call. The state of a hunt (the ordered
 * gateways, the next one to try) is a transaction AVP on the route context, so failure_route[2]
 * continues where route[4] started. Allowed in request and failure routes.
 */
import { TableReloader } from '../../util/table-reloader.js';
import { canonicalIp } from '../../util/canonical-ip.js';
import { SipUri, type Logger } from '@voip/sip';
import type { ForwardingContext, RequestContext } from '../../core/route-context.js';
import type { LcrApi } from '../../routing/provider-modules-api.js';
import type { LcrGatewayRow, LcrRepository, LcrRuleRow, LcrRuleTargetRow } from '@voip/storage';
import { compileSafeRegex, safeTest } from '@voip/storage';

export const name = 'lcr';

export interface LcrSettings {
  /** The LCR instance (lcr_id) this proxy routes with. */
  lcrId: number;
  /** fr_inv_timer for calls to this instance's gateways (ms). */
  frInvTimeoutMs: number;
  /** Periodic reload (ms); 0 = start-up and reload only. */
  reloadIntervalMs: number;
}

/** lcr_gw.transport codes. */
const TRANSPORTS: Readonly<Record<number, string>> = { 1: 'udp', 2: 'tcp', 3: 'tls', 4: 'sctp' };
/** Longest R-URI user looked at. */
const MAX_USER_LENGTH = 64;

interface Gateway {
  readonly id: number;
  readonly name: string;
  readonly scheme: 'sip' | 'sips';
  /** IPv6 in brackets, as in a URI. */
  readonly host: string;
  readonly port: number | null;
  readonly transport: string | null;
  readonly params: readonly (readonly [string, string | null])[];
  readonly strip: number;
  readonly prefix: string;
  readonly tag: string | null;
}

interface Rule {
  readonly prefix: string;
  readonly from: RegExp | null;
  readonly ruri: RegExp | null;
  readonly stopper: boolean;
  readonly targets: readonly { gw: Gateway; priority: number; weight: number }[];
}

interface LcrTables {
  /** Rules by prefix ('' = every number). */
  readonly byPrefix: ReadonlyMap<string, readonly Rule[]>;
  readonly maxPrefix: number;
  readonly gateways: number;
  readonly rules: number;
}

/** One hunt: the ordered gateways and where we are (a transaction AVP). */
interface Hunt {
  readonly user: string;
  readonly gateways: readonly Gateway[];
  next: number;
  current: Gateway | null;
}

const HUNT = Symbol('lcr.hunt');

function parseParams(p: string | null): [string, string | null][] {
  const out: [string, string | null][] = [];
  if (p === null) return out;
  for (const part of p.split(';')) {
    const t = part.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    out.push(eq < 0 ? [t.toLowerCase(), null] : [t.slice(0, eq).toLowerCase(), t.slice(eq + 1)]);
  }
  return out;
}

function hostOf(row: LcrGatewayRow): string | null {
  const h = row.ipAddr ?? row.hostname;
  if (h === null || h === '') return null;
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

export class LcrModule implements LcrApi {
  private tables: LcrTables = { byPrefix: new Map(), maxPrefix: 0, gateways: 0, rules: 0 };
  /** ip_addr of this instance's gateways (lower case, no brackets): pike exempts them. */
  private gatewayIps: ReadonlySet<string> = new Set();
  private readonly log: Logger;
  private readonly reloader: TableReloader;

  constructor(
    private readonly s: LcrSettings,
    private readonly repo: LcrRepository,
    logger: Logger,
    /** Weight draw in [0, 1); injectable so tests can fix the order. */
    private readonly random: () => number = Math.random,
  ) {
    this.log = logger.child({ layer: 'proxy.lcr' });
    this.reloader = new TableReloader(() => this.load(), s.reloadIntervalMs, this.log, 'lcr tables');
  }

  get frInvTimeout(): number {
    return this.s.frInvTimeoutMs;
  }

  async start(): Promise<void> {
    await this.reloader.start();
  }

  stop(): void {
    this.reloader.stop();
  }

  /** Replaces the tables; the number of gateways + rules loaded, or -1 when the database failed. */
  reload(): Promise<number> {
    return this.reloader.reload();
  }

  private async load(): Promise<number> {
    const [gws, rules, targets] = await Promise.all([this.repo.gateways(), this.repo.rules(), this.repo.targets()]);
    this.tables = this.compile(gws, rules, targets);
    this.gatewayIps = new Set(gws.filter((g) => g.lcrId === this.s.lcrId && g.ipAddr !== null && g.ipAddr !== '').map((g) => g.ipAddr!.replace(/^\[|\]$/g, '').toLowerCase()));
    this.log.info({ lcrId: this.s.lcrId, gateways: this.tables.gateways, rules: this.tables.rules }, 'lcr tables loaded');
    return this.tables.gateways + this.tables.rules;
  }

  /**
   * Whether `ip` (as canonicalIp of the permissions module writes it) is the ip_addr of one of
   * our gateways, defunct ones included (they still send BYEs and calls). Gateways named by
   * hostname are not matched: no DNS per packet; list their addresses in `address` instead.
   */
  isGatewayAddress(ip: string): boolean {
    return this.gatewayIps.has(ip);
  }

  fromGw(ctx: RequestContext): boolean {
    return this.isGatewayAddress(canonicalIp(ctx.source.address));
  }

  private compile(gwRows: readonly LcrGatewayRow[], ruleRows: readonly LcrRuleRow[], targetRows: readonly LcrRuleTargetRow[]): LcrTables {
    const id = this.s.lcrId;
    const nowSeconds = Math.floor(Date.now() / 1000);
    const gateways = new Map<number, Gateway>();
    for (const row of gwRows) {
      if (row.lcrId !== id) continue;
      // Kamailio: defunct is the UNIX time until which the gateway is out of service (the
      // largest value: until further notice); load_gws skips it meanwhile.
      if (row.defunct !== null && row.defunct > nowSeconds) continue;
      const host = hostOf(row);
      if (host === null) {
        this.log.warn({ id: row.id, gw: row.gwName }, 'lcr_gw skipped: neither ip_addr nor hostname');
        continue;
      }
      const transport = row.transport === null ? null : (TRANSPORTS[row.transport] ?? null);
      gateways.set(row.id, {
        id: row.id,
        name: row.gwName ?? host,
        scheme: row.uriScheme === 2 ? 'sips' : 'sip',
        host,
        port: row.port,
        transport: transport === 'udp' ? null : transport,
        params: parseParams(row.params),
        strip: row.strip ?? 0,
        prefix: row.prefix ?? '',
        tag: row.tag,
      });
    }
    const targetsByRule = new Map<number, { gw: Gateway; priority: number; weight: number }[]>();
    for (const t of targetRows) {
      if (t.lcrId !== id) continue;
      const gw = gateways.get(t.gwId);
      if (gw === undefined) continue;
      const list = targetsByRule.get(t.ruleId) ?? [];
      list.push({ gw, priority: t.priority, weight: t.weight });
      targetsByRule.set(t.ruleId, list);
    }
    const byPrefix = new Map<string, Rule[]>();
    let maxPrefix = 0;
    let count = 0;
    for (const row of ruleRows) {
      if (row.lcrId !== id || row.enabled === 0) continue;
      const from = this.pattern(row.fromUri, row.id, 'from_uri');
      const ruri = this.pattern(row.requestUri, row.id, 'request_uri');
      if (from === undefined || ruri === undefined) continue;
      const prefix = row.prefix ?? '';
      const rule: Rule = { prefix, from, ruri, stopper: row.stopper === 1, targets: targetsByRule.get(row.id) ?? [] };
      const list = byPrefix.get(prefix) ?? [];
      list.push(rule);
      byPrefix.set(prefix, list);
      maxPrefix = Math.max(maxPrefix, prefix.length);
      count++;
    }
    return { byPrefix, maxPrefix, gateways: gateways.size, rules: count };
  }

  private pattern(p: string | null, id: number, column: string): RegExp | null | undefined {
    if (p === null || p === '') return null;
    const r = compileSafeRegex(p);
    if (r.ok) return r.re;
    this.log.warn({ id, column, pattern: p, reason: r.reason }, 'lcr_rule skipped: unusable pattern');
    return undefined;
  }

  loadGws(ctx: ForwardingContext): boolean {
    ctx.avps.delete(HUNT);
    const uri = ctx.request.uri;
    if (!(uri instanceof SipUri) || uri.user === null || uri.user.length > MAX_USER_LENGTH) return false;
    const user = uri.user;
    const fromUri = ctx.request.from.uri.toString();
    const ruri = uri.toString();
    const t = this.tables;
    const picked: { gw: Gateway; prefixLen: number; priority: number; draw: number }[] = [];
    for (let len = Math.min(user.length, t.maxPrefix); len >= 0; len--) {
      const rules = t.byPrefix.get(user.slice(0, len));
      if (rules === undefined) continue;
      let stop = false;
      for (const r of rules) {
        if (r.from !== null && !safeTest(r.from, fromUri)) continue;
        if (r.ruri !== null && !safeTest(r.ruri, ruri)) continue;
        // Kamailio: weight 0 gateways are used only after every weighted one of that priority.
        for (const target of r.targets) picked.push({ gw: target.gw, prefixLen: len, priority: target.priority, draw: target.weight * (this.random() + Number.EPSILON) });
        if (r.stopper) stop = true;
      }
      if (stop) break;
    }
    if (picked.length === 0) return false;
    picked.sort((a, b) => b.prefixLen - a.prefixLen || a.priority - b.priority || b.draw - a.draw);
    const seen = new Set<number>();
    const gateways: Gateway[] = [];
    for (const p of picked) {
      if (seen.has(p.gw.id)) continue;
      seen.add(p.gw.id);
      gateways.push(p.gw);
    }
    const hunt: Hunt = { user, gateways, next: 0, current: null };
    ctx.avps.set(HUNT, hunt);
    return true;
  }

  nextGw(ctx: ForwardingContext): boolean {
    const hunt = ctx.avps.get(HUNT) as Hunt | undefined;
    if (hunt === undefined || hunt.next >= hunt.gateways.length) return false;
    const gw = hunt.gateways[hunt.next++]!;
    hunt.current = gw;
    const params: [string, string | null][] = [];
    if (gw.transport !== null) params.push(['transport', gw.transport]);
    for (const p of gw.params) if (p[0] !== 'transport' || gw.transport === null) params.push([p[0], p[1]]);
    ctx.request.uri = new SipUri({ scheme: gw.scheme, user: gw.prefix + hunt.user.slice(gw.strip), host: gw.host, port: gw.port, params });
    ctx.nextHop = null;
    this.log.debug({ callId: ctx.request.callId, gw: gw.name, ruri: ctx.request.uri.toString() }, 'next gateway');
    return true;
  }

  currentGateway(ctx: ForwardingContext): { name: string; tag: string | null } | null {
    const hunt = ctx.avps.get(HUNT) as Hunt | undefined;
    const gw = hunt?.current ?? null;
    return gw === null ? null : { name: gw.name, tag: gw.tag };
  }

  get size(): number {
    return this.tables.gateways + this.tables.rules;
  }
}

export async function init(deps: { settings: LcrSettings; lcr: LcrRepository; logger: Logger; random?: () => number }): Promise<LcrModule> {
  const m = new LcrModule(deps.settings, deps.lcr, deps.logger, deps.random);
  await m.start();
  return m;
}
