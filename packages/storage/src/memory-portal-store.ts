/**
 * PortalStore in memory, over a MemoryStorage (the provisioning file or unit tests). The portal
 * serves a provisioning file read-only; this store still implements the writes so unit tests
 * exercise the same contract as MySQL. CDRs live in `cdrRows` (tests fill it; a provisioning
 * file has no accounting).
 */
import type { MemoryStorage } from './memory-storage.js';
import { StorageError } from './storage-error.js';
import type { Subscriber } from './storage.js';
import {
  lockedCredentials,
  type CdrPage,
  type CdrQuery,
  type CdrRow,
  type PortalAccountRow,
  type PortalStore,
  type SignupRow,
  type SubscriberPage,
  type SubscriberPageQuery,
} from './portal-store.js';

function key(username: string, domain: string): string {
  return `${username}\u0000${domain.toLowerCase()}`;
}

interface Saved {
  password: string;
  ha1: string;
  ha1b: string;
  reason: 'admin' | 'signup';
}

export class MemoryPortalStore implements PortalStore {
  readonly cdrRows: CdrRow[] = [];
  private readonly disabled = new Map<string, Saved>();
  private readonly accounts = new Map<string, PortalAccountRow>();
  private readonly signups = new Map<string, SignupRow>();

  constructor(private readonly storage: MemoryStorage) {}

  async subscriberPage(q: SubscriberPageQuery): Promise<SubscriberPage> {
    const needle = (q.search ?? '').toLowerCase();
    const all = (await this.storage.subscribers.list(q.domain === '' ? undefined : q.domain)).filter(
      (s) => needle === '' || s.username.toLowerCase().includes(needle) || s.domain.toLowerCase().includes(needle) || (s.emailAddress ?? '').toLowerCase().includes(needle),
    );
    const offset = Math.max(0, Math.trunc(q.offset));
    const limit = Math.max(1, Math.min(500, Math.trunc(q.limit)));
    return {
      total: all.length,
      rows: all.slice(offset, offset + limit).map((s) => ({ username: s.username, domain: s.domain, emailAddress: s.emailAddress, disabled: this.disabled.has(key(s.username, s.domain)) })),
    };
  }

  async isDisabled(username: string, domain: string): Promise<boolean> {
    return this.disabled.has(key(username, domain));
  }

  async disable(username: string, domain: string, reason: 'admin' | 'signup'): Promise<boolean> {
    const s = await this.storage.subscribers.get(username, domain);
    if (s === null || this.disabled.has(key(username, domain))) return false;
    this.disabled.set(key(username, domain), { password: s.password, ha1: s.ha1, ha1b: s.ha1b, reason });
    const l = lockedCredentials();
    await this.storage.subscribers.setCredentials(username, domain, l.password, l.ha1, l.ha1b);
    return true;
  }

  async addDisabled(s: Subscriber, reason: 'admin' | 'signup'): Promise<void> {
    await this.storage.subscribers.add({ ...s, ...lockedCredentials() });
    this.disabled.set(key(s.username, s.domain), { password: s.password, ha1: s.ha1, ha1b: s.ha1b, reason });
  }

  async enable(username: string, domain: string): Promise<boolean> {
    const saved = this.disabled.get(key(username, domain));
    if (saved === undefined) return false;
    this.disabled.delete(key(username, domain));
    return this.storage.subscribers.setCredentials(username, domain, saved.password, saved.ha1, saved.ha1b);
  }

  async setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean> {
    const saved = this.disabled.get(key(username, domain));
    if (saved !== undefined) {
      Object.assign(saved, { password, ha1, ha1b });
      return true;
    }
    return this.storage.subscribers.setCredentials(username, domain, password, ha1, ha1b);
  }

  async setEmail(username: string, domain: string, email: string): Promise<boolean> {
    const s = await this.storage.subscribers.get(username, domain);
    if (s === null) return false;
    await this.storage.subscribers.remove(username, domain);
    await this.storage.subscribers.add({ ...s, emailAddress: email });
    return true;
  }

  async savedCredentials(username: string, domain: string): Promise<{ password: string; ha1: string; ha1b: string } | null> {
    const s = this.disabled.get(key(username, domain));
    return s === undefined ? null : { password: s.password, ha1: s.ha1, ha1b: s.ha1b };
  }

  async cdrs(q: CdrQuery): Promise<CdrPage> {
    const limit = Math.max(1, Math.min(1000, Math.trunc(q.limit)));
    const matches = this.cdrRows
      .filter((r) => r.kind === q.kind)
      .filter((r) => q.before === undefined || r.id < q.before)
      .filter((r) => q.from === undefined || r.time >= q.from)
      .filter((r) => q.to === undefined || r.time < q.to)
      .filter((r) => q.user === undefined || q.user === '' || r.srcUser === q.user || r.dstUser === q.user || r.dstOuser === q.user)
      .filter((r) => q.number === undefined || q.number === '' || r.dstOuser.startsWith(q.number) || r.dstUser.startsWith(q.number))
      .filter((r) => {
        if (q.account === undefined) return true;
        const { username: u, domain: d } = q.account;
        const dl = d.toLowerCase();
        return (r.srcUser === u && r.srcDomain.toLowerCase() === dl) || ((r.dstUser === u || r.dstOuser === u) && r.dstDomain.toLowerCase() === dl);
      })
      .sort((a, b) => b.id - a.id);
    const page = matches.slice(0, limit);
    return { rows: page.map((r) => ({ ...r })), nextBefore: matches.length > limit ? page[page.length - 1]!.id : null };
  }

  async getAccount(name: string): Promise<PortalAccountRow | null> {
    const a = this.accounts.get(name);
    return a === undefined ? null : { ...a };
  }

  async addAccount(row: PortalAccountRow): Promise<void> {
    if (this.accounts.has(row.name)) throw new StorageError('STORAGE_ERR_DUPLICATE', `portal account ${row.name} already exists`);
    this.accounts.set(row.name, { ...row });
  }

  async setAccountHash(name: string, passwordHash: string): Promise<boolean> {
    const a = this.accounts.get(name);
    if (a === undefined) return false;
    a.passwordHash = passwordHash;
    return true;
  }

  async listAccounts(): Promise<PortalAccountRow[]> {
    return [...this.accounts.values()].sort((a, b) => a.name.localeCompare(b.name)).map((a) => ({ ...a }));
  }

  async addSignup(row: SignupRow): Promise<void> {
    for (const s of this.signups.values()) {
      if (s.username === row.username && s.domain.toLowerCase() === row.domain.toLowerCase()) {
        throw new StorageError('STORAGE_ERR_DUPLICATE', `a sign-up of ${row.username}@${row.domain} is pending`);
      }
    }
    this.signups.set(row.tokenHash, { ...row });
  }

  async takeSignup(tokenHash: string, now: number): Promise<SignupRow | null> {
    const s = this.signups.get(tokenHash);
    if (s === undefined || s.expires <= now) return null;
    this.signups.delete(tokenHash);
    return { ...s };
  }

  async purgeSignups(now: number): Promise<number> {
    let n = 0;
    for (const [k, s] of this.signups) {
      if (s.expires > now) continue;
      this.signups.delete(k);
      n++;
      const saved = this.disabled.get(key(s.username, s.domain));
      if (saved?.reason === 'signup') {
        this.disabled.delete(key(s.username, s.domain));
        await this.storage.subscribers.remove(s.username, s.domain);
      }
    }
    return n;
  }
}
