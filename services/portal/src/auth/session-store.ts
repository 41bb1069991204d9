/**
 * Server-side sessions (one owner: built in main.ts, injected into the server). The cookie holds
 * only a random 256-bit id; the principal and the CSRF synchronizer token stay here. Sessions
 * end after `idleTimeoutMs` without a request; at most `maxSessions` are kept (the least recently
 * used goes first), so memory stays bounded whatever clients do.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

export type Principal = { role: 'admin'; name: string } | { role: 'subscriber'; username: string; domain: string };

export interface Session {
  readonly id: string;
  /** Synchronizer token (OWASP CSRF cheat sheet): a hidden field in every form, x-csrf-token for the API. */
  readonly csrf: string;
  readonly principal: Principal;
  lastSeen: number;
  /** One-time notice for the next page (Post/Redirect/Get). */
  flash: string | undefined;
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly idleTimeoutMs: number,
    private readonly maxSessions: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  create(principal: Principal): Session {
    while (this.sessions.size >= this.maxSessions) {
      const oldest = this.sessions.keys().next().value;
      if (oldest === undefined) break;
      this.sessions.delete(oldest);
    }
    const s: Session = { id: randomBytes(32).toString('base64url'), csrf: randomBytes(32).toString('base64url'), principal, lastSeen: this.now(), flash: undefined };
    this.sessions.set(s.id, s);
    return s;
  }

  /** The live session of this id (its idle timer restarts), or null. */
  get(id: string | undefined): Session | null {
    if (id === undefined || id.length !== 43) return null;
    const s = this.sessions.get(id);
    if (s === undefined) return null;
    const now = this.now();
    if (now - s.lastSeen > this.idleTimeoutMs) {
      this.sessions.delete(id);
      return null;
    }
    s.lastSeen = now;
    // Re-insert: Map order is then least recently used first.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s;
  }

  destroy(id: string): void {
    this.sessions.delete(id);
  }

  /** Ends every session of a subscriber (after a password change or disable) except `keep`. */
  destroyFor(match: (p: Principal) => boolean, keep?: string): number {
    let n = 0;
    for (const [id, s] of this.sessions) {
      if (id !== keep && match(s.principal)) {
        this.sessions.delete(id);
        n++;
      }
    }
    return n;
  }

  /** Drops idle sessions (called from a timer). */
  sweep(): void {
    const now = this.now();
    for (const [id, s] of this.sessions) if (now - s.lastSeen > this.idleTimeoutMs) this.sessions.delete(id);
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(submitted), Buffer.from(session.csrf));
}
