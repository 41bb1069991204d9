/**
 * The provider route: the book's final chapter-8 configuration (openser.cfg with permissions,
 * group, lcr, avpops, uri_db, domain) as route functions — PSTN gateways with least-cost routing
 * and failover, trusted gateways without digest auth, ACL groups per number class, numbers
 * normalised to E.164, call forwarding and voicemail. One function per route block, each
 * commented with the book's lines it mirrors. Features are modules (provider-modules-api.ts);
 * the chapter-5 sub-routes (registrar, caller authentication, relay) are reused, not copied.
 *
 *   route        -> providerRequestRoute (validation is the core's: RFC 3261 §16.3)
 *   route[1]     -> relay + failure_route[1] armed for calls to our users (toUser)
 *   route[2]     -> registerRoute (REGISTER)
 *   route[3]     -> nonRegisterRoute (is_from_local → auth unless allow_trusted; aliases)
 *   route[4]/[5] -> pstn (load_gws, next_gw, t_on_failure("2"), fr_inv_timer, t_relay)
 *   route[10]    -> localToLocal   (dial plan → ACL group → normalise → route[4]; else location)
 *   route[11]    -> localToForeign (relay, authenticated)
 *   route[12]    -> foreignToLocal (location, no auth)
 *   route[13]    -> foreignToForeign (403: no open relay)
 *   failure_route[1] -> userFailureRoute (487 ends; 486 → fwdbusy / voicemail b; 408/480 → fwdnoanswer / voicemail u)
 *   failure_route[2] -> gatewayFailureRoute (next_gw on 5xx/408; 6xx ends; none left → 503)
 *
 * Deviations from the book, each for a reason given where it happens: a forward target goes
 * through the same routing as a direct call (dial plan with the forwarding user's permissions,
 * location, voicemail) and forward chains are bounded; the on-busy / no-answer targets are the
 * user's `fwdbusy` / `fwdnoanswer` preferences before voicemail; callfwd also applies to calls
 * from other domains and gateways (the book loads it only for local callers).
 */
import { SipUri, TelUri, parseUri, type SipRequest } from '@voip/sip';
import type { ProxyRouter } from '../core/proxy-core.js';
import { RequestContext, type FailureContext, type FailureRoute } from '../core/route-context.js';
import { PROXY_ERRORS } from '../errors.js';
import type { AuthResult } from './ch5-modules-api.js';
import { authenticateCaller, neverChallenged, registrar } from './ch5-route.js';
import type { Account, ProviderModules } from './provider-modules-api.js';
import { strayAck } from './stray-ack.js';
import { removePreloadedRoute } from './preloaded-route.js';
import { keepalive, relay } from './sub-routes.js';
import { natDetect, natManage } from './nat-sub-routes.js';
import { telTargetUri } from './tel-target.js';

type Ctx = RequestContext | FailureContext;

/**
 * The modules plus this route's failure routes, bound once when the router is built so arming
 * them (t_on_failure) allocates nothing per call (STYLE.md §13).
 */
interface Routes extends ProviderModules {
  readonly userFailureRoute: FailureRoute;
  readonly gatewayFailureRoute: FailureRoute;
}

/** Transaction AVPs of this route: the callee whose failure_route[1] applies, the forwards so far. */
const CALLEE = Symbol('provider.callee');
const FORWARDS = Symbol('provider.forwards');

/** The book's 503 replies of route[4] and failure_route[2]. */
const NO_GATEWAYS = { status: 503, reason: 'Unable to load gateways' } as const;
const NO_GATEWAY = { status: 503, reason: 'Unable to find a gateway' } as const;
const NO_MORE_GATEWAYS = { status: 503, reason: 'Service not available, no more gateways' } as const;

async function providerRequestRoute(ctx: RequestContext, m: Routes): Promise<void> {
  if (keepalive(ctx)) return;
  // route(NATDETECT) of the chapter-5 route: before Contact is stored or forwarded.
  if (m.nat) natDetect(ctx, m.nat);
  // -- 1 -- Request validation (mf_process_maxfwd_header, msg:len) is done by the core (§16.3).

  // -- 2 -- Routing preprocessing: if (!method=="REGISTER") record_route();
  if (ctx.method !== 'REGISTER') m.rr.recordRoute(ctx);
  // The ACK of a late offer carries the SDP answer (RFC 3264 §2): the media relay sees it
  // before strayAck relays or drops the ACK (route1 leaves ACKs alone for that reason).
  if (m.nat && ctx.method === 'ACK') await natManage(ctx, m.nat);
  if (strayAck(ctx, m)) return;
  removePreloadedRoute(ctx);

  // if (has_totag()) { if (loose_route()) { … route(1); } else sl_send_reply("404", "Not here"); exit; }
  if (ctx.request.to.tag !== null) {
    await withinDialog(ctx, m);
    return;
  }

  // if (is_method("CANCEL")) { if (t_check_trans()) t_relay(); exit; } — the core matched every
  // CANCEL of a transaction it knows; one that gets here matches none (RFC 3261 §16.10: forward
  // it statelessly, unless it is addressed to us, where §9.2 answers 481).
  if (ctx.method === 'CANCEL') {
    if (ctx.uriIsMyself() || m.domain.isUriHostLocal(ctx)) ctx.reply(481, 'Call/Transaction Does Not Exist');
    else ctx.forward();
    return;
  }

  // -- 3 -- Determine request target: if (method=="REGISTER") route(2) else route(3);
  if (ctx.method === 'REGISTER') await registerRoute(ctx, m);
  else await nonRegisterRoute(ctx, m);
}

/**
 * Sequential requests follow the Record-Route path. The book re-authenticates re-INVITEs that
 * are not from a trusted peer (`if (method=="INVITE" && !allow_trusted()) proxy_authorize`); as
 * in chapter 5, only our own users can be challenged — a foreign caller has no password here.
 * Nor has a PSTN gateway: on a call out, its re-INVITE (hold, codec change) carries the dialled
 * number in our domain as From, so our gateways are exempt like trusted peers (Kamailio lcr's
 * `from_gw()`), whether or not they also have a `trusted` row.
 */
async function withinDialog(ctx: RequestContext, m: Routes): Promise<void> {
  if (!m.rr.looseRoute(ctx)) {
    ctx.reply(404, 'Not here');
    return;
  }
  if (ctx.method === 'INVITE' && m.domain.isFromLocal(ctx) && !m.permissions.allowTrusted(ctx) && !m.lcr.fromGw(ctx)) {
    if ((await authenticateCaller(ctx, m)) === null) return;
  }
  ctx.hint('rr-enforced');
  await route1(ctx, m);
}

/**
 * route[2]: REGISTER for one of our domains (www_authorize, check_to, save). The book answers a
 * REGISTER for a foreign domain with a bare 401; a 401 without WWW-Authenticate is malformed
 * (RFC 3261 §21.4.2), so it is refused 403 instead.
 */
async function registerRoute(ctx: RequestContext, m: Routes): Promise<void> {
  if (!m.domain.isUriHostLocal(ctx)) {
    ctx.reply(403, 'Forbidden');
    return;
  }
  await registrar(ctx, m);
}

/** route[3]: non-REGISTER requests. */
async function nonRegisterRoute(ctx: RequestContext, m: Routes): Promise<void> {
  if (m.domain.isFromLocal(ctx)) {
    // From an internal domain -> check the credentials and FROM, unless allow_trusted().
    let caller: AuthResult | null = null;
    if (!m.permissions.allowTrusted(ctx)) {
      if (!neverChallenged(ctx)) {
        caller = await authenticateCaller(ctx, m);
        if (caller === null) return;
      }
    } else {
      // log("Request bypassed the auth.using allow_trusted");
      ctx.hint('bypassed auth: allow_trusted');
    }
    const account = accountOf(caller);
    if (account !== null) {
      // ch. 7: *98 reaches the caller's own mailbox; a 2-digit number is a speed dial.
      if (m.voicemail.isMailboxAccess(ctx)) {
        await mailboxAccess(ctx, m, account);
        return;
      }
      await m.speedDial.lookup(ctx, account);
    }
    // lookup("aliases"); if (is_uri_host_local()) route(10) else route(11);
    await m.aliases.lookup(ctx);
    if (m.domain.isUriHostLocal(ctx)) await localToLocal(ctx, m, caller);
    else await localToForeign(ctx, m);
    return;
  }
  // From an external domain -> do not check credentials.
  await m.aliases.lookup(ctx);
  if (m.domain.isUriHostLocal(ctx)) await foreignToLocal(ctx, m);
  else foreignToForeign(ctx);
}

/**
 * `*98`: the caller's own mailbox, R-URI user = their username, with their identity asserted
 * (RFC 3325 P-Asserted-Identity) so the voicemail server can open the mailbox.
 */
async function mailboxAccess(ctx: RequestContext, m: Routes, account: Account): Promise<void> {
  m.voicemail.toMailbox(ctx, '', account.username);
  ctx.appendHeader('P-Asserted-Identity', `<sip:${account.username}@${account.domain}>`);
  ctx.hint('mailbox access');
  await route1(ctx, m);
}

/** route[10]: from an internal domain to an internal domain. */
async function localToLocal(ctx: RequestContext, m: Routes, caller: AuthResult | null): Promise<void> {
  ctx.hint('inbound->inbound');
  if (ctx.method === 'SUBSCRIBE' && m.voicemail.mwiConfigured && isMessageSummary(ctx)) {
    await messageSummary(ctx, m, accountOf(caller));
    return;
  }
  await toLocalUri(ctx, m, accountOf(caller));
}

/**
 * MWI: a SUBSCRIBE `Event: message-summary` (RFC 3842) for a mailbox of ours goes to the
 * message-summary server (`voicemail.mwiUri`, else `voicemail.uri`; with the Asterisk backend the
 * voicemail-bridge, which NOTIFYs from Asterisk's AMI MessageWaiting). That server has no
 * credentials of its own and trusts us, so the authorisation RFC 3842 §6 asks for (message
 * waiting state is private) is done here: only the mailbox's owner, authenticated, subscribes —
 * R-URI and To both name the authenticated user — anyone else (another user, a trusted peer, a
 * foreign domain) gets 403.
 */
async function messageSummary(ctx: RequestContext, m: Routes, subscriber: Account | null): Promise<void> {
  if (subscriber === null || !isAccount(ctx.request.uri, subscriber) || !isAccount(ctx.request.to.uri, subscriber)) {
    ctx.reply(403, 'Forbidden');
    return;
  }
  m.voicemail.toMessageSummary(ctx, subscriber.username);
  ctx.hint('mwi subscription');
  await route1(ctx, m);
}

/** route[11]: from an internal domain (authenticated) to another domain: route by DNS. */
async function localToForeign(ctx: RequestContext, m: Routes): Promise<void> {
  ctx.hint('inbound->outbound');
  await route1(ctx, m);
}

/**
 * route[12]: from another domain (or a trusted gateway) to one of our users: location, and the
 * user's forwarding and voicemail as for any call to them. The caller has no permissions of
 * its own here: a PSTN number is refused by the dial plan's group check.
 */
async function foreignToLocal(ctx: RequestContext, m: Routes): Promise<void> {
  ctx.hint('outbound->inbound');
  // Nobody from outside watches a mailbox of ours (messageSummary refuses without a subscriber).
  if (ctx.method === 'SUBSCRIBE' && m.voicemail.mwiConfigured && isMessageSummary(ctx)) {
    await messageSummary(ctx, m, null);
    return;
  }
  await toLocalUri(ctx, m, null);
}

/** route[13]: from another domain to another domain — we are no open relay. */
function foreignToForeign(ctx: RequestContext): void {
  ctx.hint('outbound->outbound');
  ctx.reply(403, 'Forbidden');
}

/**
 * The R-URI is in one of our domains: a PSTN number (dial plan: ACL group, normalisation,
 * route[4]), or a user (callfwd, location, voicemail when offline). `permissions` is whose
 * groups allow a PSTN number: the authenticated caller, or the user who forwards the call.
 */
async function toLocalUri(ctx: Ctx, m: Routes, permissions: Account | null): Promise<void> {
  const uri = ctx.request.uri;
  if (!(uri instanceof SipUri) || uri.user === null) {
    ctx.reply(404, 'Not Found');
    return;
  }
  // The book's `uri=~"^sip:[2-9][0-9]{6}@"` → is_user_in("credentials","local") → prefix("+1")
  // → route(4), and the same for ld and int: the dial plan's data.
  const number = m.dialplan.match(uri.user);
  if (number !== null) {
    if (permissions === null || !(await m.group.isUserIn(permissions, number.group))) {
      ctx.reply(403, number.denyReason);
      return;
    }
    const e164 = uri.clone();
    e164.user = number.normalised;
    ctx.request.uri = e164;
    // Accounted with the E.164 number whichever gateway's strip/prefix carries it (dst_domain
    // says which gateway); dst_ouser keeps the number as dialled.
    m.acc.accountNumber(ctx, number.normalised);
    await pstn(ctx, m);
    return;
  }
  await toUser(ctx, m, { username: uri.user, domain: uri.hostNoBrackets().toLowerCase() });
}

/**
 * A call to one of our users: `avp_db_load("$ru/username","s:callfwd")` → forward; else
 * `lookup("location")` → route(1) with failure_route[1]; offline subscriber → voicemail `u`
 * (`revert_uri(); prefix("u"); rewritehostport(…)`); unknown → 404.
 */
async function toUser(ctx: Ctx, m: Routes, callee: Account): Promise<void> {
  const prefs = await m.callForward.preferences(callee);
  if (prefs.callfwd !== null) {
    await forward(ctx, m, callee, prefs.callfwd);
    return;
  }
  ctx.avps.set(CALLEE, callee);
  await m.usrloc.sync(ctx);
  if (!m.registrar.lookup(ctx)) {
    if (!(await m.uri.doesUriExist(ctx))) {
      ctx.reply(404, 'Not Found');
      return;
    }
    // User not registered at this time: unanswered, as far as the caller is concerned.
    if (prefs.fwdnoanswer !== null) {
      await forward(ctx, m, callee, prefs.fwdnoanswer);
      return;
    }
    if (ctx.method === 'INVITE' && m.voicemail.toMailbox(ctx, 'u', callee.username)) {
      ctx.hint('voicemail: not registered');
      await route1(ctx, m);
      return;
    }
    ctx.reply(480, 'Temporarily Unavailable');
    return;
  }
  ctx.hint('usrloc applied');
  if (ctx.method === 'INVITE') {
    // route(1): t_on_failure("1"); and the no-answer timer when there is somewhere to go.
    ctx.setFailureRoute(m.userFailureRoute);
    if (prefs.fwdnoanswer !== null || m.voicemail.configured) {
      ctx.setFinalResponseTimeout(prefs.fwdnoanswerTimeout !== null ? prefs.fwdnoanswerTimeout * 1000 : m.callForward.noAnswerTimeout);
    }
  }
  await route1(ctx, m);
}

/**
 * Forwards the call of `forwarder` to `target` (callfwd, fwdbusy, fwdnoanswer). A target in our
 * domains is routed like a direct call with the forwarder's permissions (a PSTN number goes
 * through the dial plan and LCR); another domain is relayed. Chains are followed at most
 * `maxChain` forwards; meeting a forwarder twice is a loop (482, RFC 3261 §16.3 step 4's answer).
 */
async function forward(ctx: Ctx, m: Routes, forwarder: Account, target: string): Promise<void> {
  const key = `${forwarder.username}@${forwarder.domain}`;
  let seen = ctx.avps.get(FORWARDS) as Set<string> | undefined;
  if (seen === undefined) {
    seen = new Set();
    ctx.avps.set(FORWARDS, seen);
  }
  if (seen.has(key) || seen.size >= m.callForward.maxChain) {
    ctx.reply(PROXY_ERRORS.SIP_ERR_LOOP_DETECTED.status, PROXY_ERRORS.SIP_ERR_LOOP_DETECTED.reason);
    return;
  }
  seen.add(key);
  const parsed = parseUri(target);
  // A tel: target is the number as the forwarder would dial it: sip:NUMBER@their domain, so
  // the dial plan below checks the forwarder's groups and LCR picks the gateway.
  const uri = parsed instanceof TelUri ? telTargetUri(parsed, forwarder.domain) : parsed;
  if (!(uri instanceof SipUri)) {
    // A preference that is no SIP URI is a provisioning error; the user is treated as unreachable.
    ctx.reply(480, 'Temporarily Unavailable');
    return;
  }
  ctx.request.uri = uri;
  ctx.nextHop = null;
  ctx.targets = [];
  ctx.hint(`forwarded by ${key}`);
  if (m.domain.isUriHostLocal(ctx) || ctx.uriIsMyself()) {
    await toLocalUri(ctx, m, forwarder);
    return;
  }
  await route1(ctx, m);
}

/**
 * route[4] + route[5]: `load_gws()` (503 "Unable to load gateways"), `next_gw()` (503 "Unable to
 * find a gateway"), then `t_on_failure("2")` and t_relay with the gateways' fr_inv_timer.
 */
async function pstn(ctx: Ctx, m: Routes): Promise<void> {
  if (!m.lcr.loadGws(ctx)) {
    ctx.reply(NO_GATEWAYS.status, NO_GATEWAYS.reason);
    return;
  }
  if (!m.lcr.nextGw(ctx)) {
    ctx.reply(NO_GATEWAY.status, NO_GATEWAY.reason);
    return;
  }
  await relayToGateway(ctx, m);
}

async function relayToGateway(ctx: Ctx, m: Routes): Promise<void> {
  const gw = m.lcr.currentGateway(ctx);
  if (gw !== null) ctx.hint(`gateway ${gw.name}`);
  ctx.setFailureRoute(m.gatewayFailureRoute);
  if (ctx.method === 'INVITE') ctx.setFinalResponseTimeout(m.lcr.frInvTimeout);
  await route1(ctx, m);
}

/**
 * failure_route[1]: the user's phones failed.
 *   if (t_check_status("487")) exit;                         -> cancelled: nothing more
 *   if (t_check_status("486")) { revert_uri(); prefix("b"); rewritehostport(vm); route(1); }
 *   if (t_check_status("408") || t_check_status("480")) { … prefix("u") … }
 * with the user's fwdbusy / fwdnoanswer target first. A no-answer timeout counts as 408.
 */
async function userFailureRoute(ctx: FailureContext, m: Routes): Promise<void> {
  if (ctx.canceled || ctx.status === 487) return;
  const callee = ctx.avps.get(CALLEE) as Account | undefined;
  if (callee === undefined) return;
  const busy = ctx.status === 486;
  if (!busy && ctx.status !== 408 && ctx.status !== 480) return;
  const prefs = await m.callForward.preferences(callee);
  const target = busy ? prefs.fwdbusy : prefs.fwdnoanswer;
  if (target !== null) {
    await forward(ctx, m, callee, target);
    return;
  }
  if (m.voicemail.toMailbox(ctx, busy ? 'b' : 'u', callee.username)) {
    ctx.avps.delete(CALLEE);
    ctx.hint(busy ? 'voicemail: busy' : 'voicemail: no answer');
    await route1(ctx, m);
  }
  // Without a voicemail target the 486/480/408 goes to the caller.
}

/**
 * failure_route[2]: the gateway failed.
 *   if (!next_gw()) { t_reply("503", "Service not available, no more gateways"); exit; }
 *   t_relay();
 * Only 5xx, 408 and a gateway that never answered (our fr_inv_timer: a local 408) move on: a 6xx
 * is the called party's final word (RFC 3261 §16.7 step 5) and other 4xx are about the number.
 * The book re-arms t_on_failure("1") here; failure_route[2] is re-armed so the hunt goes on.
 */
async function gatewayFailureRoute(ctx: FailureContext, m: Routes): Promise<void> {
  if (ctx.canceled || ctx.status === 487) return;
  if (ctx.status >= 600) return;
  if (ctx.status < 500 && ctx.status !== 408) return;
  if (!m.lcr.nextGw(ctx)) {
    ctx.reply(NO_MORE_GATEWAYS.status, NO_MORE_GATEWAYS.reason);
    return;
  }
  await relayToGateway(ctx, m);
}

/**
 * route[1]: t_relay (with acc). A request from a phone first gets the NAT handling of the
 * chapter-5 route (route(NATMANAGE): media anchoring); a failure route's new branch keeps the
 * media decisions of the original request.
 */
async function route1(ctx: Ctx, m: Routes): Promise<void> {
  if (m.nat && ctx instanceof RequestContext && ctx.method !== 'ACK') await natManage(ctx, m.nat);
  relay(ctx, m);
}

function accountOf(auth: AuthResult | null): Account | null {
  if (auth === null || !auth.authorized || auth.username === null || auth.domain === null) return null;
  return { username: auth.username, domain: auth.domain };
}

/** The URI names `account`: user parts compare case-sensitively, hosts not (RFC 3261 §19.1.4). */
function isAccount(uri: SipRequest['uri'], account: Account): boolean {
  return uri instanceof SipUri && uri.user === account.username && uri.hostNoBrackets().toLowerCase() === account.domain.toLowerCase();
}

/** Event: message-summary (RFC 3842), the message-waiting package. */
function isMessageSummary(ctx: RequestContext): boolean {
  const ev = ctx.request.headers.get('event');
  if (ev === null || ev === undefined) return false;
  return ev.split(';', 1)[0]!.trim().toLowerCase() === 'message-summary';
}

/** The router for the provider route (the default with --db). */
export function createProviderRouter(modules: ProviderModules): ProxyRouter {
  const routes: Routes = {
    ...modules,
    userFailureRoute: (ctx: FailureContext) => userFailureRoute(ctx, routes),
    gatewayFailureRoute: (ctx: FailureContext) => gatewayFailureRoute(ctx, routes),
  };
  return {
    requestRoute(ctx: RequestContext): Promise<void> {
      return providerRequestRoute(ctx, routes);
    },
  };
}
