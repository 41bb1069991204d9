/**
 * permissions module: `allow_trusted()` (Kamailio's permissions module, db_mode 1): requests
 * whose source matches a row of the `trusted` table (src_ip, proto, from_pattern, ruri_pattern)
 * or lies in the configured group of the `address` table (ip_addr/mask CIDR, port) come from a
 * trusted peer — a PSTN gateway — and skip digest authentication (book ch. 8 route[3]).
 *
 * Both tables are held in memory (no database access per request), compiled at load, reloaded
 * every `reloadIntervalMs` and on demand (`reload()`, POST /permissions/reload). A failed reload
 * keeps the previous set. Allowed in request routes.
 */
import { TableReloader } from '../../util/table-reloader.js';
import { canonicalIp } from '../../util/canonical-ip.js';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { Logger } from '@voip/sip';
import type { RequestContext } from '../../core/route-context.js';
import type { PermissionsApi } from '../../routing/provider-modules-api.js';
import type { AddressRepository, AddressRow, TrustedRepository, TrustedRow } from '@voip/storage';
import { compileSafeRegex, safeTest } from '@voip/storage';

export const name = 'permissions';

export interface PermissionsSettings {
  /** The `address` group whose members are trusted like `trusted` rows (Kamailio's grp 1). */
  addressGroup: number;
  /** Periodic reload (ms); 0 = start-up and `reload()` only. */
  reloadIntervalMs: number;
}

/** One compiled `trusted` row. */
interface TrustedEntry {
  readonly proto: string;
  readonly from: RegExp | null;
  readonly ruri: RegExp | null;
  readonly tag: string | null;
}

/** The loaded tables: trusted rows by source address, address ranges by port (0 = any port). */
interface PermissionSet {
  readonly trusted: ReadonlyMap<string, readonly TrustedEntry[]>;
  readonly ranges: ReadonlyMap<number, BlockList>;
  readonly count: number;
}

const EMPTY: PermissionSet = { trusted: new Map(), ranges: new Map(), count: 0 };

export { canonicalIp };

function family(ip: string): 'ipv4' | 'ipv6' | null {
  if (isIPv4(ip)) return 'ipv4';
  if (isIPv6(ip)) return 'ipv6';
  return null;
}

export class PermissionsModule implements PermissionsApi {
  private set: PermissionSet = EMPTY;
  private readonly log: Logger;
  private readonly reloader: TableReloader;

  constructor(
    private readonly s: PermissionsSettings,
    private readonly trustedRepo: TrustedRepository,
    private readonly addressRepo: AddressRepository,
    logger: Logger,
  ) {
    this.log = logger.child({ layer: 'proxy.permissions' });
    this.reloader = new TableReloader(() => this.load(), s.reloadIntervalMs, this.log, 'permissions');
  }

  async start(): Promise<void> {
    await this.reloader.start();
  }

  stop(): void {
    this.reloader.stop();
  }

  /** Re-reads both tables; the number of entries loaded, or -1 when the database failed. */
  reload(): Promise<number> {
    return this.reloader.reload();
  }

  private async load(): Promise<number> {
    const [trustedRows, addressRows] = await Promise.all([this.trustedRepo.list(), this.addressRepo.list()]);
    this.set = this.compile(trustedRows, addressRows);
    this.log.info({ trusted: trustedRows.length, addresses: this.set.count - trustedRows.length }, 'permissions loaded');
    return this.set.count;
  }

  private compile(trustedRows: readonly TrustedRow[], addressRows: readonly AddressRow[]): PermissionSet {
    const trusted = new Map<string, TrustedEntry[]>();
    let count = 0;
    // Kamailio orders trusted rows by priority (higher first); the first match decides.
    const sorted = [...trustedRows].sort((a, b) => b.priority - a.priority);
    for (const row of sorted) {
      const ip = canonicalIp(row.srcIp);
      if (family(ip) === null) {
        this.log.warn({ id: row.id, srcIp: row.srcIp }, 'trusted row skipped: src_ip is not an IP address');
        continue;
      }
      const from = this.pattern(row.fromPattern, row.id, 'from_pattern');
      const ruri = this.pattern(row.ruriPattern, row.id, 'ruri_pattern');
      if (from === undefined || ruri === undefined) continue;
      const list = trusted.get(ip) ?? [];
      list.push({ proto: row.proto.toLowerCase(), from, ruri, tag: row.tag });
      trusted.set(ip, list);
      count++;
    }
    const ranges = new Map<number, BlockList>();
    for (const row of addressRows) {
      if (row.grp !== this.s.addressGroup) continue;
      const ip = canonicalIp(row.ipAddr);
      const fam = family(ip);
      const max = fam === 'ipv4' ? 32 : 128;
      if (fam === null || !Number.isInteger(row.mask) || row.mask < 0 || row.mask > max) {
        this.log.warn({ id: row.id, ipAddr: row.ipAddr, mask: row.mask }, 'address row skipped: bad ip_addr/mask');
        continue;
      }
      let list = ranges.get(row.port);
      if (!list) {
        list = new BlockList();
        ranges.set(row.port, list);
      }
      list.addSubnet(ip, row.mask, fam);
      count++;
    }
    return { trusted, ranges, count };
  }

  /** null = no pattern (any); undefined = a bad pattern, the row is skipped. */
  private pattern(p: string | null, id: number, column: string): RegExp | null | undefined {
    if (p === null || p === '') return null;
    const r = compileSafeRegex(p);
    if (r.ok) return r.re;
    this.log.warn({ id, column, pattern: p, reason: r.reason }, 'trusted row skipped: unusable pattern');
    return undefined;
  }

  allowTrusted(ctx: RequestContext): boolean {
    const src = ctx.source;
    const ip = canonicalIp(src.address);
    const rows = this.set.trusted.get(ip);
    if (rows !== undefined) {
      const proto = src.protocol.toLowerCase();
      for (const r of rows) {
        if (r.proto !== 'any' && r.proto !== proto) continue;
        if (r.from !== null && !safeTest(r.from, ctx.request.from.uri.toString())) continue;
        if (r.ruri !== null && !safeTest(r.ruri, ctx.request.uri.toString())) continue;
        return true;
      }
    }
    const fam = family(ip);
    if (fam === null) return false;
    const any = this.set.ranges.get(0);
    if (any !== undefined && any.check(ip, fam)) return true;
    const port = this.set.ranges.get(src.port);
    return port !== undefined && port.check(ip, fam);
  }

  /**
   * Whether `ip` (canonical, see canonicalIp) is a peer these tables trust, by address alone:
   * a `trusted` row for it whatever its proto and patterns, or an address range of the group
   * (any port, or `port`). For pike's exemption (docs/security.md), which runs before any
   * route and must not count a gateway's traffic; a lookup in the loaded set, no query.
   */
  trustsSource(ip: string, port: number): boolean {
    if (this.set.trusted.has(ip)) return true;
    const fam = family(ip);
    if (fam === null) return false;
    if (this.set.ranges.get(0)?.check(ip, fam) === true) return true;
    return this.set.ranges.get(port)?.check(ip, fam) === true;
  }

  /** Entries in force (trusted rows + address ranges of the group). */
  get size(): number {
    return this.set.count;
  }
}

export async function init(deps: {
  settings: PermissionsSettings;
  trusted: TrustedRepository;
  addresses: AddressRepository;
  logger: Logger;
}): Promise<PermissionsModule> {
  const m = new PermissionsModule(deps.settings, deps.trusted, deps.addresses, deps.logger);
  await m.start();
  return m;
}
