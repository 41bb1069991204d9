/**
 * NAT traversal sub-routes, after Kamailio's default kamailio.cfg (route[NATDETECT],
 * route[NATMANAGE], onreply_route[MANAGE_REPLY]) with nathelper and rtpengine:
 *
 *   route[NATDETECT] {
 *     force_rport();
 *     if (nat_uac_test("19")) {
 *       if (is_method("REGISTER")) fix_nated_register();
 *       else if (is_first_hop()) fix_nated_contact();
 *       setflag(FLT_NATS);
 *     }
 *   }
 *   route[NATMANAGE] {                               -> before t_relay()
 *     if (is_request() && has_totag() && !check_route_param("nat=yes")) ...   (here: Call-ID affinity)
 *     if (!(isflagset(FLT_NATS) || isbflagset(FLB_NATB))) return;
 *     rtpengine_manage("replace-origin replace-session-connection ICE=remove symmetric");
 *     t_on_reply("MANAGE_REPLY");
 *   }
 *   onreply_route[MANAGE_REPLY] { fix_nated_contact(); rtpengine_manage(...); }
 *
 * Routing declares what it calls (NatApi, RtpengineApi); modules/nat and modules/rtpengine
 * implement it and are injected at start-up (STYLE.md §1, §2).
 *
 * For another route (the provider route): call `natDetect(ctx, m)` first thing in the request
 * route, `await natManage(ctx, m)` right before every relay, and — when that route arms its
 * own reply route — `natReply(ctx, m)` from it (natManage arms `m.replyRoute` only when none is
 * armed). Final failures (CANCEL, Timer C, 4xx-6xx) delete the relay session through the
 * rtpengine module's final-response observer, which natManage registers.
 */
import type { SipRequest, SipResponse } from '@voip/sip';
import type { FinalResponseObserver, ReplyContext, ReplyRoute, RequestContext } from '../core/route-context.js';

/** Kamailio FLT_NATS: the sender of this request is behind a NAT. */
export const FLAG_NAT = 'nat';
/** Kamailio FLB_NATB: a target chosen by lookup() was registered from behind a NAT. */
export const FLAG_NAT_DST = 'nat-dst';
/** fix_nated_register(): save("location") stores the request's source as the `received` address. */
export const FLAG_NAT_RECEIVED = 'nat-received';

/** nathelper. Request functions in request routes; reply functions in reply routes. */
export interface NatApi {
  /** `nat_uac_test(flags)` with the configured tests: true when the sender is behind a NAT. */
  natUacTest(ctx: RequestContext): boolean;
  /** `force_rport()`: replies go to the source port, as if the UA had sent `rport` (RFC 3581 §4). */
  forceRport(ctx: RequestContext): void;
  /** `fix_nated_contact()`: the Contact URI's host:port become the request's source. */
  fixNatedContact(ctx: RequestContext): void;
  /** `fix_nated_register()`: the registrar keeps the Contact as sent and the source as `received`. */
  fixNatedRegister(ctx: RequestContext): void;
  /** A reply whose Contact names a private address (the callee is behind a NAT). */
  replyIsNated(ctx: ReplyContext): boolean;
  /** `fix_nated_contact()` on a reply: the Contact becomes the address the reply came from. */
  fixNatedReplyContact(ctx: ReplyContext): void;
}

/** One side of a media negotiation as rtpengine's ng protocol names it. */
export interface MediaLeg {
  callId: string;
  /** The tag of the party whose SDP this is (ng "from-tag"). */
  fromTag: string;
  /** The other party's tag, when known (ng "to-tag"). */
  toTag: string | null;
  /** Source IP of the SIP message (ng "received-from"): the relay's first guess behind a NAT. */
  receivedFrom: string | null;
}

/** rtpengine (ng client over a relay set). Request and reply routes. */
export interface RtpengineApi extends FinalResponseObserver {
  /** `rtpengine: { engage: always }`: anchor every call, not only NATed ones. */
  readonly always: boolean;
  /** The call's media is anchored on a relay (its Call-ID has a relay affinity). */
  isEngaged(callId: string): boolean;
  /** Marks the call anchored before any SDP was seen (an INVITE without an offer). */
  engage(callId: string): void;
  /** `rtpengine_offer()`: rewrites the SDP body of `msg`; false when no relay answered. */
  offer(msg: SipRequest | SipResponse, leg: MediaLeg): Promise<boolean>;
  /** `rtpengine_answer()`: rewrites the SDP body of `msg`; false when the relay refused. */
  answer(msg: SipRequest | SipResponse, leg: MediaLeg): Promise<boolean>;
  /** `rtpengine_delete()`: the call's relay session is released. */
  delete(callId: string): Promise<void>;
}

export interface NatModules {
  nat: NatApi;
  /** null when no relay is configured: signalling is fixed, media is not anchored. */
  media: RtpengineApi | null;
  /** The reply route natManage arms (built once by `natModules`, STYLE.md §13). */
  readonly replyRoute: ReplyRoute;
}

/** Binds the modules and builds the reply route once. */
export function natModules(nat: NatApi, media: RtpengineApi | null): NatModules {
  const m: NatModules = {
    nat,
    media,
    replyRoute: (ctx: ReplyContext) => natReply(ctx, m),
  };
  return m;
}

/** The body is an SDP (RFC 4566 / RFC 3264); multipart bodies are left alone. */
export function hasSdp(msg: SipRequest | SipResponse): boolean {
  if (msg.body.length === 0) return false;
  const ct = msg.headers.get('content-type');
  if (ct === undefined) return false;
  const semi = ct.indexOf(';');
  return (semi < 0 ? ct : ct.slice(0, semi)).trim().toLowerCase() === 'application/sdp';
}

/** route[NATDETECT]: run before anything else looks at Contact or answers the request. */
export function natDetect(ctx: RequestContext, m: NatModules): void {
  if (!m.nat.natUacTest(ctx)) return;
  ctx.flags.add(FLAG_NAT);
  m.nat.forceRport(ctx);
  if (ctx.method === 'REGISTER') m.nat.fixNatedRegister(ctx);
  // is_first_hop(): only the UA's own Contact is fixed, never one behind another proxy.
  else if (ctx.request.vias.length === 1) m.nat.fixNatedContact(ctx);
}

function armReply(ctx: RequestContext, m: NatModules): void {
  if (ctx.replyRoute === null) ctx.setReplyRoute(m.replyRoute);
}

/** Methods whose bodies take part in the offer/answer model (RFC 3264, RFC 3262, RFC 3311). */
function negotiates(method: string): boolean {
  return method === 'INVITE' || method === 'UPDATE' || method === 'PRACK' || method === 'ACK';
}

/**
 * route[NATMANAGE] before relay: engage the media relay for a new call when either side is
 * NATed (or always), offer/answer in-dialog SDP of anchored calls, delete on BYE.
 */
export async function natManage(ctx: RequestContext, m: NatModules): Promise<void> {
  const media = m.media;
  if (media === null) return;
  const req = ctx.request;
  const callId = req.callId;
  const toTag = req.to.tag;
  if (toTag === null) {
    if (ctx.method !== 'INVITE') return;
    if (!(media.always || ctx.flags.has(FLAG_NAT) || ctx.flags.has(FLAG_NAT_DST))) return;
    if (hasSdp(req)) {
      const ok = await media.offer(req, { callId, fromTag: req.from.tag ?? '', toTag: null, receivedFrom: ctx.source.address });
      // No relay answered: the call goes on with the SDP as sent (no worse than without a relay).
      if (!ok) return;
    } else {
      // RFC 3264 §2: the offer will come in the 2xx (or a reliable 18x), the answer in the ACK.
      media.engage(callId);
    }
    // Failure (4xx-6xx, CANCEL's 487, Timer C's 408) releases the session.
    ctx.observe(media);
    armReply(ctx, m);
    return;
  }
  if (!media.isEngaged(callId)) return;
  if (ctx.method === 'BYE') {
    await media.delete(callId);
    return;
  }
  if (!negotiates(ctx.method)) return;
  if (ctx.method === 'INVITE' || ctx.method === 'UPDATE') armReply(ctx, m);
  if (!hasSdp(req)) return;
  const from = req.from.tag ?? '';
  if (ctx.method === 'ACK' || ctx.method === 'PRACK') {
    // The answer to an offer that came in a 2xx/reliable 18x: the offerer is the other side.
    await media.answer(req, { callId, fromTag: toTag, toTag: from, receivedFrom: ctx.source.address });
  } else {
    await media.offer(req, { callId, fromTag: from, toTag, receivedFrom: ctx.source.address });
  }
}

/** onreply_route[MANAGE_REPLY]: fix a NATed callee's Contact, answer (or offer) its SDP. */
export function natReply(ctx: ReplyContext, m: NatModules): void | Promise<void> {
  if (m.nat.replyIsNated(ctx)) m.nat.fixNatedReplyContact(ctx);
  const media = m.media;
  const res = ctx.response;
  if (media === null || !hasSdp(res)) return;
  const method = res.cseq.method;
  if (method !== 'INVITE' && method !== 'UPDATE' && method !== 'PRACK') return;
  const callId = res.callId;
  if (!media.isEngaged(callId)) return;
  const fromTag = res.from.tag ?? '';
  const toTag = res.to.tag;
  const receivedFrom = ctx.source?.address ?? null;
  if (hasSdp(ctx.request)) {
    return media.answer(res, { callId, fromTag, toTag, receivedFrom }).then(ignore);
  }
  // RFC 3264 §2 late offer: the callee offers in this reply; the caller answers in ACK/PRACK.
  if (toTag === null) return;
  return media.offer(res, { callId, fromTag: toTag, toTag: fromTag, receivedFrom }).then(ignore);
}

function ignore(): void {
  // the reply goes upstream either way
}
