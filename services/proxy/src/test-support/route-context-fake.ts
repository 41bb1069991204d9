/**
 * Route contexts over a parsed request, without a proxy core behind them: for unit tests of
 * module functions (permissions, lcr …) that read the request and write its R-URI / AVPs.
 * (Test support only.)
 */
import { isRequest, parseMessage, type MessageSource, type SipRequest, type Uri } from '@voip/sip';
import { RequestContext, type ForwardingContext, type ProxyActions } from '../core/route-context.js';

/** Records what a route did instead of doing it. */
export class RecordingActions implements ProxyActions {
  readonly replies: { status: number; reason: string | undefined }[] = [];
  relayed = 0;
  readonly tracingHints = false;

  reply(_ctx: ForwardingContext, status: number, reason?: string): void {
    this.replies.push({ status, reason });
  }
  relay(): void {
    this.relayed++;
  }
  forwardStateless(): void {
    this.relayed++;
  }
  isMyself(_uri: Uri): boolean {
    return false;
  }
}

export function parseRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
  if (!r.ok || !isRequest(r.message)) throw new Error('test request did not parse');
  return r.message;
}

/** An INVITE to `ruri` from `from`, received from `source` (address/port/protocol). */
export function requestContext(o: { ruri: string; from?: string; address?: string; port?: number; protocol?: 'UDP' | 'TCP' }): { ctx: RequestContext; actions: RecordingActions } {
  const req = parseRequest(
    [
      `INVITE ${o.ruri} SIP/2.0`,
      'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-unit',
      'Max-Forwards: 70',
      `From: <${o.from ?? 'sip:alice@example.com'}>;tag=1`,
      `To: <${o.ruri}>`,
      'Call-ID: unit-test',
      'CSeq: 1 INVITE',
      'Content-Length: 0',
      '',
      '',
    ].join('\n'),
  );
  const protocol = o.protocol ?? 'UDP';
  const local = { protocol, address: '127.0.0.1', port: 5060 } as const;
  const source: MessageSource = { protocol, address: o.address ?? '192.0.2.1', port: o.port ?? 5060, local, connectionId: null };
  const actions = new RecordingActions();
  return { ctx: new RequestContext(actions, req, source, null, o.ruri), actions };
}
