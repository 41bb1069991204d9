/**
 * Sign-in throttling per source IP and per account name: after `maxFailures` failures the key
 * is locked for `lockMs`, doubling with each further failure up to `maxLockMs` (exponential
 * back-off). A success clears the account's record (not the IP's: one good password must not
 * reset an attacker's count for other accounts). Bounded: at most `maxKeys` keys are tracked.
 */
interface Failures {
  count: number;
  lockedUntil: number;
}

export class SignInThrottle {
  private readonly keys = new Map<string, Failures>();

  constructor(
    private readonly o: { maxFailures: number; lockMs: number; maxLockMs: number; maxKeys?: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `ip` or `account` may try again; 0 = allowed now. */
  retryAfter(ip: string, account: string): number {
    const t = this.now();
    let wait = 0;
    for (const k of [`ip:${ip}`, `acct:${account.toLowerCase()}`]) {
      const f = this.keys.get(k);
      if (f !== undefined && f.lockedUntil > t) wait = Math.max(wait, f.lockedUntil - t);
    }
    return wait;
  }

  failure(ip: string, account: string): void {
    for (const k of [`ip:${ip}`, `acct:${account.toLowerCase()}`]) {
      let f = this.keys.get(k);
      if (f === undefined) {
        if (this.keys.size >= (this.o.maxKeys ?? 100_000)) {
          const oldest = this.keys.keys().next().value;
          if (oldest !== undefined) this.keys.delete(oldest);
        }
        f = { count: 0, lockedUntil: 0 };
        this.keys.set(k, f);
      }
      f.count++;
      if (f.count >= this.o.maxFailures) {
        const exp = Math.min(20, f.count - this.o.maxFailures);
        f.lockedUntil = this.now() + Math.min(this.o.maxLockMs, this.o.lockMs * 2 ** exp);
      }
    }
  }

  success(account: string): void {
    this.keys.delete(`acct:${account.toLowerCase()}`);
  }
}
