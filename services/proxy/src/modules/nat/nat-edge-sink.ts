/**
 * What the nat module does in front of the transaction layer, on every message read:
 *
 * - Replies to our keepalive OPTIONS end here (they match no transaction).
 * - `force_rport()` for UDP requests (Kamailio's default route[NATDETECT] calls it for every
 *   request): a phone behind a NAT that did not ask for `rport` is still answered at the port
 *   its request came from (RFC 3581 §4 as if requested). It must happen here, before the
 *   transaction exists: the INVITE server transaction sends 100 Trying at once and keeps the
 *   response route it computed for every later response.
 */
import { SipResponse, type IncomingMessage, type MessageSource, type SipParseError, type SipRequest, type TransportAddress, type TransportSink } from '@voip/sip';
import type { NatKeepalive } from './nat-keepalive.js';

export class NatEdgeSink implements TransportSink {
  constructor(
    private readonly keepalive: NatKeepalive,
    private readonly inner: TransportSink,
    private readonly forceRport: boolean,
  ) {}

  onMessage(msg: IncomingMessage): void {
    const m = msg.message;
    try {
      if (m instanceof SipResponse) {
        if (this.keepalive.onResponse(m)) return;
      } else if (this.forceRport && msg.source.protocol === 'UDP') {
        forceRport(m, msg.source);
      }
    } catch {
      // A broken Via is the transaction layer's to answer (400) or drop and log.
    }
    this.inner.onMessage(msg);
  }

  onParseError(error: SipParseError, partial: SipRequest | SipResponse | null, source: MessageSource): void {
    this.inner.onParseError(error, partial, source);
  }

  onTransportError(dest: TransportAddress, err: Error): void {
    this.inner.onTransportError?.(dest, err);
  }
}

/** RFC 3581 §4 for a request that did not ask: rport = source port, received = source address. */
export function forceRport(req: SipRequest, source: MessageSource): void {
  const via = req.vias[0];
  if (via === undefined || via.params.get('rport') !== undefined) return;
  via.params.set('received', source.address);
  via.params.set('rport', String(source.port));
  req.replaceTopVia(via);
}
