/**
 * LocationStore: the one owner of registrations (the usrloc module's in-memory table).
 * The registrar writes it, lookups read it, expired bindings are swept by a one-second timer.
 * A `LocationObserver` (MySQL write-through/write-back, a later issue) sees every change.
 *
 * Memory (issue 13: at most 1 KB per registered contact, measured by `npm run bench:memory`):
 * a stored binding is a compact copy of what the registrar hands in, never the caller's object.
 * - Strings are copied flat. Header values come out of the parser as slices of the whole
 *   received header section, and concatenations (the AOR, the contact URI) as rope nodes over
 *   such slices: kept as they are, every binding would keep its REGISTER's text alive.
 * - Values that repeat across bindings (our socket, User-Agent, Path) are shared through a
 *   bounded intern table; a refresh reuses the strings of the binding it replaces when equal.
 * - An AOR with one contact (nearly all) maps to its binding directly, not to a one-element array.
 * - Expiry is a min-heap of (expires, aor, ruid): the sweep pops what is due instead of walking
 *   every binding every second, and nothing holds a timer or a closure per binding.
 */
import type { Binding } from './binding.js';
import { ExpiryHeap } from './expiry-heap.js';

export interface LocationObserver {
  onUpsert(b: Binding): void;
  onDelete(b: Binding): void;
}

const SWEEP_INTERVAL_MS = 1_000;
/** Distinct shared values kept (sockets, User-Agents, Paths); beyond it values are copied, not shared. */
const INTERN_LIMIT = 4_096;
/** Heap entries allowed per stored binding before stale ones (refreshes, removals) are dropped. */
const HEAP_SLACK_FACTOR = 2;
const HEAP_SLACK_MIN = 1_024;

function byPreference(a: Binding, b: Binding): number {
  // Highest q first (RFC 3261 §16.6: targets by q), then the most recently refreshed.
  return b.q - a.q || b.lastModified - a.lastModified;
}

/**
 * A flat copy of `s` that shares no memory with the string it was cut from. A JSON round trip
 * is lossless for any text (Binding strings come from the parser as latin1-held octets, from the
 * database or the admin API as UTF-16) and allocates a fresh sequential string.
 */
function ownCopy(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

type Entry = Binding | Binding[];

export class LocationStore {
  /** AOR → its binding, or its bindings when it has several. */
  private readonly records = new Map<string, Entry>();
  private readonly expiries = new ExpiryHeap();
  private readonly interned = new Map<string, string>();
  private readonly popped = { aor: '', ruid: '' };
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
        const mine = this.find(b.aor, b.ruid);
        if (mine) this.remove(mine);
      }
    } finally {
      this.observer = obs;
      this.replicator = rep;
    }
  }

  /** Live bindings of an AOR, best first. */
  lookup(aor: string): Binding[] {
    const e = this.records.get(aor);
    if (e === undefined) return [];
    const now = this.now();
    if (!Array.isArray(e)) return e.expires > now ? [e] : [];
    const live = e.filter((b) => b.expires > now);
    return live.sort(byPreference);
  }

  /** Every binding of an AOR including expired-but-unswept ones (registrar matching). */
  bindingsOf(aor: string): readonly Binding[] {
    const e = this.records.get(aor);
    if (e === undefined) return [];
    return Array.isArray(e) ? e : [e];
  }

  /** Stores a copy of `b` (replacing the binding with its ruid); observers see the stored copy. */
  upsert(b: Binding): void {
    const e = this.records.get(b.aor);
    let stored: Binding;
    if (e === undefined) {
      stored = this.compact(b, undefined, undefined);
      this.records.set(stored.aor, stored);
      this.bindingCount++;
    } else if (!Array.isArray(e)) {
      if (e.ruid === b.ruid) {
        stored = this.compact(b, e.aor, e);
        this.records.set(e.aor, stored);
      } else {
        stored = this.compact(b, e.aor, undefined);
        this.records.set(e.aor, [e, stored]);
        this.bindingCount++;
      }
    } else {
      const i = e.findIndex((x) => x.ruid === b.ruid);
      stored = this.compact(b, e[0]!.aor, i >= 0 ? e[i] : undefined);
      if (i >= 0) e[i] = stored;
      else {
        e.push(stored);
        this.bindingCount++;
      }
    }
    this.expiries.push(stored.expires, stored.aor, stored.ruid);
    this.observer?.onUpsert(stored);
    this.replicator?.onUpsert(stored);
  }

  remove(b: Binding): boolean {
    const e = this.records.get(b.aor);
    if (e === undefined) return false;
    let removed: Binding;
    if (!Array.isArray(e)) {
      if (e.ruid !== b.ruid) return false;
      removed = e;
      this.records.delete(b.aor);
    } else {
      const i = e.findIndex((x) => x.ruid === b.ruid);
      if (i < 0) return false;
      removed = e[i]!;
      e.splice(i, 1);
      // Back to the one-binding form (an AOR with no binding never stays in the map).
      if (e.length === 1) this.records.set(b.aor, e[0]!);
    }
    this.bindingCount--;
    this.observer?.onDelete(removed);
    this.replicator?.onDelete(removed);
    return true;
  }

  removeAor(aor: string): number {
    const list = this.bindingsOf(aor);
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
      const due = this.popped;
      while (this.expiries.peekTime() <= now && this.expiries.pop(due)) {
        const b = this.find(due.aor, due.ruid);
        // Absent: removed since. Later expiry: refreshed since (its newer entry is still queued).
        if (b !== undefined && b.expires <= now && this.remove(b)) removed++;
      }
      due.aor = '';
      due.ruid = '';
      if (this.expiries.size > HEAP_SLACK_FACTOR * this.bindingCount + HEAP_SLACK_MIN) this.expiries.rebuild(this.all());
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
    for (const e of this.records.values()) {
      if (Array.isArray(e)) yield* e;
      else yield e;
    }
  }

  private find(aor: string, ruid: string): Binding | undefined {
    const e = this.records.get(aor);
    if (e === undefined) return undefined;
    if (!Array.isArray(e)) return e.ruid === ruid ? e : undefined;
    return e.find((x) => x.ruid === ruid);
  }

  /**
   * The stored form of `b`: every field copied into one object of a single shape, strings flat
   * and unshared with the request they came from. `aor`: the AOR string already stored (the map
   * key), if any; `prev`: the binding this one replaces, whose equal strings are reused.
   */
  private compact(b: Binding, aor: string | undefined, prev: Binding | undefined): Binding {
    return {
      ruid: prev !== undefined && prev.ruid === b.ruid ? prev.ruid : ownCopy(b.ruid),
      aor: aor ?? ownCopy(b.aor),
      contact: prev !== undefined && prev.contact === b.contact ? prev.contact : ownCopy(b.contact),
      received: b.received === null ? null : prev !== undefined && prev.received === b.received ? prev.received : ownCopy(b.received),
      path: b.path === null ? null : this.intern(b.path),
      expires: b.expires,
      q: b.q,
      callId: prev !== undefined && prev.callId === b.callId ? prev.callId : ownCopy(b.callId),
      cseq: b.cseq,
      lastModified: b.lastModified,
      flags: b.flags,
      cflags: b.cflags,
      userAgent: this.intern(b.userAgent),
      socket: b.socket === null ? null : this.intern(b.socket),
      methods: b.methods,
      instance: b.instance === null ? null : prev !== undefined && prev.instance === b.instance ? prev.instance : ownCopy(b.instance),
      regId: b.regId,
    };
  }

  /** One shared flat copy per distinct value, up to INTERN_LIMIT values; then a private copy. */
  private intern(s: string): string {
    const known = this.interned.get(s);
    if (known !== undefined) return known;
    const copy = ownCopy(s);
    // Bounded: a stream of distinct User-Agents must not grow this table without end. Values
    // no binding uses any more stay until then; at most INTERN_LIMIT short strings.
    if (this.interned.size < INTERN_LIMIT) this.interned.set(copy, copy);
    return copy;
  }
}
