/**
 * Coded transport errors (STYLE.md 7). They are reported through
 * `TransportSink.onTransportError`, or thrown by `TransportLayer.listen` for bad specs.
 * Every code is listed in ./README.md (errors.test.ts checks it).
 */
export const SIP_TRANSPORT_ERRORS = {
  SIP_ERR_TRANSPORT_UNSUPPORTED: 'listen() with a protocol not implemented yet (WS, WSS)',
  SIP_ERR_TLS_CREDENTIALS: 'listen() on TLS without a certificate and private key (TransportLayer option `tls`)',
  SIP_ERR_NO_TRANSPORT: "no listener matches the destination's protocol and address family",
  SIP_ERR_BAD_DESTINATION: 'the address is not an IP literal or the port is out of range (names are resolved above)',
  SIP_ERR_CONNECTION_OVERLOADED: "a stream connection's unsent output exceeded its limit (peer not reading)",
  SIP_ERR_TRANSPORT_CLOSED: 'send on a closed transport',
} as const;

export type SipTransportErrorCode = keyof typeof SIP_TRANSPORT_ERRORS;

export class SipTransportError extends Error {
  readonly code: SipTransportErrorCode;
  constructor(code: SipTransportErrorCode, message: string) {
    super(message);
    this.name = 'SipTransportError';
    this.code = code;
  }
}
