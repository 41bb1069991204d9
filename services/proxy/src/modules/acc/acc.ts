/**
 * acc module: call records (Kamailio's acc with db_extra columns). A route arms it with
 * `acc.account(ctx)` (the book's `setflag(1)` for accounting); when the transaction ends the
 * module writes one record through an AccountingSink (journal or MySQL acc tables):
 *   - INVITE answered 2xx                -> acc         (the call's Start)
 *   - BYE (any final)                    -> acc         (the call's Stop)
 *   - INVITE ended >= 300, when `missed` -> missed_call (Kamailio's failed-transaction flag)
 * A route turns accounting off for one call by deleting the flag: `ctx.flags.delete(ACC_FLAG)`.
 * Allowed routes: request and failure routes. Depends on an AccountingSink.
 */
import { SipUri, type Logger, type SipRequest, type Uri } from '@voip/sip';
import type { AccountingSink, AccRecord } from '@voip/acc';
import type { FailureContext, FinalResponseEvent, FinalResponseObserver, RequestContext } from '../../core/route-context.js';
import type { AccApi } from '../../routing/modules-api.js';

export const name = 'acc';
export const ACC_FLAG = 'acc';
export const ACC_MISSED_FLAG = 'acc-missed';
/** Transaction AVP: the number `accountNumber` set for `dst_user`. */
const DST_USER = Symbol('acc.dst_user');

export function init(deps: { sink: AccountingSink | null; logger: Logger }): AccApi {
  return new AccModule(deps.sink, deps.logger.child({ module: name }));
}

function userOf(uri: Uri): string {
  return uri instanceof SipUri ? (uri.user ?? '') : uri.scheme === 'tel' ? uri.toString().slice(4).split(';')[0]! : '';
}

function hostOf(uri: Uri): string {
  return uri instanceof SipUri ? uri.host.toLowerCase() : '';
}

class AccModule implements AccApi, FinalResponseObserver {
  constructor(
    private readonly sink: AccountingSink | null,
    private readonly log: Logger,
  ) {}

  get enabled(): boolean {
    return this.sink !== null;
  }

  account(ctx: RequestContext | FailureContext, opts: { missed?: boolean } = {}): void {
    if (this.sink === null) return;
    ctx.flags.add(ACC_FLAG);
    if (opts.missed) ctx.flags.add(ACC_MISSED_FLAG);
    ctx.observe(this);
  }

  accountNumber(ctx: RequestContext | FailureContext, number: string): void {
    ctx.avps.set(DST_USER, number);
  }

  onFinalResponse(e: FinalResponseEvent): void {
    if (this.sink === null || !e.flags.has(ACC_FLAG)) return;
    const status = e.response.status;
    const method = e.received.method;
    let kind: AccRecord['kind'];
    if (method === 'INVITE') {
      if (status < 300) kind = 'acc';
      else if (e.flags.has(ACC_MISSED_FLAG)) kind = 'missed_call';
      else return;
    } else {
      kind = 'acc';
    }
    const record = this.record(kind, e.received, e.routed, e);
    if (!this.sink.write(record)) this.log.warn({ callId: record.callid, kind }, 'accounting record refused by the sink');
  }

  private record(kind: AccRecord['kind'], req: SipRequest, routed: SipRequest, e: FinalResponseEvent): AccRecord {
    const from = req.from;
    const to = req.to;
    return {
      kind,
      method: req.method,
      from_tag: from.tag ?? '',
      to_tag: e.response.to.tag ?? to.tag ?? '',
      callid: req.callId,
      sip_code: e.response.status,
      sip_reason: e.response.reason,
      time: Date.now(),
      src_user: userOf(from.uri),
      src_domain: hostOf(from.uri),
      src_ip: e.source.address,
      dst_ouser: userOf(to.uri),
      dst_user: (e.avps.get(DST_USER) as string | undefined) ?? userOf(routed.uri),
      dst_domain: hostOf(routed.uri),
      user_agent: req.headers.get('user-agent') ?? '',
    };
  }
}
