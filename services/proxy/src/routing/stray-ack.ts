/**
 * No relay through ACK (docs/security.md). An ACK that reaches a route matched no transaction:
 * the ACK for a non-2xx final is absorbed by its INVITE server transaction (RFC 3261 §17.2.3)
 * and never gets here. What is left is the end-to-end ACK for a 2xx, which is in a dialog (it
 * has a To tag) and follows our Record-Route (RFC 3261 §13.2.2.4, §16.12) — or a forgery.
 * ACK cannot be challenged (§22.1), so a route that relays it like an initial request relays
 * it unauthenticated to whatever its R-URI names. Kamailio's default config (route[WITHINDLG])
 * relays an ACK only after loose_route() or t_check_trans() and drops it otherwise:
 *
 *   if (is_method("ACK")) {
 *     if (t_check_trans()) { route(RELAY); exit; }   -> done by the transaction layer
 *     else { exit; }                                 -> "ACK without matching transaction"
 *   }
 *
 * With `relayMode: stateless` there are no transactions to match: the ACK of a non-2xx final
 * is dropped too (the next hop stops retransmitting its final response after Timer H).
 */
import type { RequestContext } from '../core/route-context.js';
import type { ProxyModules } from './modules-api.js';
import { relay } from './sub-routes.js';

/**
 * Call right after record_route, before loose_route. True when the request was an ACK and is
 * dealt with: relayed along our Record-Route, or dropped.
 */
export function strayAck(ctx: RequestContext, m: ProxyModules): boolean {
  if (ctx.method !== 'ACK') return false;
  // In a dialog (To tag) and routed by a Route set naming us: the 2xx ACK of a call we proxied.
  if (ctx.request.to.tag !== null && m.rr.looseRoute(ctx)) {
    ctx.hint('rr-enforced');
    relay(ctx, m);
    return true;
  }
  // ACK is never answered (§17.1.1.3): dropping it is the whole reply.
  ctx.handled = true;
  return true;
}
