/**
 * Password-guessing protection: failed digest responses are counted per account (user@realm)
 * and per source address over a sliding window; past the limit that account or address is
 * blocked for a back-off period during which every attempt is refused, the right password
 * included (what a Kamailio config builds from htable + autoexpire around auth_check).
 *
 * The window slides by weighting the previous fixed window (the usual two-bucket
 * approximation): O(1) per key, no per-request timestamps kept. Memory is bounded: at most
 * `maxTracked` keys per table, least recently seen evicted first, and `sweep()` (run by the
 * owner's timer) forgets every key whose window and block are over, so after a guessing run
 * the tables shrink back to nothing.
 */

export interface AuthFailureLimiterOptions {
  windowSeconds: number;
  /** 0 = no per-account blocking. */
  maxFailuresPerUser: number;
  /** 0 = no per-address blocking. */
  maxFailuresPerIp: number;
  blockSeconds: number;
  maxTracked: number;
  now?: () => number;
}

interface Counter {
  /** Start of the current fixed window (ms). */
  windowStart: number;
  current: number;
  previous: number;
  /** 0 when not blocked. */
  blockedUntil: number;
  lastSeen: number;
}

export type BlockedBy = 'ip' | 'user';

/** One new block, for the single log line it deserves. */
export interface NewBlock {
  by: BlockedBy;
  key: string;
  until: number;
  failures: number;
}

export class AuthFailureLimiter {
  private readonly users = new Map<string, Counter>();
  private readonly ips = new Map<string, Counter>();
  private readonly windowMs: number;
  private readonly blockMs: number;
  private readonly now: () => number;
  /** Counters for metrics. */
  failures = 0;
  blocks = 0;
  refused = 0;

  constructor(private readonly o: AuthFailureLimiterOptions) {
    this.windowMs = o.windowSeconds * 1000;
    this.blockMs = o.blockSeconds * 1000;
    this.now = o.now ?? Date.now;
  }

  /** Whether the address is blocked now. */
  ipBlocked(ip: string): boolean {
    return this.isBlocked(this.ips, ip);
  }

  /** Whether the account (`user@realm`, lower-case realm) is blocked now. */
  userBlocked(userKey: string): boolean {
    return this.isBlocked(this.users, userKey);
  }

  /** Counts a refused attempt (blocked): for metrics only, it does not extend the block. */
  countRefused(): void {
    this.refused++;
  }

  /**
   * One failed response (wrong password, unknown user) from `ip` for `userKey`. Returns the
   * blocks that start with it (usually none).
   */
  recordFailure(ip: string, userKey: string): NewBlock[] {
    this.failures++;
    const out: NewBlock[] = [];
    const now = this.now();
    if (this.o.maxFailuresPerIp > 0) this.bump(this.ips, ip, this.o.maxFailuresPerIp, 'ip', now, out);
    if (this.o.maxFailuresPerUser > 0) this.bump(this.users, userKey, this.o.maxFailuresPerUser, 'user', now, out);
    return out;
  }

  /** A correct response: the account's failures are forgiven (the address's are not). */
  recordSuccess(userKey: string): void {
    const c = this.users.get(userKey);
    if (c !== undefined && c.blockedUntil === 0) this.users.delete(userKey);
  }

  /** Forgets every key whose block is over and whose failures fell out of the window. */
  sweep(): void {
    const now = this.now();
    for (const table of [this.users, this.ips]) {
      for (const [k, c] of table) if (this.expired(c, now)) table.delete(k);
    }
  }

  get trackedUsers(): number {
    return this.users.size;
  }

  get trackedIps(): number {
    return this.ips.size;
  }

  get blockedNow(): number {
    const now = this.now();
    let n = 0;
    for (const table of [this.users, this.ips]) for (const c of table.values()) if (c.blockedUntil > now) n++;
    return n;
  }

  private isBlocked(table: Map<string, Counter>, key: string): boolean {
    const c = table.get(key);
    if (c === undefined || c.blockedUntil === 0) return false;
    if (c.blockedUntil > this.now()) return true;
    // The back-off is over: the key starts afresh.
    table.delete(key);
    return false;
  }

  private expired(c: Counter, now: number): boolean {
    if (c.blockedUntil > now) return false;
    return now - c.lastSeen >= 2 * this.windowMs;
  }

  private bump(table: Map<string, Counter>, key: string, limit: number, by: BlockedBy, now: number, out: NewBlock[]): void {
    let c = table.get(key);
    if (c === undefined) {
      if (table.size >= this.o.maxTracked) this.evictOldest(table, now);
      c = { windowStart: now, current: 0, previous: 0, blockedUntil: 0, lastSeen: now };
    } else {
      // Re-inserted below so the Map's order stays least-recently-seen first.
      table.delete(key);
    }
    table.set(key, c);
    c.lastSeen = now;
    if (c.blockedUntil > now) return;
    const elapsed = now - c.windowStart;
    if (elapsed >= 2 * this.windowMs) {
      c.previous = 0;
      c.current = 0;
      c.windowStart = now;
    } else if (elapsed >= this.windowMs) {
      c.previous = c.current;
      c.current = 0;
      c.windowStart += this.windowMs;
    }
    c.current++;
    const weight = 1 - (now - c.windowStart) / this.windowMs;
    const estimate = c.current + c.previous * weight;
    if (estimate >= limit) {
      c.blockedUntil = now + this.blockMs;
      c.current = 0;
      c.previous = 0;
      this.blocks++;
      out.push({ by, key, until: c.blockedUntil, failures: Math.round(estimate) });
    }
  }

  /** The table is full: expired keys go first, else the least recently seen. */
  private evictOldest(table: Map<string, Counter>, now: number): void {
    for (const [k, c] of table) {
      if (this.expired(c, now)) table.delete(k);
      else break;
    }
    if (table.size < this.o.maxTracked) return;
    const oldest = table.keys().next();
    if (!oldest.done) table.delete(oldest.value);
  }
}
