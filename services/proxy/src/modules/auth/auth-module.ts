/**
 * auth module (auth + auth_db + uri_db of the book's chapter 5): digest authentication of
 * requests against the subscriber table. Allowed in request routes.
 *
 * Parameters (AuthSettings): nonceSecret (shared by all proxy processes that must accept each
 * other's nonces), nonceExpires (s), algorithms (offered, most preferred first), allowNoQop,
 * guessing (password-guessing protection, docs/security.md).
 * Dependencies: a SubscriberRepository (storage), a logger.
 *
 * Every failed digest response is logged as one warn line that fail2ban can match (the
 * filter is in docs/security.md): `"event":"auth-failed","ip":"<source address>"` first among
 * the fields, then port, user, realm, reason, method, callId.
 */
import { SipUri, type Logger, type SipRequest } from '@voip/sip';
import type { RequestContext } from '../../core/route-context.js';
import { PROXY_ERRORS } from '../../errors.js';
import type { AuthApi, AuthResult } from '../../routing/ch5-modules-api.js';
import type { SubscriberRepository } from '@voip/storage';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { accountKey, DigestAuthenticator, type AuthOutcome } from './digest-authenticator.js';
import { NonceManager } from './nonce-manager.js';

export const name = 'auth';

export interface AuthSettings {
  nonceSecret: string;
  nonceExpires: number;
  algorithms: readonly string[];
  allowNoQop: boolean;
  maxTrackedNonces?: number;
  guessing?: GuessingSettings;
}

export interface GuessingSettings {
  enabled: boolean;
  windowSeconds: number;
  maxFailuresPerUser: number;
  maxFailuresPerIp: number;
  blockSeconds: number;
  action: 'reply' | 'drop';
  maxTracked: number;
}

/** What the composition root gets besides the route's AuthApi: counters and the sweep timer. */
export interface AuthModuleHandle extends AuthApi {
  /** Counters for the admin API's metrics (names without prefix). */
  metrics(): Record<string, number>;
  /** Stops the limiter's sweep timer. */
  close(): void;
}

type Kind = 'www' | 'proxy';

/** AuthResult with what challenge/consume need; the route sees only the AuthResult fields. */
class DigestAuthResult implements AuthResult {
  constructor(
    readonly kind: Kind,
    readonly realm: string,
    readonly outcome: AuthOutcome | { kind: 'backend-error' },
  ) {}

  get authorized(): boolean {
    return this.outcome.kind === 'authorized';
  }

  get username(): string | null {
    return this.outcome.kind === 'authorized' ? this.outcome.username : null;
  }

  get domain(): string | null {
    return this.outcome.kind === 'authorized' ? this.outcome.domain : null;
  }
}

const HEADER: Record<Kind, { credentials: string; challenge: string }> = {
  www: { credentials: 'authorization', challenge: 'WWW-Authenticate' },
  proxy: { credentials: 'proxy-authorization', challenge: 'Proxy-Authenticate' },
};

export function init(deps: { settings: AuthSettings; subscribers: SubscriberRepository; logger: Logger; now?: () => number }): AuthModuleHandle {
  return new AuthModule(deps.settings, deps.subscribers, deps.logger, deps.now ?? Date.now);
}

function hostOf(uri: SipRequest['uri']): string | null {
  return uri instanceof SipUri ? uri.hostNoBrackets().toLowerCase() : null;
}

class AuthModule implements AuthModuleHandle {
  private readonly authenticator: DigestAuthenticator;
  private readonly log: Logger;
  private readonly limiter: AuthFailureLimiter | null;
  private readonly dropBlocked: boolean;
  private readonly sweepTimer: NodeJS.Timeout | null;
  /** Bound once (STYLE.md §13): the authenticator asks it per request. */
  private readonly userBlocked: ((key: string) => boolean) | undefined;
  private failuresTotal = 0;

  constructor(
    settings: AuthSettings,
    subscribers: SubscriberRepository,
    logger: Logger,
    now: () => number,
  ) {
    const nonces = new NonceManager({ secret: settings.nonceSecret, expiresSeconds: settings.nonceExpires, maxTracked: settings.maxTrackedNonces, now });
    this.authenticator = new DigestAuthenticator({ nonces, subscribers, algorithms: settings.algorithms, allowNoQop: settings.allowNoQop });
    this.log = logger.child({ layer: 'proxy.auth' });
    const g = settings.guessing;
    this.limiter = g?.enabled ? new AuthFailureLimiter({ ...g, now }) : null;
    this.dropBlocked = g?.action === 'drop';
    const limiter = this.limiter;
    this.userBlocked = limiter ? (key: string) => limiter.userBlocked(key) : undefined;
    // Expired counters are forgotten even when no new failure comes to evict them.
    this.sweepTimer = limiter ? setInterval(() => limiter.sweep(), Math.min(60_000, (g!.windowSeconds * 1000) / 2)) : null;
    this.sweepTimer?.unref();
  }

  metrics(): Record<string, number> {
    const l = this.limiter;
    return {
      auth_failures: this.failuresTotal,
      auth_blocks: l?.blocks ?? 0,
      auth_refused_blocked: l?.refused ?? 0,
      auth_blocked_now: l?.blockedNow ?? 0,
      auth_tracked_users: l?.trackedUsers ?? 0,
      auth_tracked_ips: l?.trackedIps ?? 0,
    };
  }

  close(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
  }

  wwwAuthorize(ctx: RequestContext): Promise<AuthResult> {
    // The book's www_authorize("", …): empty realm = the domain of the To URI.
    return this.authorize(ctx, 'www', hostOf(ctx.request.to.uri) ?? hostOf(ctx.request.uri) ?? '');
  }

  proxyAuthorize(ctx: RequestContext): Promise<AuthResult> {
    return this.authorize(ctx, 'proxy', hostOf(ctx.request.from.uri) ?? hostOf(ctx.request.uri) ?? '');
  }

  private async authorize(ctx: RequestContext, kind: Kind, realm: string): Promise<AuthResult> {
    const req = ctx.request;
    const ip = ctx.source.address;
    const limiter = this.limiter;
    if (limiter !== null && limiter.ipBlocked(ip)) {
      limiter.countRefused();
      return new DigestAuthResult(kind, realm, { kind: 'blocked', username: '' });
    }
    let outcome: AuthOutcome | { kind: 'backend-error' };
    try {
      outcome = await this.authenticator.authorize({ method: req.method, realm, credentialLines: req.headers.getAll(HEADER[kind].credentials), body: req.body, userBlocked: this.userBlocked });
    } catch (err) {
      this.log.error({ callId: req.callId, err: (err as Error).message }, 'subscriber lookup failed');
      outcome = { kind: 'backend-error' };
    }
    if (outcome.kind === 'blocked') limiter?.countRefused();
    else if (outcome.kind === 'authorized') limiter?.recordSuccess(accountKey(outcome.username, outcome.domain));
    else if (outcome.kind === 'rejected') this.failed(ctx, realm, outcome);
    return new DigestAuthResult(kind, realm, outcome);
  }

  /**
   * One line per failed attempt, `event` and `ip` first so a fail2ban filter stays simple;
   * a wrong password and an unknown user count alike toward the blocks.
   */
  private failed(ctx: RequestContext, realm: string, o: Extract<AuthOutcome, { kind: 'rejected' }>): void {
    const req = ctx.request;
    const ip = ctx.source.address;
    this.failuresTotal++;
    this.log.warn({ event: 'auth-failed', ip, port: ctx.source.port, user: o.username, realm, reason: o.reason, method: req.method, callId: req.callId }, 'authentication failed');
    if (this.limiter === null || (o.reason !== 'wrong-password' && o.reason !== 'unknown-user')) return;
    for (const b of this.limiter.recordFailure(ip, accountKey(o.username, realm))) {
      // One line per block, not per refused attempt.
      this.log.warn({ event: 'auth-blocked', ip, by: b.by, key: b.key, failures: b.failures, until: new Date(b.until).toISOString() }, b.by === 'ip' ? 'source blocked for password guessing' : 'account blocked for password guessing');
    }
  }

  challenge(ctx: RequestContext, result: AuthResult): void {
    const r = result as DigestAuthResult;
    const o = r.outcome;
    if (o.kind === 'authorized') return;
    if (o.kind === 'backend-error') {
      ctx.reply(PROXY_ERRORS.SIP_ERR_AUTH_BACKEND.status, PROXY_ERRORS.SIP_ERR_AUTH_BACKEND.reason);
      return;
    }
    if (o.kind === 'blocked') {
      if (this.dropBlocked) {
        // Silence: the scanner waits for its timeout. The transaction ends without an answer.
        ctx.handled = true;
        ctx.serverTransaction?.terminate();
        return;
      }
      ctx.reply(PROXY_ERRORS.SIP_ERR_AUTH_BLOCKED.status, PROXY_ERRORS.SIP_ERR_AUTH_BLOCKED.reason);
      return;
    }
    if (o.kind === 'malformed') {
      ctx.reply(PROXY_ERRORS.SIP_ERR_BAD_CREDENTIALS.status, PROXY_ERRORS.SIP_ERR_BAD_CREDENTIALS.reason);
      return;
    }
    const stale = o.kind === 'stale';
    const md5Only = o.kind === 'rejected' && o.md5Only;
    const reply = r.kind === 'www' ? PROXY_ERRORS.SIP_ERR_UNAUTHORIZED : PROXY_ERRORS.SIP_ERR_PROXY_AUTH_REQUIRED;
    const header = HEADER[r.kind].challenge;
    // RFC 3261 §22.2/§22.3 (and RFC 8760 §2.4): one challenge per algorithm, preferred first.
    const extra: [string, string][] = this.authenticator.challenges(r.realm, stale, md5Only).map((v) => [header, v]);
    ctx.reply(reply.status, reply.reason, extra);
  }

  consumeCredentials(ctx: RequestContext, result: AuthResult): void {
    const r = result as DigestAuthResult;
    if (r.outcome.kind !== 'authorized') return;
    // RFC 3261 §22.3: only the credentials for our realm are ours to remove; others stay for
    // proxies further on.
    const name = HEADER[r.kind].credentials;
    const headers = ctx.request.headers;
    const lines = headers.getAll(name);
    headers.remove(name);
    for (let i = 0; i < lines.length; i++) if (i !== r.outcome.line) headers.append(name, lines[i]!);
  }

  checkTo(ctx: RequestContext, result: AuthResult): boolean {
    return sameAccount(ctx.request.to.uri, result);
  }

  checkFrom(ctx: RequestContext, result: AuthResult): boolean {
    return sameAccount(ctx.request.from.uri, result);
  }
}

/** User parts compare case-sensitively, hosts case-insensitively (RFC 3261 §19.1.4). */
function sameAccount(uri: SipRequest['uri'], result: AuthResult): boolean {
  if (!result.authorized || !(uri instanceof SipUri)) return false;
  return uri.user === result.username && uri.hostNoBrackets().toLowerCase() === result.domain!.toLowerCase();
}
