/**
 * Which mailboxes exist: one per subscriber, read through `@voip/storage` from the same source
 * sip-proxy uses (`--db`): Kamailio's `subscriber` table, or the `subscribers:` section of a
 * provisioning file. The SQL is the storage package's, shared with the proxy, sipctl and the
 * portal.
 */
import { openStorage, type Storage } from '@voip/storage';
import { VoicemailError } from '../errors.js';

export interface Subscriber {
  username: string;
  domain: string;
}

export interface SubscriberSource {
  readonly description: string;
  load(): Promise<Subscriber[]>;
  close(): Promise<void>;
}

// Mailbox names become spool directory names: nothing that could escape the spool.
const NAME = /^[^@\s:/\\]{1,64}$/;
const DOMAIN = /^[A-Za-z0-9.-]{1,64}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

function valid(username: unknown, domain: unknown): username is string {
  return typeof username === 'string' && typeof domain === 'string' && NAME.test(username) && DOMAIN.test(domain) && username !== '.' && username !== '..';
}

/**
 * Subscribers from a `--db` URL. MySQL keeps one pool open between refreshes; a provisioning
 * file is read anew on every refresh, so an edited file is picked up without a restart.
 */
export class StorageSubscriberSource implements SubscriberSource {
  readonly description: string;
  private readonly url: string;
  private readonly rereadEachTime: boolean;
  private storage: Storage | null;

  constructor(url: string) {
    this.url = url;
    this.rereadEachTime = url.startsWith('file:');
    this.storage = null;
    this.description = this.rereadEachTime ? url : describeMysqlUrl(url);
  }

  async load(): Promise<Subscriber[]> {
    try {
      const storage = this.storage ?? (await openStorage(this.url));
      try {
        const out: Subscriber[] = [];
        for (const s of await storage.subscribers.list()) {
          if (valid(s.username, s.domain)) out.push({ username: s.username, domain: s.domain.toLowerCase() });
        }
        return out;
      } finally {
        if (this.rereadEachTime) await storage.close();
        else this.storage = storage;
      }
    } catch (e) {
      throw new VoicemailError('VM_ERR_SUBSCRIBERS', `${this.description}: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    const s = this.storage;
    this.storage = null;
    await s?.close();
  }
}

/** The URL without its password, for logs and /health. */
function describeMysqlUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return 'mysql (unparsable URL)';
  }
}

export function subscriberSource(db: string): SubscriberSource {
  return new StorageSubscriberSource(db);
}

/**
 * The current subscriber set, refreshed periodically. A failed refresh keeps the last good
 * list (a database blip must not make every mailbox vanish).
 */
export class SubscriberDirectory {
  private byUser: Map<string, string[]>;
  private readonly source: SubscriberSource;
  lastError: string | null;
  loadedAt: number;

  constructor(source: SubscriberSource) {
    this.source = source;
    this.byUser = new Map();
    this.lastError = null;
    this.loadedAt = 0;
  }

  get description(): string {
    return this.source.description;
  }

  close(): Promise<void> {
    return this.source.close();
  }

  get size(): number {
    let n = 0;
    for (const d of this.byUser.values()) n += d.length;
    return n;
  }

  async refresh(): Promise<void> {
    try {
      const list = await this.source.load();
      const m = new Map<string, string[]>();
      for (const s of list) {
        const doms = m.get(s.username);
        if (doms === undefined) m.set(s.username, [s.domain]);
        else if (!doms.includes(s.domain)) doms.push(s.domain);
      }
      this.byUser = m;
      this.lastError = null;
      this.loadedAt = Date.now();
    } catch (e) {
      this.lastError = (e as Error).message;
      throw e;
    }
  }

  has(username: string, domain: string): boolean {
    return this.byUser.get(username)?.includes(domain.toLowerCase()) ?? false;
  }

  /**
   * The mailbox a SIP request names by user part only (`b<user>@bridge`): the one
   * subscriber with that username, or among several the one in `domainHint` (the To
   * or From domain the proxy kept); null when none or ambiguous.
   */
  resolve(username: string, domainHints: readonly (string | null)[]): Subscriber | null {
    const doms = this.byUser.get(username);
    if (doms === undefined || doms.length === 0) return null;
    for (const h of domainHints) {
      if (h !== null && doms.includes(h.toLowerCase())) return { username, domain: h.toLowerCase() };
    }
    return doms.length === 1 ? { username, domain: doms[0]! } : null;
  }

  all(): Subscriber[] {
    const out: Subscriber[] = [];
    for (const [username, doms] of this.byUser) for (const domain of doms) out.push({ username, domain });
    return out;
  }
}
