/**
 * The book's chapter-4 "standard configuration" (openser.cfg without authentication) as route
 * functions. Read it next to the book's route blocks:
 *
 *   route {                                   -> requestRoute
 *     mf_process_maxfwd_header / msg:len      -> enforced by the core (RFC 3261 §16.3)
 *     if (!method=="REGISTER") record_route();
 *     if (loose_route()) { route(1); }        -> "rr-enforced"
 *     if (!uri==myself) { route(1); }         -> "outbound"
 *     if (method=="REGISTER") { save("location"); exit; }
 *     lookup("aliases")                       -> chapter 5 (MySQL), not in this configuration
 *     if (!lookup("location")) { sl_send_reply("404","Not Found"); exit; }
 *     route(1);
 *   }
 *   route[1] { setflag(acc); t_relay() or sl_reply_error() } -> relay
 */
import type { RequestContext } from '../core/route-context.js';
import { keepalive, relay } from './sub-routes.js';
import type { ProxyModules } from './modules-api.js';


export function requestRoute(ctx: RequestContext, m: ProxyModules): void {
  if (keepalive(ctx)) return;

  if (ctx.method !== 'REGISTER') m.rr.recordRoute(ctx);

  if (m.rr.looseRoute(ctx)) {
    ctx.hint('rr-enforced');
    relay(ctx, m);
    return;
  }

  if (!ctx.uriIsMyself()) {
    ctx.hint('outbound');
    relay(ctx, m);
    return;
  }

  if (ctx.method === 'REGISTER') {
    m.registrar.save(ctx);
    return;
  }

  if (!m.registrar.lookup(ctx)) {
    ctx.reply(404, 'Not Found');
    return;
  }
  ctx.hint('usrloc applied');
  relay(ctx, m);
}


