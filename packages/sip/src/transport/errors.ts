/**
 * Coded transport errors (STYLE.md 7). They are reported through
 * `TransportSink.onTransportError`, or thrown by `TransportLayer.listen` for bad specs.
 */
export type SipTransportErrorCode =
  /** listen() with a protocol this build does not implement yet (TLS, WS, WSS). */
  | 'SIP_ERR_TRANSPORT_UNSUPPORTED'
  /** No listening transport matches the destination's protocol and address family. */
  | 'SIP_ERR_NO_TRANSPORT'
  /** Destination is not an IP address or the port is out of range (names are resolved above). */
  | 'SIP_ERR_BAD_DESTINATION'
  /** A stream connection's send buffer exceeded its limit (peer not reading). */
  | 'SIP_ERR_CONNECTION_OVERLOADED'
  /** The transport is closed. */
  | 'SIP_ERR_TRANSPORT_CLOSED';

export class SipTransportError extends Error {
  readonly code: SipTransportErrorCode;
  constructor(code: SipTransportErrorCode, message: string) {
    super(message);
    this.name = 'SipTransportError';
    this.code = code;
  }
}
