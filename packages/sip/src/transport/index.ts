export type {
  TransportProtocol,
  TransportAddress,
  ListenSpec,
  MessageSource,
  IncomingMessage,
  Transport,
  TransportSink,
  TransportHost,
} from './types.js';
export { SipTransportError, SIP_TRANSPORT_ERRORS } from './errors.js';
export type { SipTransportErrorCode } from './errors.js';
export { TransportLayer, stampReceived, sniffCallId } from './transport-layer.js';
export type { TransportLayerOptions, ResponseRoute, TransportStats } from './transport-layer.js';
export { UdpTransport } from './udp-transport.js';
export type { UdpTransportOptions } from './udp-transport.js';
export { TcpTransport } from './tcp-transport.js';
export type { TcpTransportOptions } from './tcp-transport.js';
export { StreamTransport } from './stream-transport.js';
export type { StreamTransportOptions, StreamProtocol } from './stream-transport.js';
export { TlsTransport } from './tls-transport.js';
export type { TlsTransportOptions, TlsCredentials, Pem } from './tls-transport.js';
export { createCertificate } from './self-signed-certificate.js';
export type { CertificateRequest, CertificateFiles } from './self-signed-certificate.js';
export { StreamFramer, readContentLength } from './stream-framer.js';
export type { FrameSink } from './stream-framer.js';
export { formatHost, stripBrackets, defaultPort, advertisedHost } from './address.js';
