/**
 * In-memory Storage: the embedded default for the quick start and for unit tests. Same
 * contract as MysqlStorage (the shared contract test runs against both); data lives as long
 * as the process. Provisioned from a YAML/JSON file by `loadProvisioningFile`.
 */
import { StorageError } from './storage-error.js';
import type {
  AddressRepository,
  AddressRow,
  AliasRepository,
  AliasRow,
  DialplanRepository,
  DialplanRow,
  DomainRepository,
  DomainRow,
  GroupRepository,
  GroupRow,
  LcrGatewayRow,
  LcrRepository,
  LcrRuleRow,
  LcrRuleTargetRow,
  LocationRepository,
  LocationRow,
  NewRow,
  PreferenceRepository,
  PreferenceRow,
  SchemaReport,
  SpeedDialRepository,
  SpeedDialRow,
  Storage,
  Subscriber,
  SubscriberRepository,
  TrustedRepository,
  TrustedRow,
} from './storage.js';
import { PROVIDER_TABLE_VERSIONS, REQUIRED_TABLE_VERSIONS } from './storage.js';

/** Domains compare case-insensitively (RFC 3261 §19.1.4 host comparison); stored as given. */
function dkey(domain: string | null): string {
  return (domain ?? '').toLowerCase();
}

function accountKey(username: string, domain: string | null): string {
  return `${username}\u0000${dkey(domain)}`;
}

class MemorySubscribers implements SubscriberRepository {
  readonly rows = new Map<string, Subscriber>();

  async get(username: string, domain: string): Promise<Subscriber | null> {
    const s = this.rows.get(accountKey(username, domain));
    return s ? { ...s } : null;
  }

  async add(s: Subscriber): Promise<void> {
    const k = accountKey(s.username, s.domain);
    if (this.rows.has(k)) throw new StorageError('STORAGE_ERR_DUPLICATE', `subscriber ${s.username}@${s.domain} already exists`);
    this.rows.set(k, { ...s, emailAddress: s.emailAddress ?? '' });
  }

  async setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean> {
    const s = this.rows.get(accountKey(username, domain));
    if (!s) return false;
    s.password = password;
    s.ha1 = ha1;
    s.ha1b = ha1b;
    return true;
  }

  async remove(username: string, domain: string): Promise<boolean> {
    return this.rows.delete(accountKey(username, domain));
  }

  async list(domain?: string): Promise<Subscriber[]> {
    const out: Subscriber[] = [];
    for (const s of this.rows.values()) if (domain === undefined || dkey(s.domain) === dkey(domain)) out.push({ ...s });
    return out.sort((a, b) => a.domain.localeCompare(b.domain) || a.username.localeCompare(b.username));
  }
}

class MemoryAliases implements AliasRepository {
  readonly rows: AliasRow[] = [];

  async resolve(aliasUsername: string, aliasDomain: string): Promise<AliasRow[]> {
    return this.rows.filter((r) => r.aliasUsername === aliasUsername && dkey(r.aliasDomain) === dkey(aliasDomain)).map((r) => ({ ...r }));
  }

  async add(row: AliasRow): Promise<void> {
    const dup = this.rows.some(
      (r) => r.aliasUsername === row.aliasUsername && dkey(r.aliasDomain) === dkey(row.aliasDomain) && r.username === row.username && dkey(r.domain) === dkey(row.domain),
    );
    if (dup) throw new StorageError('STORAGE_ERR_DUPLICATE', `alias ${row.aliasUsername}@${row.aliasDomain} -> ${row.username}@${row.domain} already exists`);
    this.rows.push({ ...row });
  }

  async remove(aliasUsername: string, aliasDomain: string): Promise<number> {
    let n = 0;
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]!;
      if (r.aliasUsername === aliasUsername && dkey(r.aliasDomain) === dkey(aliasDomain)) {
        this.rows.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  async list(target?: { username: string; domain: string }): Promise<AliasRow[]> {
    return this.rows
      .filter((r) => target === undefined || (r.username === target.username && dkey(r.domain) === dkey(target.domain)))
      .map((r) => ({ ...r }));
  }
}

class MemoryDomains implements DomainRepository {
  readonly rows = new Map<string, DomainRow>();

  async list(): Promise<DomainRow[]> {
    return [...this.rows.values()].map((r) => ({ ...r })).sort((a, b) => a.domain.localeCompare(b.domain));
  }

  async add(domain: string, did: string | null = null): Promise<void> {
    if (this.rows.has(dkey(domain))) throw new StorageError('STORAGE_ERR_DUPLICATE', `domain ${domain} already exists`);
    this.rows.set(dkey(domain), { domain, did, lastModified: Date.now() });
  }

  async remove(domain: string): Promise<boolean> {
    return this.rows.delete(dkey(domain));
  }
}

class MemoryGroups implements GroupRepository {
  readonly rows: GroupRow[] = [];

  async groupsOf(username: string, domain: string): Promise<string[]> {
    return this.rows.filter((r) => r.username === username && dkey(r.domain) === dkey(domain)).map((r) => r.grp);
  }

  async grant(username: string, domain: string, grp: string): Promise<void> {
    if (this.rows.some((r) => r.username === username && dkey(r.domain) === dkey(domain) && r.grp === grp)) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `${username}@${domain} is already in group ${grp}`);
    }
    this.rows.push({ username, domain, grp, lastModified: Date.now() });
  }

  async revoke(username: string, domain: string, grp?: string): Promise<number> {
    let n = 0;
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]!;
      if (r.username === username && dkey(r.domain) === dkey(domain) && (grp === undefined || r.grp === grp)) {
        this.rows.splice(i, 1);
        n++;
      }
    }
    return n;
  }

  async list(account?: { username: string; domain: string }): Promise<GroupRow[]> {
    return this.rows
      .filter((r) => account === undefined || (r.username === account.username && dkey(r.domain) === dkey(account.domain)))
      .map((r) => ({ ...r }));
  }
}

class MemoryPreferences implements PreferenceRepository {
  readonly rows: PreferenceRow[] = [];

  async list(filter: { username?: string; domain?: string; attribute?: string } = {}): Promise<PreferenceRow[]> {
    return this.rows
      .filter(
        (r) =>
          (filter.username === undefined || r.username === filter.username) &&
          (filter.domain === undefined || dkey(r.domain) === dkey(filter.domain)) &&
          (filter.attribute === undefined || r.attribute === filter.attribute),
      )
      .map((r) => ({ ...r }));
  }

  async add(row: Omit<PreferenceRow, 'lastModified'>): Promise<void> {
    this.rows.push({ ...row, lastModified: Date.now() });
  }

  async remove(username: string, domain: string, attribute?: string): Promise<number> {
    let n = 0;
    for (let i = this.rows.length - 1; i >= 0; i--) {
      const r = this.rows[i]!;
      if (r.username === username && dkey(r.domain) === dkey(domain) && (attribute === undefined || r.attribute === attribute)) {
        this.rows.splice(i, 1);
        n++;
      }
    }
    return n;
  }
}

class MemoryLocation implements LocationRepository {
  readonly rows = new Map<string, LocationRow>();

  async upsert(row: LocationRow): Promise<void> {
    this.rows.set(row.ruid, { ...row });
  }

  async upsertMany(rows: readonly LocationRow[]): Promise<void> {
    for (const r of rows) this.rows.set(r.ruid, { ...r });
  }

  async remove(ruid: string): Promise<boolean> {
    return this.rows.delete(ruid);
  }

  async removeMany(ruids: readonly string[]): Promise<number> {
    let n = 0;
    for (const r of ruids) if (this.rows.delete(r)) n++;
    return n;
  }

  async byAor(username: string, domain: string | null): Promise<LocationRow[]> {
    const out: LocationRow[] = [];
    for (const r of this.rows.values()) if (r.username === username && dkey(r.domain) === dkey(domain)) out.push({ ...r });
    return out;
  }

  async live(now: number): Promise<LocationRow[]> {
    const out: LocationRow[] = [];
    for (const r of this.rows.values()) if (r.expires === 0 || r.expires > now) out.push({ ...r });
    return out;
  }

  async removeExpired(now: number): Promise<number> {
    let n = 0;
    for (const [k, r] of this.rows) {
      if (r.expires !== 0 && r.expires <= now) {
        this.rows.delete(k);
        n++;
      }
    }
    return n;
  }
}

/**
 * A table with an AUTO_INCREMENT id, like the Kamailio tables below: ids start at 1 and are
 * never reused, rows come back as copies in id order.
 */
class MemoryTable<T extends { id: number }> {
  private readonly rows = new Map<number, T>();
  private nextId = 1;

  insert(row: NewRow<T>): number {
    const id = this.nextId++;
    this.rows.set(id, { id, ...row } as T);
    return id;
  }

  all(): T[] {
    return [...this.rows.values()].map((r) => ({ ...r }));
  }

  find(pred: (r: T) => boolean): T | undefined {
    for (const r of this.rows.values()) if (pred(r)) return r;
    return undefined;
  }

  delete(id: number): boolean {
    return this.rows.delete(id);
  }

  /** Deletes the matching rows; the number deleted. */
  deleteWhere(pred: (r: T) => boolean): number {
    let n = 0;
    for (const [id, r] of this.rows) {
      if (pred(r)) {
        this.rows.delete(id);
        n++;
      }
    }
    return n;
  }
}

class MemoryTrusted implements TrustedRepository {
  readonly table = new MemoryTable<TrustedRow>();

  async list(): Promise<TrustedRow[]> {
    return this.table.all();
  }

  async add(row: NewRow<TrustedRow>): Promise<number> {
    // The trusted table has no unique key (several patterns per peer are legal); an identical
    // row would only shadow the first, so it is refused like an alias duplicate.
    const dup = this.table.find((r) => r.srcIp === row.srcIp && r.proto === row.proto && r.fromPattern === row.fromPattern && r.ruriPattern === row.ruriPattern);
    if (dup) throw new StorageError('STORAGE_ERR_DUPLICATE', `trusted peer ${row.srcIp} (${row.proto}${row.fromPattern === null ? '' : `, ${row.fromPattern}`}) already exists`);
    return this.table.insert(row);
  }

  async removeBySrcIp(srcIp: string): Promise<number> {
    return this.table.deleteWhere((r) => r.srcIp === srcIp);
  }
}

class MemoryAddresses implements AddressRepository {
  readonly table = new MemoryTable<AddressRow>();

  async list(): Promise<AddressRow[]> {
    return this.table.all();
  }

  async add(row: NewRow<AddressRow>): Promise<number> {
    const dup = this.table.find((r) => r.grp === row.grp && r.ipAddr === row.ipAddr && r.mask === row.mask && r.port === row.port);
    if (dup) throw new StorageError('STORAGE_ERR_DUPLICATE', `address ${row.ipAddr}/${row.mask} port ${row.port} is already in group ${row.grp}`);
    return this.table.insert(row);
  }

  async remove(id: number): Promise<boolean> {
    return this.table.delete(id);
  }
}

class MemoryLcr implements LcrRepository {
  readonly gw = new MemoryTable<LcrGatewayRow>();
  readonly rule = new MemoryTable<LcrRuleRow>();
  readonly target = new MemoryTable<LcrRuleTargetRow>();

  async gateways(): Promise<LcrGatewayRow[]> {
    return this.gw.all();
  }

  async rules(): Promise<LcrRuleRow[]> {
    return this.rule.all();
  }

  async targets(): Promise<LcrRuleTargetRow[]> {
    return this.target.all();
  }

  async addGateway(row: NewRow<LcrGatewayRow>): Promise<number> {
    if (row.gwName !== null && this.gw.find((g) => g.lcrId === row.lcrId && g.gwName === row.gwName)) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `gateway ${row.gwName} already exists in LCR instance ${row.lcrId}`);
    }
    return this.gw.insert(row);
  }

  async removeGateway(lcrId: number, gwName: string): Promise<boolean> {
    // Every gateway of that name (a table written by other tools may repeat one), with its targets.
    const ids = new Set(this.gw.all().filter((x) => x.lcrId === lcrId && x.gwName === gwName).map((x) => x.id));
    if (ids.size === 0) return false;
    this.target.deleteWhere((t) => ids.has(t.gwId));
    this.gw.deleteWhere((x) => ids.has(x.id));
    return true;
  }

  async addRule(row: NewRow<LcrRuleRow>): Promise<number> {
    // lcr_rule's unique key (lcr_id, prefix, from_uri), with NULL equal to NULL: MySQL's index
    // lets NULLs repeat, but two such rules are the same rule to load_gws().
    if (this.rule.find((r) => r.lcrId === row.lcrId && r.prefix === row.prefix && r.fromUri === row.fromUri)) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `LCR rule for prefix ${row.prefix ?? '(any)'}${row.fromUri === null ? '' : ` from ${row.fromUri}`} already exists in LCR instance ${row.lcrId}`);
    }
    return this.rule.insert(row);
  }

  async removeRule(id: number): Promise<boolean> {
    if (!this.rule.delete(id)) return false;
    this.target.deleteWhere((t) => t.ruleId === id);
    return true;
  }

  async addTarget(row: NewRow<LcrRuleTargetRow>): Promise<number> {
    // lcr_rule_target's unique key (rule_id, gw_id).
    if (this.target.find((t) => t.ruleId === row.ruleId && t.gwId === row.gwId)) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `gateway ${row.gwId} is already a target of LCR rule ${row.ruleId}`);
    }
    return this.target.insert(row);
  }
}

class MemorySpeedDial implements SpeedDialRepository {
  readonly table = new MemoryTable<SpeedDialRow>();

  async lookup(username: string, domain: string, sdUsername: string): Promise<SpeedDialRow | null> {
    const r = this.table.find((x) => x.username === username && dkey(x.domain) === dkey(domain) && x.sdUsername === sdUsername);
    return r ? { ...r } : null;
  }

  async list(account?: { username: string; domain: string }): Promise<SpeedDialRow[]> {
    return this.table
      .all()
      .filter((r) => account === undefined || (r.username === account.username && dkey(r.domain) === dkey(account.domain)))
      .sort((a, b) => a.domain.localeCompare(b.domain) || a.username.localeCompare(b.username) || a.sdUsername.localeCompare(b.sdUsername));
  }

  async add(row: NewRow<SpeedDialRow>): Promise<number> {
    // speed_dial_idx: UNIQUE (username, domain, sd_domain, sd_username).
    const dup = this.table.find(
      (x) => x.username === row.username && dkey(x.domain) === dkey(row.domain) && dkey(x.sdDomain) === dkey(row.sdDomain) && x.sdUsername === row.sdUsername,
    );
    if (dup) throw new StorageError('STORAGE_ERR_DUPLICATE', `speed dial ${row.sdUsername} of ${row.username}@${row.domain} already exists`);
    return this.table.insert(row);
  }

  async remove(username: string, domain: string, sdUsername: string): Promise<boolean> {
    return this.table.deleteWhere((x) => x.username === username && dkey(x.domain) === dkey(domain) && x.sdUsername === sdUsername) > 0;
  }
}

class MemoryDialplan implements DialplanRepository {
  readonly table = new MemoryTable<DialplanRow>();

  async list(dpid?: number): Promise<DialplanRow[]> {
    // dialplan's load order: by dpid, then priority (lower first), then id.
    return this.table
      .all()
      .filter((r) => dpid === undefined || r.dpid === dpid)
      .sort((a, b) => a.dpid - b.dpid || a.pr - b.pr || a.id - b.id);
  }

  async add(row: NewRow<DialplanRow>): Promise<number> {
    return this.table.insert(row);
  }

  async remove(id: number): Promise<boolean> {
    return this.table.delete(id);
  }
}

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly subscribers = new MemorySubscribers();
  readonly aliases = new MemoryAliases();
  readonly domains = new MemoryDomains();
  readonly groups = new MemoryGroups();
  readonly preferences = new MemoryPreferences();
  readonly location = new MemoryLocation();
  readonly trusted = new MemoryTrusted();
  readonly addresses = new MemoryAddresses();
  readonly lcr = new MemoryLcr();
  readonly speedDial = new MemorySpeedDial();
  readonly dialplan = new MemoryDialplan();

  constructor(readonly description = 'memory') {}

  async initSchema(): Promise<SchemaReport> {
    // Nothing to create: the maps exist. Reported as existing so callers print the same summary.
    return { created: [], existing: [...Object.keys(REQUIRED_TABLE_VERSIONS), ...Object.keys(PROVIDER_TABLE_VERSIONS)], altered: [] };
  }

  async versions(): Promise<Map<string, number>> {
    return new Map([...Object.entries(REQUIRED_TABLE_VERSIONS), ...Object.entries(PROVIDER_TABLE_VERSIONS)]);
  }

  async close(): Promise<void> {}
}
