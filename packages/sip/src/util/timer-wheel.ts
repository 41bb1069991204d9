/**
 * One hierarchical timing wheel shared by every transaction of a process (STYLE.md 13/14).
 *
 * Modelled on Kamailio's core timer (src/core/timer_funcs.h) and the classic Linux wheel:
 * four levels of 256 slots; level 0 holds timers due within 256 ticks, each higher level
 * covers 256 times the span of the one below and is cascaded down when level 0 wraps.
 * Insert, cancel and expiry are O(1); the only periodic work is one interval per wheel,
 * running only while timers are armed.
 *
 * Timers carry no closures: a `TimerEntry` names its `target` and a numeric `kind`, and
 * expiry calls `target.onTimer(kind)`. Owners embed one entry per timer they use (e.g. an
 * INVITE client transaction holds entries for timers A, B, D and M) and re-arm them.
 *
 * Time comes from an injectable `Clock`. With `manual: true` no interval runs and the
 * owner drives the wheel with `poll()` (tests advance a `ManualClock`, then poll).
 */

/** Receives timer expiries. `kind` is whatever the owner armed the entry with. */
export interface TimerTarget {
  onTimer(kind: number): void;
}

/** Millisecond clock. `Date.now` semantics; only differences matter. */
export interface Clock {
  now(): number;
}

/** The real clock: monotonic milliseconds from `performance.now()`. */
export const systemClock: Clock = {
  now(): number {
    return performance.now();
  },
};

/** A clock a test moves by hand; pair it with a `manual` wheel and call `poll()`. */
export class ManualClock implements Clock {
  time: number;
  constructor(start = 0) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
}

const SLOT_BITS = 8;
const SLOTS = 1 << SLOT_BITS; // 256
const LEVELS = 4;
// Span (in ticks) of one slot on each level: 1, 256, 65536, 16777216.
const LEVEL_SPAN = [1, SLOTS, SLOTS * SLOTS, SLOTS * SLOTS * SLOTS];
// Anything further away than the top level can express is clamped to its last slot; at the
// default 10 ms tick that is 2^32 ticks ≈ 497 days, far beyond any SIP timer.
const MAX_DELTA = SLOTS * LEVEL_SPAN[LEVELS - 1]! - 1;

/**
 * One timer, embedded in its owner. Links are intrusive (doubly linked, circular per slot);
 * an entry is in at most one slot at a time.
 */
export class TimerEntry {
  readonly target: TimerTarget;
  kind: number;
  /** Absolute tick at which it fires (valid while armed). */
  expireTick: number;
  /** The wall time it was armed for, for diagnostics. */
  dueAt: number;
  prev: TimerEntry | null;
  next: TimerEntry | null;

  constructor(target: TimerTarget, kind: number) {
    this.target = target;
    this.kind = kind;
    this.expireTick = 0;
    this.dueAt = 0;
    this.prev = null;
    this.next = null;
  }

  get armed(): boolean {
    return this.next !== null;
  }
}

/** Slot heads are sentinel entries whose target is never called. */
const sentinelTarget: TimerTarget = {
  onTimer(): void {
    /* never armed */
  },
};

function newSlot(): TimerEntry {
  const s = new TimerEntry(sentinelTarget, -1);
  s.prev = s;
  s.next = s;
  return s;
}

function unlink(e: TimerEntry): void {
  e.prev!.next = e.next;
  e.next!.prev = e.prev;
  e.prev = null;
  e.next = null;
}

function linkTail(head: TimerEntry, e: TimerEntry): void {
  const last = head.prev!;
  e.prev = last;
  e.next = head;
  last.next = e;
  head.prev = e;
}

export interface TimerWheelOptions {
  clock?: Clock;
  /** Resolution in ms; timers never fire early, at most one tick late. Default 10. */
  tickMs?: number;
  /** No interval: the owner calls `poll()` (tests with a `ManualClock`). */
  manual?: boolean;
}

export class TimerWheel {
  readonly tickMs: number;
  readonly clock: Clock;
  private readonly manual: boolean;
  private readonly origin: number;
  private readonly slots: TimerEntry[][];
  /** Last tick processed. */
  private current: number;
  private armedCount: number;
  private interval: NodeJS.Timeout | null;
  private polling: boolean;
  private closed: boolean;
  /** Bound once so the interval carries no per-timer closure. */
  private readonly intervalFn: () => void;
  /** Timers whose target threw; the error is reported here and the wheel keeps going. */
  onTargetError: ((err: unknown, entry: TimerEntry) => void) | null;

  constructor(opts: TimerWheelOptions = {}) {
    this.tickMs = opts.tickMs ?? 10;
    if (!(this.tickMs >= 1)) throw new RangeError('TimerWheel tickMs must be >= 1');
    this.clock = opts.clock ?? systemClock;
    this.manual = opts.manual ?? false;
    this.origin = this.clock.now();
    this.slots = [];
    for (let l = 0; l < LEVELS; l++) {
      const level: TimerEntry[] = [];
      for (let i = 0; i < SLOTS; i++) level.push(newSlot());
      this.slots.push(level);
    }
    this.current = 0;
    this.armedCount = 0;
    this.interval = null;
    this.polling = false;
    this.closed = false;
    this.intervalFn = this.poll.bind(this);
    this.onTargetError = null;
  }

  /** Number of armed timers. */
  get size(): number {
    return this.armedCount;
  }

  /** Current time of the wheel's clock. */
  now(): number {
    return this.clock.now();
  }

  /**
   * Arms `entry` to fire `delayMs` from now (re-arming it if already armed). A delay of 0
   * fires on the next tick, never synchronously.
   */
  schedule(entry: TimerEntry, delayMs: number): void {
    if (this.closed) return;
    if (entry.next !== null) {
      unlink(entry);
      this.armedCount--;
    }
    const now = this.clock.now();
    if (this.armedCount === 0 && !this.polling) {
      // Idle wheel: catch `current` up without walking the empty ticks.
      const t = Math.floor((now - this.origin) / this.tickMs);
      if (t > this.current) this.current = t;
    }
    const due = now + (delayMs > 0 ? delayMs : 0);
    entry.dueAt = due;
    // Round up: a timer never fires before its time.
    let tick = Math.ceil((due - this.origin) / this.tickMs);
    if (tick <= this.current) tick = this.current + 1;
    entry.expireTick = tick;
    this.place(entry);
    this.armedCount++;
    if (!this.manual && this.interval === null && !this.closed) {
      this.interval = setInterval(this.intervalFn, this.tickMs);
      this.interval.unref();
    }
  }

  /** Disarms `entry`; null (a timer its owner never armed) is a no-op. */
  cancel(entry: TimerEntry | null): void {
    if (entry === null || entry.next === null) return;
    unlink(entry);
    this.armedCount--;
  }

  /**
   * Processes every tick up to the clock's now, firing due timers in tick order (and in
   * arming order within a tick). Timers armed by a callback for a tick not yet processed
   * fire within the same poll.
   */
  poll(): void {
    if (this.polling) return; // re-entered from a callback: the outer loop continues
    this.polling = true;
    try {
      const target = Math.floor((this.clock.now() - this.origin) / this.tickMs);
      if (this.armedCount === 0) {
        if (target > this.current) this.current = target;
      } else {
        while (this.current < target) {
          this.current++;
          this.cascadeAt(this.current);
          this.runSlot(this.slots[0]![this.current & (SLOTS - 1)]!);
          if (this.armedCount === 0) {
            this.current = target;
            break;
          }
        }
      }
    } finally {
      this.polling = false;
    }
    if (this.armedCount === 0 && this.interval !== null) {
      clearInterval(this.interval);
      this.interval = null;
    }
  }

  /** Stops the interval and disarms every timer (without firing them). */
  close(): void {
    this.closed = true;
    if (this.interval !== null) {
      clearInterval(this.interval);
      this.interval = null;
    }
    for (const level of this.slots) {
      for (const head of level) {
        while (head.next !== head) unlink(head.next!);
      }
    }
    this.armedCount = 0;
  }

  private place(e: TimerEntry): void {
    let delta = e.expireTick - this.current;
    if (delta > MAX_DELTA) {
      delta = MAX_DELTA;
      e.expireTick = this.current + MAX_DELTA;
    }
    let level = 0;
    while (level < LEVELS - 1 && delta >= LEVEL_SPAN[level + 1]!) level++;
    const idx = Math.floor(e.expireTick / LEVEL_SPAN[level]!) & (SLOTS - 1);
    linkTail(this.slots[level]![idx]!, e);
  }

  /**
   * When level 0 wraps, the next slot of level 1 is redistributed (and so on upwards:
   * higher levels are cascaded first so their entries land in the freshly emptied lower slot).
   */
  private cascadeAt(tick: number): void {
    if ((tick & (SLOTS - 1)) !== 0) return;
    let level = 1;
    while (level < LEVELS && Math.floor(tick / LEVEL_SPAN[level]!) % SLOTS === 0) level++;
    // Levels 1..min(level, LEVELS-1) all need cascading, highest first.
    for (let l = Math.min(level, LEVELS - 1); l >= 1; l--) {
      const idx = Math.floor(tick / LEVEL_SPAN[l]!) % SLOTS;
      const head = this.slots[l]![idx]!;
      while (head.next !== head) {
        const e = head.next!;
        unlink(e);
        this.place(e);
      }
    }
  }

  private runSlot(head: TimerEntry): void {
    while (head.next !== head) {
      const e = head.next!;
      unlink(e);
      this.armedCount--;
      try {
        e.target.onTimer(e.kind);
      } catch (err) {
        if (this.onTargetError !== null) this.onTargetError(err, e);
      }
    }
  }
}
