/**
 * The book's chapter-5 configuration (openser.cfg with MySQL: auth_db, usrloc db_mode,
 * alias_db, domain) as route functions. Read it next to the book's route block:
 *
 *   route {
 *     mf_process_maxfwd_header / msg:len            -> enforced by the core (RFC 3261 §16.3)
 *     if (!method=="REGISTER") record_route();
 *     if (loose_route()) { route(1); }              -> in-dialog requests are not challenged
 *     if (!uri==myself) {                           -> "outbound": only local users, authenticated,
 *        if (!is_from_local()) { sl_send_reply("403", "Relaying Denied"); exit; }    (no open relay)
 *        route(2); route(1);
 *     }
 *     if (method=="REGISTER") {
 *        if (!www_authorize("", "subscriber")) { www_challenge("", "0"); exit; }
 *        if (!check_to()) { sl_send_reply("403", "Forbidden, use To=ID"); exit; }
 *        consume_credentials(); save("location"); exit;
 *     }
 *     if (is_from_local()) route(2);                -> calls from our users are authenticated
 *     if (lookup("aliases") && !uri==myself) { route(1); }    -> "outbound alias"
 *     if (!lookup("location")) { sl_send_reply("404", "Not Found"); exit; }
 *     route(1);
 *   }
 *   route[1] { setflag(acc); t_relay() or sl_reply_error() }
 *   route[2] {                                      -> caller authentication
 *     if (!proxy_authorize("", "subscriber")) { proxy_challenge("", "0"); exit; }
 *     if (!check_from()) { sl_send_reply("403", "Forbidden, use From=ID"); exit; }
 *     consume_credentials();
 *   }
 *
 * Calls from other domains to our users are not challenged (we cannot know their passwords);
 * ACK and CANCEL never are (RFC 3261 §22.1: they cannot be resubmitted with credentials).
 */
import type { ProxyRouter } from '../core/proxy-core.js';
import type { RequestContext } from '../core/route-context.js';
import { keepalive, relay } from './sub-routes.js';
import { strayAck } from './stray-ack.js';
import { removePreloadedRoute } from './preloaded-route.js';
import { natDetect, natManage } from './nat-sub-routes.js';
import { PROXY_ERRORS } from '../errors.js';
import type { AuthResult, Ch5Modules } from './ch5-modules-api.js';


export async function ch5RequestRoute(ctx: RequestContext, m: Ch5Modules): Promise<void> {
  if (keepalive(ctx)) return;

  // route(NATDETECT): before Contact is stored (REGISTER) or forwarded.
  if (m.nat) natDetect(ctx, m.nat);

  if (ctx.method !== 'REGISTER') m.rr.recordRoute(ctx);

  // The ACK of a late offer carries the SDP answer (RFC 3264 §2): the media relay sees it
  // before strayAck relays or drops the ACK.
  if (m.nat && ctx.method === 'ACK') await natManage(ctx, m.nat);
  if (strayAck(ctx, m)) return;
  removePreloadedRoute(ctx);

  if (m.rr.looseRoute(ctx)) {
    ctx.hint('rr-enforced');
    await relayWithNat(ctx, m);
    return;
  }

  if (!ctx.uriIsMyself()) {
    if (!neverChallenged(ctx)) {
      if (!m.domain.isFromLocal(ctx)) {
        reply(ctx, PROXY_ERRORS.SIP_ERR_RELAY_FORBIDDEN);
        return;
      }
      if (!(await authenticateCaller(ctx, m))) return;
    }
    ctx.hint('outbound');
    await relayWithNat(ctx, m);
    return;
  }

  if (ctx.method === 'REGISTER') {
    await registrar(ctx, m);
    return;
  }

  if (!neverChallenged(ctx) && m.domain.isFromLocal(ctx)) {
    if (!(await authenticateCaller(ctx, m))) return;
  }

  if ((await m.aliases.lookup(ctx)) && !ctx.uriIsMyself()) {
    ctx.hint('outbound alias');
    await relayWithNat(ctx, m);
    return;
  }

  await m.usrloc.sync(ctx);
  if (!m.registrar.lookup(ctx)) {
    ctx.reply(404, 'Not Found');
    return;
  }
  ctx.hint('usrloc applied');
  await relayWithNat(ctx, m);
}

/** route(NATMANAGE) then route[1]: media anchored (when NATed) before the relay. */
async function relayWithNat(ctx: RequestContext, m: Ch5Modules): Promise<void> {
  // ACKs had their NAT handling before strayAck (see the top of the route).
  if (m.nat && ctx.method !== 'ACK') await natManage(ctx, m.nat);
  relay(ctx, m);
}

/** REGISTER for one of our domains: digest (401), check_to (403), then save("location"). Shared with the provider route. */
export async function registrar(ctx: RequestContext, m: Ch5Modules): Promise<void> {
  const auth = await m.auth.wwwAuthorize(ctx);
  if (!auth.authorized) {
    m.auth.challenge(ctx, auth);
    return;
  }
  if (!m.auth.checkTo(ctx, auth)) {
    reply(ctx, PROXY_ERRORS.SIP_ERR_FORBIDDEN_TO);
    return;
  }
  m.auth.consumeCredentials(ctx, auth);
  await m.usrloc.sync(ctx);
  m.registrar.save(ctx);
}

/**
 * route[2]: the caller is one of our users; prove it (407), and that From is really them (403).
 * The credentials that passed (for is_user_in("credentials", …)), or null when a reply was sent.
 * Shared with the provider route.
 */
export async function authenticateCaller(ctx: RequestContext, m: Ch5Modules): Promise<AuthResult | null> {
  const auth = await m.auth.proxyAuthorize(ctx);
  if (!auth.authorized) {
    m.auth.challenge(ctx, auth);
    return null;
  }
  if (!m.auth.checkFrom(ctx, auth)) {
    reply(ctx, PROXY_ERRORS.SIP_ERR_FORBIDDEN_FROM);
    return null;
  }
  // RFC 3261 §22.3: the proxy that checked the credentials removes them before forwarding.
  m.auth.consumeCredentials(ctx, auth);
  return auth;
}

/** RFC 3261 §22.1: ACK and CANCEL cannot be challenged. */
export function neverChallenged(ctx: RequestContext): boolean {
  return ctx.method === 'ACK' || ctx.method === 'CANCEL';
}


export function reply(ctx: RequestContext, r: { status: number; reason: string }): void {
  ctx.reply(r.status, r.reason);
}


/** The router for the chapter-5 configuration (used when the proxy runs with --db). */
export function createCh5Router(modules: Ch5Modules): ProxyRouter {
  return {
    requestRoute(ctx: RequestContext): Promise<void> {
      return ch5RequestRoute(ctx, modules);
    },
  };
}
