/**
 * What the chapter-5 route (MySQL: authentication, persistent location, aliases, domains) calls
 * on modules, on top of the chapter-4 ProxyModules. Routing declares; modules implement and are
 * injected at start-up (STYLE.md §1, §2).
 */
import type { FailureContext, RequestContext } from '../core/route-context.js';
import type { ProxyModules } from './modules-api.js';
import type { NatModules } from './nat-sub-routes.js';

/**
 * The outcome of www_authorize / proxy_authorize. The route reads `authorized`; the other
 * functions of AuthApi take the whole object back (which credentials, why it failed).
 */
export interface AuthResult {
  readonly authorized: boolean;
  /** The authenticated account, when authorized. */
  readonly username: string | null;
  readonly domain: string | null;
}

/** auth + auth_db (+ uri_db's check_to/check_from). Request routes only. */
export interface AuthApi {
  /** `www_authorize("", "subscriber")`: REGISTER, realm = the To domain (RFC 3261 §22.2). */
  wwwAuthorize(ctx: RequestContext): Promise<AuthResult>;
  /** `proxy_authorize("", "subscriber")`: other requests, realm = the From domain (RFC 3261 §22.3). */
  proxyAuthorize(ctx: RequestContext): Promise<AuthResult>;
  /**
   * `www_challenge` / `proxy_challenge` after a failed authorize: 401 with WWW-Authenticate or
   * 407 with Proxy-Authenticate (stale=true for an expired nonce); 400 for malformed credentials;
   * 500 when the subscriber table could not be read.
   */
  challenge(ctx: RequestContext, result: AuthResult): void;
  /** `consume_credentials()`: removes the credentials we checked before the request is forwarded. */
  consumeCredentials(ctx: RequestContext, result: AuthResult): void;
  /** `check_to()`: the authenticated user is the one in To (no third-party registration). */
  checkTo(ctx: RequestContext, result: AuthResult): boolean;
  /** `check_from()`: the authenticated user is the one in From (no caller-ID spoofing). */
  checkFrom(ctx: RequestContext, result: AuthResult): boolean;
}

/** alias_db: `lookup("aliases")`. Request and failure routes. */
export interface AliasApi {
  /** Rewrites the R-URI when its user@host is an alias (dbaliases); false when it is none. */
  lookup(ctx: RequestContext | FailureContext): Promise<boolean>;
}

/** domain: the SIP domains served, from the `domain` table, reloaded without restart. */
export interface DomainApi {
  /** `is_uri_host_local()`: the R-URI host is one of our domains. */
  isUriHostLocal(ctx: RequestContext | FailureContext): boolean;
  /** `is_from_local()`: the From host is one of our domains. */
  isFromLocal(ctx: RequestContext | FailureContext): boolean;
}

/** usrloc db_mode support for the route: in db-only mode, re-read the AOR before save/lookup. */
export interface UsrlocSyncApi {
  /** The AOR of a REGISTER (To) or of the R-URI (lookup) is brought up to date from the table. */
  sync(ctx: RequestContext | FailureContext): Promise<void>;
}

export interface Ch5Modules extends ProxyModules {
  auth: AuthApi;
  aliases: AliasApi;
  domain: DomainApi;
  usrloc: UsrlocSyncApi;
  /** nathelper + rtpengine (routing/nat-sub-routes.ts); null = no NAT handling. */
  nat?: NatModules | null;
}

