/**
 * In-memory Storage: the embedded default for the quick start and for unit tests. Same
 * contract as MysqlStorage (the shared contract test runs against both); data lives as long
 * as the process. Provisioned from a YAML/JSON file by `loadProvisioningFile`.
 */
import { StorageError } from './storage-error.js';
import type {
  AliasRepository,
  AliasRow,
  DomainRepository,
  DomainRow,
  GroupRepository,
  GroupRow,
  LocationRepository,
  LocationRow,
  PreferenceRepository,
  PreferenceRow,
  SchemaReport,
  Storage,
  Subscriber,
  SubscriberRepository,
} from './storage.js';
import { REQUIRED_TABLE_VERSIONS } from './storage.js';

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

export class MemoryStorage implements Storage {
  readonly kind = 'memory';
  readonly subscribers = new MemorySubscribers();
  readonly aliases = new MemoryAliases();
  readonly domains = new MemoryDomains();
  readonly groups = new MemoryGroups();
  readonly preferences = new MemoryPreferences();
  readonly location = new MemoryLocation();

  constructor(readonly description = 'memory') {}

  async initSchema(): Promise<SchemaReport> {
    // Nothing to create: the maps exist. Reported as existing so callers print the same summary.
    return { created: [], existing: Object.keys(REQUIRED_TABLE_VERSIONS), altered: [] };
  }

  async versions(): Promise<Map<string, number>> {
    return new Map(Object.entries(REQUIRED_TABLE_VERSIONS));
  }

  async close(): Promise<void> {}
}
