/**
 * Preloaded Route headers on initial requests (docs/security.md). A request outside a dialog
 * (no To tag) has a Route set only because its sender put one there: a phone's outbound proxy
 * (RFC 3261 §8.1.2, baresip's `outbound=`, naming us) or an attacker who wants this proxy to
 * carry the request to a host of their choosing after the route picked a local user (the next
 * hop is the top Route, RFC 3261 §16.6 step 7) — a relay that skips every check of the route.
 * Kamailio's default config does the same for dialog-forming requests:
 *
 *   # - remove preloaded route headers
 *   remove_hf("Route");
 *
 * The route then decides the next hop alone (location, gateway, foreign domain). In-dialog
 * requests keep their Route set: it is the dialog's, learnt from our Record-Route.
 */
import type { RequestContext } from '../core/route-context.js';

/** Call after record_route, before loose_route, for every request. */
export function removePreloadedRoute(ctx: RequestContext): void {
  const req = ctx.request;
  if (req.to.tag !== null || !req.headers.has('route')) return;
  req.headers.remove('route');
}
