/**
 * Which mailboxes exist: one per subscriber, read from the same source sip-proxy uses
 * (`--db`): Kamailio's `subscriber` table over mysql2 (`SELECT username, domain FROM
 * subscriber`, one small query per refresh) or the `subscribers:` section of a provisioning
 * file. Read-only and self-contained on purpose: services do not import each other, so this
 * is the one place to move into a shared storage package later.
 */
import { readFile } from 'node:fs/promises';
import { createConnection } from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { parse as parseYaml } from 'yaml';
import { VoicemailError } from '../errors.js';

export interface Subscriber {
  username: string;
  domain: string;
}

export interface SubscriberSource {
  readonly description: string;
  load(): Promise<Subscriber[]>;
}

const NAME = /^[^@\s:/\\]{1,64}$/;
const DOMAIN = /^[A-Za-z0-9.-]{1,64}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

function valid(username: unknown, domain: unknown): username is string {
  return typeof username === 'string' && typeof domain === 'string' && NAME.test(username) && DOMAIN.test(domain) && username !== '.' && username !== '..';
}

/** `subscribers:` of a sip-proxy provisioning file (YAML or JSON). */
export class FileSubscriberSource implements SubscriberSource {
  readonly description: string;
  private readonly path: string;

  constructor(path: string) {
    this.path = path;
    this.description = `file:${path}`;
  }

  async load(): Promise<Subscriber[]> {
    let doc: unknown;
    try {
      doc = parseYaml(await readFile(this.path, 'utf8'));
    } catch (e) {
      throw new VoicemailError('VM_ERR_SUBSCRIBERS', `${this.path}: ${(e as Error).message}`);
    }
    const list = doc !== null && typeof doc === 'object' ? (doc as { subscribers?: unknown }).subscribers : undefined;
    if (list === undefined) return [];
    if (!Array.isArray(list)) throw new VoicemailError('VM_ERR_SUBSCRIBERS', `${this.path}: subscribers must be a list`);
    const out: Subscriber[] = [];
    for (const s of list as { username?: unknown; domain?: unknown }[]) {
      if (s !== null && typeof s === 'object' && valid(s.username, s.domain)) out.push({ username: s.username, domain: (s.domain as string).toLowerCase() });
    }
    return out;
  }
}

/** Kamailio's subscriber table (`username`, `domain` columns). */
export class MysqlSubscriberSource implements SubscriberSource {
  readonly description: string;
  private readonly url: string;

  constructor(url: string) {
    this.url = url;
    const u = new URL(url);
    this.description = `mysql://${u.host}${u.pathname}`;
  }

  async load(): Promise<Subscriber[]> {
    let conn;
    try {
      const u = new URL(this.url);
      conn = await createConnection({
        host: u.hostname,
        port: u.port === '' ? 3306 : Number(u.port),
        user: decodeURIComponent(u.username),
        password: decodeURIComponent(u.password),
        database: decodeURIComponent(u.pathname.replace(/^\//, '')),
        connectTimeout: 5000,
      });
      const [rows] = await conn.query<RowDataPacket[]>('SELECT username, domain FROM subscriber');
      const out: Subscriber[] = [];
      for (const r of rows) if (valid(r.username, r.domain)) out.push({ username: r.username as string, domain: (r.domain as string).toLowerCase() });
      return out;
    } catch (e) {
      throw new VoicemailError('VM_ERR_SUBSCRIBERS', `${this.description}: ${(e as Error).message}`);
    } finally {
      await conn?.end().catch(() => {});
    }
  }
}

export function subscriberSource(db: string): SubscriberSource {
  if (db.startsWith('file:')) {
    const path = db.startsWith('file://') ? db.slice(7) : db.slice(5);
    return new FileSubscriberSource(decodeURIComponent(path));
  }
  return new MysqlSubscriberSource(db);
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
