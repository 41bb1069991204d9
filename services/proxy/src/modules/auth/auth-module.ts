/**
 * auth module (auth + auth_db + uri_db of the book's chapter 5): digest authentication of
 * requests against the subscriber table. Allowed in request routes.
 *
 * Parameters (AuthSettings): nonceSecret (shared by all proxy processes that must accept each
 * other's nonces), nonceExpires (s), algorithms (offered, most preferred first), allowNoQop.
 * Dependencies: a SubscriberRepository (storage), a logger.
 */
import { SipUri, type Logger, type SipRequest } from '@voip/sip';
import type { RequestContext } from '../../core/route-context.js';
import { PROXY_ERRORS } from '../../errors.js';
import type { AuthApi, AuthResult } from '../../routing/ch5-modules-api.js';
import type { SubscriberRepository } from '../../storage/storage.js';
import { DigestAuthenticator, type AuthOutcome } from './digest-authenticator.js';
import { NonceManager } from './nonce-manager.js';

export const name = 'auth';

export interface AuthSettings {
  nonceSecret: string;
  nonceExpires: number;
  algorithms: readonly string[];
  allowNoQop: boolean;
  maxTrackedNonces?: number;
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

export function init(deps: { settings: AuthSettings; subscribers: SubscriberRepository; logger: Logger; now?: () => number }): AuthApi {
  return new AuthModule(deps.settings, deps.subscribers, deps.logger, deps.now ?? Date.now);
}

function hostOf(uri: SipRequest['uri']): string | null {
  return uri instanceof SipUri ? uri.hostNoBrackets().toLowerCase() : null;
}

class AuthModule implements AuthApi {
  private readonly authenticator: DigestAuthenticator;
  private readonly log: Logger;

  constructor(
    settings: AuthSettings,
    subscribers: SubscriberRepository,
    logger: Logger,
    now: () => number,
  ) {
    const nonces = new NonceManager({ secret: settings.nonceSecret, expiresSeconds: settings.nonceExpires, maxTracked: settings.maxTrackedNonces, now });
    this.authenticator = new DigestAuthenticator({ nonces, subscribers, algorithms: settings.algorithms, allowNoQop: settings.allowNoQop });
    this.log = logger.child({ layer: 'proxy.auth' });
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
    let outcome: AuthOutcome | { kind: 'backend-error' };
    try {
      outcome = await this.authenticator.authorize({ method: req.method, realm, credentialLines: req.headers.getAll(HEADER[kind].credentials), body: req.body });
    } catch (err) {
      this.log.error({ callId: req.callId, err: (err as Error).message }, 'subscriber lookup failed');
      outcome = { kind: 'backend-error' };
    }
    if (outcome.kind === 'rejected') {
      // Failed attempts are what an operator greps for (brute force, misconfigured phones).
      this.log.warn({ callId: req.callId, method: req.method, realm, username: outcome.username, reason: outcome.reason, source: `${ctx.source.address}:${ctx.source.port}` }, 'authentication failed');
    }
    return new DigestAuthResult(kind, realm, outcome);
  }

  challenge(ctx: RequestContext, result: AuthResult): void {
    const r = result as DigestAuthResult;
    const o = r.outcome;
    if (o.kind === 'authorized') return;
    if (o.kind === 'backend-error') {
      ctx.reply(PROXY_ERRORS.SIP_ERR_AUTH_BACKEND.status, PROXY_ERRORS.SIP_ERR_AUTH_BACKEND.reason);
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
