/**
 * LocationStore: the one owner of registrations (the usrloc module's in-memory table).
 * The registrar writes it, lookups read it, expired bindings are swept by a one-second timer.
 * A `LocationObserver` (MySQL write-through/write-back, a later issue) sees every change.
 */
import type { Binding } from './binding.js';

export interface LocationObserver {
  onUpsert(b: Binding): void;
  onDelete(b: Binding): void;
}

const SWEEP_INTERVAL_MS = 1_000;

function byPreference(a: Binding, b: Binding): number {
  // Highest q first (RFC 3261 §16.6: targets by q), then the most recently refreshed.
  return b.q - a.q || b.lastModified - a.lastModified;
}

export class LocationStore {
  private readonly records = new Map<string, Binding[]>();
  private sweeper: NodeJS.Timeout | null = null;
  private observer: LocationObserver | null = null;
  /** Worker threads: sees local registrar changes to copy them to the other workers. */
  private replicator: LocationObserver | null = null;
  private bindingCount = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts the expiry sweep (not in unit tests that drive `sweep()` themselves). */
  start(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = null;
  }

  setObserver(o: LocationObserver | null): void {
    this.observer = o;
  }

  setReplicator(o: LocationObserver | null): void {
    this.replicator = o;
  }

  /**
   * A change made by another worker's registrar: applied here without telling the observer
   * (that worker's persistence wrote it) or the replicator (no echo).
   */
  applyReplicated(op: 'upsert' | 'delete', b: Binding): void {
    const obs = this.observer;
    const rep = this.replicator;
    this.observer = null;
    this.replicator = null;
    try {
      if (op === 'upsert') this.upsert(b);
      else {
        const mine = this.records.get(b.aor)?.find((x) => x.ruid === b.ruid);
        if (mine) this.remove(mine);
      }
    } finally {
      this.observer = obs;
      this.replicator = rep;
    }
  }

  /** Live bindings of an AOR, best first. */
  lookup(aor: string): Binding[] {
    const list = this.records.get(aor);
    if (!list) return [];
    const now = this.now();
    const live = list.filter((b) => b.expires > now);
    return live.sort(byPreference);
  }

  /** Every binding of an AOR including expired-but-unswept ones (registrar matching). */
  bindingsOf(aor: string): readonly Binding[] {
    return this.records.get(aor) ?? [];
  }

  upsert(b: Binding): void {
    let list = this.records.get(b.aor);
    if (!list) this.records.set(b.aor, (list = []));
    const i = list.findIndex((x) => x.ruid === b.ruid);
    if (i >= 0) list[i] = b;
    else {
      list.push(b);
      this.bindingCount++;
    }
    this.observer?.onUpsert(b);
    this.replicator?.onUpsert(b);
  }

  remove(b: Binding): boolean {
    const list = this.records.get(b.aor);
    if (!list) return false;
    const i = list.findIndex((x) => x.ruid === b.ruid);
    if (i < 0) return false;
    list.splice(i, 1);
    this.bindingCount--;
    if (list.length === 0) this.records.delete(b.aor);
    this.observer?.onDelete(b);
    this.replicator?.onDelete(b);
    return true;
  }

  removeAor(aor: string): number {
    const list = this.records.get(aor);
    if (!list) return 0;
    const n = list.length;
    for (const b of [...list]) this.remove(b);
    return n;
  }

  /** Loads bindings without notifying the observer (start-up from the database). */
  load(bindings: Iterable<Binding>): void {
    const obs = this.observer;
    const rep = this.replicator;
    this.observer = null;
    this.replicator = null;
    try {
      for (const b of bindings) this.upsert(b);
    } finally {
      this.observer = obs;
      this.replicator = rep;
    }
  }

  /** Removes expired bindings (RFC 3261 §10.3: bindings expire). */
  sweep(): number {
    const now = this.now();
    let removed = 0;
    // Every worker sweeps its own copy: expiries are not replicated.
    const rep = this.replicator;
    this.replicator = null;
    try {
      for (const list of [...this.records.values()]) {
        for (const b of [...list]) {
          if (b.expires <= now) {
            this.remove(b);
            removed++;
          }
        }
      }
    } finally {
      this.replicator = rep;
    }
    return removed;
  }

  get aorCount(): number {
    return this.records.size;
  }

  get size(): number {
    return this.bindingCount;
  }

  *all(): IterableIterator<Binding> {
    for (const list of this.records.values()) yield* list;
  }
}
