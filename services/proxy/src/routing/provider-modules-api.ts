/**
 * What the provider route (the book's chapter-7/8 configuration: PSTN gateways, trusted peers,
 * ACL groups, call forwarding, voicemail) calls on modules, on top of the chapter-5 ones.
 * Named by capability, not by chapter, so later routes reuse them (STYLE.md §1, §2, §5).
 * Each function's context parameter says in which route kinds it may be called.
 */
import type { FailureContext, ForwardingContext, RequestContext } from '../core/route-context.js';
import type { AuthResult, Ch5Modules } from './ch5-modules-api.js';

/** An account (username@domain) whose permissions or preferences a function reads. */
export interface Account {
  readonly username: string;
  readonly domain: string;
}

/** permissions: `allow_trusted()` over the `trusted` table and the `address` group. Request routes. */
export interface PermissionsApi {
  /**
   * The request comes from a trusted peer (a PSTN gateway): its source address and protocol
   * (and From / R-URI patterns) match a `trusted` row, or its source is in the configured
   * `address` group. Such requests skip digest authentication.
   */
  allowTrusted(ctx: RequestContext): boolean;
}

/** group: `is_user_in("credentials", group)` over `grp`. Request and failure routes. */
export interface GroupApi {
  /** The account that authenticated this request is in `group`; false without credentials. */
  isUserInCredentials(ctx: RequestContext, auth: AuthResult | null, group: string): Promise<boolean>;
  /** `is_user_in` for an explicit account (a forwarding user's permissions). */
  isUserIn(account: Account, group: string): Promise<boolean>;
}

/** uri_db: `does_uri_exist()`: the R-URI names a subscriber. Request and failure routes. */
export interface UriApi {
  doesUriExist(ctx: RequestContext | FailureContext): Promise<boolean>;
}

/** A dial-plan match: the number class (ACL group) and the normalised (E.164) user part. */
export interface DialPlanMatch {
  /** The ACL group a caller must be in (the book's local, ld, int). */
  readonly group: string;
  /** The R-URI user after strip/prefix (or subst/repl) — what the gateways get. */
  readonly normalised: string;
  /** The reply when the caller is not in `group` (the book's 403 reason phrases). */
  readonly denyReason: string;
}

/** dialplan: number patterns → ACL group → normalisation, as data (config and `dialplan` table). */
export interface DialPlanApi {
  /** Classifies a dialled R-URI user part; null when no rule matches (not a PSTN number). */
  match(user: string): DialPlanMatch | null;
}

/** lcr: `load_gws()` / `next_gw()` (Kamailio 5.x lcr). State of the hunt lives on the context. */
export interface LcrApi {
  /**
   * `load_gws()`: the gateways for the R-URI user (longest prefix, From pattern, R-URI pattern),
   * ordered by priority then weight, kept on the transaction. False when none matches.
   */
  loadGws(ctx: ForwardingContext): boolean;
  /** `next_gw()`: rewrites the R-URI to the next gateway (strip, prefix, host, port, transport, params). */
  nextGw(ctx: ForwardingContext): boolean;
  /** The gateway `next_gw` chose last (for hints, acc, logs); null before the first. */
  currentGateway(ctx: ForwardingContext): { name: string; tag: string | null } | null;
  /** fr_inv_timer for the gateways (ms): a gateway that does not answer within it is skipped. */
  readonly frInvTimeout: number;
  /** Kamailio lcr's `from_gw()`: the request's source address is one of our gateways. */
  fromGw(ctx: RequestContext): boolean;
}

/** A user's forwarding preferences (usr_preferences, the book's avpops attributes). */
export interface CallForwardPreferences {
  /** Unconditional forward (the book's `callfwd`). */
  readonly callfwd: string | null;
  /** On busy (486). */
  readonly fwdbusy: string | null;
  /** On no answer (408/480, or no final within the timeout). */
  readonly fwdnoanswer: string | null;
  /** Seconds before an unanswered call is forwarded; null = the configured default. */
  readonly fwdnoanswerTimeout: number | null;
}

/** avpops: `avp_db_load("$ru/username", …)` of the forwarding attributes. */
export interface CallForwardApi {
  preferences(account: Account): Promise<CallForwardPreferences>;
  /** Default no-answer timeout (ms) when a user has a fwdnoanswer target but no own timeout. */
  readonly noAnswerTimeout: number;
  /** How many forwards are followed before the call is refused as a loop (482). */
  readonly maxChain: number;
}

/** speeddial: `sd_lookup("speed_dial")`. Request routes. */
export interface SpeedDialApi {
  /** A 2-digit R-URI user dialled by `caller` becomes the entry's URI; false when none. */
  lookup(ctx: RequestContext, caller: Account): Promise<boolean>;
}

/** The voicemail target of the book's failure_route[1] (`revert_uri; prefix; rewritehostport`). */
export interface VoicemailApi {
  /** False without `voicemail.uri`: busy and unanswered calls end with 486/480 then. */
  readonly configured: boolean;
  /**
   * R-URI becomes `sip:<prefix><user>@<voicemail host:port>` (prefix `b` busy, `u` unanswered,
   * '' for the owner's own mailbox). False when not configured.
   */
  toMailbox(ctx: ForwardingContext, prefix: 'b' | 'u' | '', user: string): boolean;
  /** A message-summary server is known (`voicemail.mwiUri`, else `voicemail.uri`). */
  readonly mwiConfigured: boolean;
  /**
   * SUBSCRIBE `Event: message-summary` (RFC 3842) for `user`'s mailbox: R-URI becomes
   * `sip:<user>@<mwiUri host:port>` (`voicemail.mwiUri`, default `voicemail.uri`). False when
   * neither is configured.
   */
  toMessageSummary(ctx: ForwardingContext, user: string): boolean;
  /** The R-URI user is the mailbox-access code (`*98`). */
  isMailboxAccess(ctx: RequestContext): boolean;
}

export interface ProviderModules extends Ch5Modules {
  permissions: PermissionsApi;
  group: GroupApi;
  uri: UriApi;
  dialplan: DialPlanApi;
  lcr: LcrApi;
  callForward: CallForwardApi;
  speedDial: SpeedDialApi;
  voicemail: VoicemailApi;
}
