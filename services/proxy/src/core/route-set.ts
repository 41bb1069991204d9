/**
 * Route-set processing of RFC 3261 §16.4 and §16.6 (the rr module's work in Kamailio), as pure
 * functions over a request, so routes and the core share one implementation.
 */
import { SipUri, type NameAddr, type SipRequest, type Transport, type Uri } from '@voip/sip';
import type { LocalIdentity } from './local-identity.js';

/** Rewrites the route set (the parser validated and cached it: `req.routes`). */
function setRoutes(req: SipRequest, routes: readonly (NameAddr | string)[]): void {
  req.headers.remove('route');
  for (const r of routes) req.headers.append('Route', r.toString());
}

function hostPort(t: Transport, advertised: string | null): string {
  const host = advertised ?? t.local.address;
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${h}:${t.local.port}`;
}

/**
 * The Record-Route URI for one of our sockets: `<sip:host:port;transport=tcp;lr>`. `secure`
 * (a SIPS request, §16.6 step 4) makes a TLS socket's entry `<sips:host:port;lr>`: a SIPS URI
 * already means TLS, so it carries no transport parameter (RFC 5630 §3.2).
 */
export function recordRouteUri(t: Transport, advertised: string | null, r2: boolean, secure = false): string {
  const sips = secure && t.protocol === 'TLS';
  const transport = t.protocol === 'UDP' || sips ? '' : `;transport=${t.protocol.toLowerCase()}`;
  return `<${sips ? 'sips' : 'sip'}:${hostPort(t, advertised)}${transport}${r2 ? ';r2=on' : ''};lr>`;
}

/**
 * §16.6 step 4: the Record-Route values to insert, top first. One entry when the request leaves
 * on the socket it came in on; two (outbound side first, `r2=on`) when it crosses sockets, e.g.
 * UDP in and TLS out: each side's later requests then name the socket they reach us on.
 * `secure`: the R-URI or the top Route is a SIPS URI, so the Record-Route URI must be SIPS too.
 */
export function recordRouteValues(inbound: Transport | null, out: Transport, advertised: string | null, secure = false): string[] {
  if (inbound === null || inbound === out) return [recordRouteUri(out, advertised, false, secure)];
  return [recordRouteUri(out, advertised, true, secure), recordRouteUri(inbound, advertised, true, secure)];
}

/**
 * §16.4 (the book's `loose_route()`): remove our own entries from the top of the route set and
 * undo a strict router's rewrite. Returns true when the request now has a next hop that is not
 * us (a remaining Route, or an R-URI elsewhere): the caller relays it without further routing.
 */
export function looseRoute(req: SipRequest, identity: LocalIdentity): boolean {
  let processed = false;
  // §16.4: an R-URI we put in a Record-Route means the previous hop was a strict router; the
  // real R-URI is the last Route value.
  if (isOwnRecordRouteUri(req.uri, identity)) {
    const routes = [...req.routes];
    const last = routes.pop();
    if (last) {
      req.uri = last.uri;
      setRoutes(req, routes);
      processed = true;
    }
  }
  // §16.4: the top Route naming us is removed; with double record-routing the second too.
  for (let i = 0; i < 2; i++) {
    const top = req.routes[0];
    if (!top || !identity.isMyself(top.uri)) break;
    req.headers.removeFirstValue('route');
    processed = true;
    if (!(top.uri instanceof SipUri) || top.uri.param('r2') === undefined) break;
  }
  if (!processed) return false;
  return req.headers.has('route') || !identity.isMyself(req.uri);
}

function isOwnRecordRouteUri(uri: Uri, identity: LocalIdentity): boolean {
  return uri instanceof SipUri && uri.user === null && uri.lr && identity.isMyself(uri);
}

/**
 * §16.6 step 6: when the next hop (top Route) is a strict router (no `lr`), it expects the
 * route in the R-URI: push the R-URI to the end of the route set and move the top Route into it.
 */
export function strictRouteFixup(req: SipRequest): void {
  const routes = req.routes;
  const top = routes[0];
  if (!(top?.uri instanceof SipUri) || top.uri.lr) return;
  const rest: (NameAddr | string)[] = routes.slice(1);
  rest.push(`<${req.uri.toString()}>`);
  req.uri = top.uri;
  setRoutes(req, rest);
}
