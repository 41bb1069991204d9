/**
 * What route functions may call on modules. Routing declares these interfaces; modules
 * implement them and are handed to the router at start-up (main.ts), so routing never imports
 * a module and a module's internals stay private (STYLE.md §1, §2).
 *
 * Each function's context parameter says in which route kinds it may be called.
 */
import type { FailureContext, RequestContext } from '../core/route-context.js';

/** rr: Record-Route and loose routing (RFC 3261 §16.4, §16.6 step 4). */
export interface RecordRouteApi {
  /** `record_route()`: forwarded copies of this request carry our Record-Route. */
  recordRoute(ctx: RequestContext): void;
  /** `loose_route()`: consumes our Route entries; true when the request has a next hop elsewhere. */
  looseRoute(ctx: RequestContext): boolean;
}

/** registrar + usrloc: `save("location")` and `lookup("location")`. */
export interface RegistrarApi {
  /** Processes a REGISTER (RFC 3261 §10.3) and replies to it. */
  save(ctx: RequestContext): void;
  /**
   * Rewrites the R-URI to the best contact of the AOR it names and appends the others as
   * parallel branches. False when the AOR has no live binding.
   */
  lookup(ctx: RequestContext | FailureContext): boolean;
}

/** acc: call records (the book's acc flags). */
export interface AccApi {
  /** Accounts this transaction: INVITE 2xx and BYE as `acc`, INVITE >= 300 as `missed_call` when `missed`. */
  account(ctx: RequestContext | FailureContext, opts?: { missed?: boolean }): void;
  /**
   * The callee number to record as `dst_user` instead of the routed R-URI's user (a db_extra
   * column over an AVP, as Kamailio configs do): the dial plan's E.164 number of a PSTN call,
   * which each gateway's strip/prefix rewrites differently; `dst_domain` stays the gateway.
   */
  accountNumber(ctx: RequestContext | FailureContext, number: string): void;
  /** False when no accounting sink is configured. */
  readonly enabled: boolean;
}

export interface ProxyModules {
  rr: RecordRouteApi;
  registrar: RegistrarApi;
  acc: AccApi;
}
