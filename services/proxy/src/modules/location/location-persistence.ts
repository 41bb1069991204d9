/**
 * Persistence of the LocationStore in the `location` table, the modes of Kamailio's usrloc
 * db_mode:
 *
 *   memory         (0) no database: registrations are lost on restart.
 *   write-through  (1) every change is written at once (coalesced per binding: while one write of
 *                      a ruid is in flight, only the newest state waits behind it).
 *   write-back     (2) changes are collected and written in batches every `flushIntervalMs`
 *                      and at shutdown.
 *   db-only        (3) the table is the truth, shared by several proxies: writes as write-through,
 *                      and before each save/lookup the AOR is re-read from the table (`syncAor`).
 *
 * At start the live rows are loaded into memory, so a restarted proxy keeps its registrations.
 * Expired bindings leave memory through the store's sweep (onDelete deletes the row) and the
 * table through a periodic DELETE of expired rows (those of crashed or other proxies too).
 * A failed write is kept and retried with back-off; nothing is dropped while the database is down.
 */
import type { LocationRepository, LocationRow } from '@voip/storage';
import type { StorageLogger } from '@voip/storage';
import type { Binding } from './binding.js';
import type { LocationObserver, LocationStore } from './location-store.js';

export const LOCATION_DB_MODES = ['memory', 'write-through', 'write-back', 'db-only'] as const;
export type LocationDbMode = (typeof LOCATION_DB_MODES)[number];

/** Binding.expires of a permanent row (usrloc expires 0): the largest Date. */
export const PERMANENT_EXPIRES = 8_640_000_000_000_000;

export interface LocationPersistenceOptions {
  mode: Exclude<LocationDbMode, 'memory'>;
  repo: LocationRepository;
  store: LocationStore;
  logger: StorageLogger;
  /** write-back: how often dirty bindings are written. */
  flushIntervalMs?: number;
  /** How often expired rows are deleted from the table. */
  cleanupIntervalMs?: number;
  /** Kamailio's server_id column: which proxy wrote the row. */
  serverId?: number;
  now?: () => number;
}

type Op = { kind: 'upsert'; binding: Binding } | { kind: 'delete'; binding: Binding };

const MAX_RETRY_DELAY_MS = 30_000;

/** user@domain → (username, domain); an AOR without user part keeps its host as username. */
export function splitAor(aor: string): { username: string; domain: string | null } {
  const at = aor.lastIndexOf('@');
  return at < 0 ? { username: aor, domain: null } : { username: aor.slice(0, at), domain: aor.slice(at + 1) };
}

export function bindingToRow(b: Binding, serverId: number): LocationRow {
  const { username, domain } = splitAor(b.aor);
  return {
    ruid: b.ruid,
    username,
    domain,
    contact: b.contact,
    received: b.received,
    path: b.path,
    expires: b.expires >= PERMANENT_EXPIRES ? 0 : b.expires,
    q: b.q,
    callid: b.callId,
    cseq: b.cseq,
    lastModified: b.lastModified,
    flags: b.flags,
    cflags: b.cflags,
    userAgent: b.userAgent,
    socket: b.socket,
    methods: b.methods,
    instance: b.instance,
    regId: b.regId,
    serverId,
    connectionId: 0,
    keepalive: 0,
    partition: 0,
  };
}

export function rowToBinding(r: LocationRow): Binding {
  return {
    ruid: r.ruid,
    aor: r.domain === null || r.domain === '' ? r.username : `${r.username}@${r.domain.toLowerCase()}`,
    contact: r.contact,
    received: r.received,
    path: r.path,
    expires: r.expires === 0 ? PERMANENT_EXPIRES : r.expires,
    q: r.q,
    callId: r.callid,
    cseq: r.cseq,
    lastModified: r.lastModified,
    flags: r.flags,
    cflags: r.cflags,
    userAgent: r.userAgent,
    socket: r.socket,
    methods: r.methods,
    instance: r.instance,
    regId: r.regId,
  };
}

export class LocationPersistence implements LocationObserver {
  readonly mode: LocationPersistenceOptions['mode'];
  private readonly repo: LocationRepository;
  private readonly store: LocationStore;
  private readonly log: StorageLogger;
  private readonly flushIntervalMs: number;
  private readonly cleanupIntervalMs: number;
  private readonly serverId: number;
  private readonly now: () => number;
  /** write-through: ruids with a write in flight, and the newest op waiting behind each. */
  private readonly inflight = new Map<string, Op>();
  private readonly waiting = new Map<string, Op>();
  /** write-back: newest op per ruid since the last flush. Both modes: failed ops to retry. */
  private readonly dirty = new Map<string, Op>();
  private flushTimer: NodeJS.Timeout | null = null;
  private cleanupTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private retryDelay = 0;
  private nextRetryAt = 0;
  private readonly idleWaiters: (() => void)[] = [];
  /** Counters for the admin API / tests. */
  readonly stats = { writes: 0, failedWrites: 0, loaded: 0, expiredDeleted: 0 };

  constructor(o: LocationPersistenceOptions) {
    this.mode = o.mode;
    this.repo = o.repo;
    this.store = o.store;
    this.log = o.logger;
    this.flushIntervalMs = o.flushIntervalMs ?? 10_000;
    this.cleanupIntervalMs = o.cleanupIntervalMs ?? 60_000;
    this.serverId = o.serverId ?? 0;
    this.now = o.now ?? Date.now;
  }

  /** Loads the live rows into the store, then observes it and starts the timers. */
  async start(): Promise<number> {
    const rows = await this.repo.live(this.now());
    this.store.load(rows.map(rowToBinding));
    this.stats.loaded = rows.length;
    this.store.setObserver(this);
    // One timer drives write-back flushes and retries of failed writes in every mode.
    const tick = this.mode === 'write-back' ? this.flushIntervalMs : Math.min(this.flushIntervalMs, 1_000);
    this.flushTimer = setInterval(() => void this.flush(), tick);
    this.flushTimer.unref();
    this.cleanupTimer = setInterval(() => void this.cleanup(), this.cleanupIntervalMs);
    this.cleanupTimer.unref();
    this.log.info({ mode: this.mode, loaded: rows.length }, 'location bindings loaded from the database');
    return rows.length;
  }

  onUpsert(b: Binding): void {
    this.enqueue({ kind: 'upsert', binding: b });
  }

  onDelete(b: Binding): void {
    this.enqueue({ kind: 'delete', binding: b });
  }

  private enqueue(op: Op): void {
    const ruid = op.binding.ruid;
    if (this.mode === 'write-back') {
      this.dirty.set(ruid, op);
      return;
    }
    if (this.inflight.has(ruid)) {
      this.waiting.set(ruid, op);
      return;
    }
    // A newer state supersedes a failed one waiting for retry.
    this.dirty.delete(ruid);
    this.write(op);
  }

  private write(op: Op): void {
    const ruid = op.binding.ruid;
    this.inflight.set(ruid, op);
    const p = op.kind === 'upsert' ? this.repo.upsert(bindingToRow(op.binding, this.serverId)) : this.repo.remove(ruid);
    p.then(
      () => this.written(ruid, null),
      (err: unknown) => this.written(ruid, { op, err }),
    );
  }

  private written(ruid: string, failure: { op: Op; err: unknown } | null): void {
    this.inflight.delete(ruid);
    if (failure === null) this.stats.writes++;
    else this.failed([failure.op], failure.err);
    const next = this.waiting.get(ruid);
    if (next) {
      this.waiting.delete(ruid);
      this.dirty.delete(ruid);
      this.write(next);
    } else if (this.inflight.size === 0) {
      this.notifyIdle();
    }
  }

  private failed(ops: Op[], err: unknown): void {
    this.stats.failedWrites += ops.length;
    for (const op of ops) {
      // Keep it for the retry unless something newer is already queued for that binding.
      if (!this.waiting.has(op.binding.ruid) && !this.dirty.has(op.binding.ruid)) this.dirty.set(op.binding.ruid, op);
    }
    this.retryDelay = this.retryDelay === 0 ? 500 : Math.min(MAX_RETRY_DELAY_MS, this.retryDelay * 2);
    this.nextRetryAt = this.now() + this.retryDelay;
    this.log.error({ err: (err as Error).message, bindings: ops.length, retryInMs: this.retryDelay }, 'location write failed; will retry');
  }

  /** Writes every pending op (write-back batch, or retries) in two statements. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.dirty.size === 0) return Promise.resolve();
    if (this.retryDelay > 0 && this.now() < this.nextRetryAt) return Promise.resolve();
    this.flushing = this.flushBatch().finally(() => {
      this.flushing = null;
      if (this.inflight.size === 0) this.notifyIdle();
    });
    return this.flushing;
  }

  private async flushBatch(): Promise<void> {
    const ops = [...this.dirty.values()];
    this.dirty.clear();
    const upserts = ops.filter((o) => o.kind === 'upsert');
    const deletes = ops.filter((o) => o.kind === 'delete');
    try {
      if (upserts.length > 0) await this.repo.upsertMany(upserts.map((o) => bindingToRow(o.binding, this.serverId)));
      if (deletes.length > 0) await this.repo.removeMany(deletes.map((o) => o.binding.ruid));
      this.stats.writes += ops.length;
      this.retryDelay = 0;
    } catch (err) {
      this.failed(ops, err);
    }
  }

  /** Deletes rows that expired (Kamailio's timer does the same in db_mode 1–3). */
  async cleanup(): Promise<number> {
    try {
      const n = await this.repo.removeExpired(this.now());
      this.stats.expiredDeleted += n;
      return n;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'deleting expired location rows failed');
      return 0;
    }
  }

  /**
   * db-only: replaces the AOR's bindings in memory with the table's, so save and lookup see what
   * other proxies wrote. Other modes: nothing to do (memory is the truth).
   */
  async syncAor(aor: string): Promise<void> {
    if (this.mode !== 'db-only') return;
    const { username, domain } = splitAor(aor);
    const rows = await this.repo.byAor(username, domain);
    const now = this.now();
    const fresh = rows.filter((r) => r.expires === 0 || r.expires > now).map(rowToBinding);
    // Our own writes not yet in the table are newer than what it returned.
    const own = this.store.bindingsOf(aor).filter((b) => this.latestOp(b.ruid) !== undefined);
    const keep = fresh.filter((b) => this.latestOp(b.ruid) === undefined);
    this.store.setObserver(null);
    try {
      this.store.removeAor(aor);
      this.store.load(keep);
      this.store.load(own);
    } finally {
      this.store.setObserver(this);
    }
  }

  private latestOp(ruid: string): Op | undefined {
    return this.waiting.get(ruid) ?? this.dirty.get(ruid) ?? this.inflight.get(ruid);
  }

  /** Pending writes (in flight, waiting, or to be flushed/retried). */
  get pending(): number {
    return this.inflight.size + this.waiting.size + this.dirty.size;
  }

  private notifyIdle(): void {
    const w = this.idleWaiters.splice(0);
    for (const f of w) f();
  }

  /** Resolves when no write is in flight (tests, shutdown). */
  idle(): Promise<void> {
    if (this.inflight.size === 0 && this.flushing === null) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /** Stops the timers and writes what is pending (one attempt). */
  async close(): Promise<void> {
    if (this.flushTimer) clearInterval(this.flushTimer);
    if (this.cleanupTimer) clearInterval(this.cleanupTimer);
    this.flushTimer = null;
    this.cleanupTimer = null;
    this.store.setObserver(null);
    await this.idle();
    this.retryDelay = 0;
    await this.flush();
    if (this.dirty.size > 0) this.log.error({ bindings: this.dirty.size }, 'location bindings could not be written before shutdown');
  }
}
