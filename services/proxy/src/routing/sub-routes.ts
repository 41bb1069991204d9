/**
 * Sub-routes shared by the chapter-4 and chapter-5 configurations (the book repeats them in
 * both openser.cfg files; here they are written once).
 */
import { SipUri } from '@voip/sip';
import type { FailureContext, RequestContext } from '../core/route-context.js';
import type { ProxyModules } from './modules-api.js';

const OPTIONS_ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, MESSAGE, SUBSCRIBE, NOTIFY, PRACK, PUBLISH, REFER, UPDATE';

/** OPTIONS addressed to the proxy itself (no user part) is answered 200, like Kamailio's keepalive. */
export function keepalive(ctx: RequestContext): boolean {
  if (ctx.method !== 'OPTIONS' || !ctx.uriIsMyself()) return false;
  const uri = ctx.request.uri;
  if (!(uri instanceof SipUri) || uri.user !== null) return false;
  ctx.reply(200, 'OK', [
    ['Allow', OPTIONS_ALLOW],
    ['Accept', 'application/sdp'],
  ]);
  return true;
}

/**
 * route[1]: account calls (INVITE: Start or missed call; BYE: Stop), then stateful relay
 * (t_relay); the core answers sl_reply_error's codes on failure.
 */
export function relay(ctx: RequestContext | FailureContext, m: ProxyModules): void {
  if (ctx.method === 'INVITE') m.acc.account(ctx, { missed: true });
  else if (ctx.method === 'BYE') m.acc.account(ctx);
  ctx.relay();
}
