import type { SipParseError, SipRequest, SipResponse } from '../message/index.js';
import type { Logger } from '../util/logger.js';

export type TransportProtocol = 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';

export interface TransportAddress {
  protocol: TransportProtocol;
  /** An IP address (IPv6 without brackets). Host names are resolved above (RFC 3263). */
  address: string;
  port: number;
}

/** What `TransportLayer.listen` takes: the socket to bind, and optionally how to name it. */
export interface ListenSpec extends TransportAddress {
  /**
   * Host and port to put in Via/Record-Route for this socket (e.g. the public address behind
   * a 1:1 NAT). Defaults: the bound address (for a wildcard bind, the first non-internal
   * interface address of the family), and the bound port.
   */
  advertise?: { host: string; port?: number };
}

/** Where a message came in: the peer's address and the local socket that got it. */
export interface MessageSource {
  protocol: TransportProtocol;
  /** Peer (real source) address and port. */
  address: string;
  port: number;
  /** Our listening socket. */
  local: TransportAddress;
  /** Stream transports: the connection it arrived on; null for datagrams. */
  connectionId: number | null;
}

export interface IncomingMessage {
  message: SipRequest | SipResponse;
  source: MessageSource;
}

/** Every concrete transport (UDP, TCP, TLS; later WS) implements this; layers above see only it. */
export interface Transport {
  readonly protocol: TransportProtocol;
  /** The bound socket (port filled in when 0 was asked). */
  readonly local: TransportAddress;
  /** What Via/Record-Route name this socket by (see `ListenSpec.advertise`). */
  readonly advertised: { host: string; port: number };
  /** True for TCP/TLS/WS: timers A/E/G not used, D/I/J/K zero. */
  readonly reliable: boolean;
  /**
   * Sends to address:port; stream transports use the connection `connectionId` if still open,
   * else an open connection to that peer, else open one. Never throws: failures are reported
   * to the sink's `onTransportError` (asynchronously).
   */
  send(buf: Buffer, address: string, port: number, connectionId?: number | null): void;
  /**
   * Stream transports (RFC 5923 §5): let connection `connectionId` also carry requests to
   * host:port, the sent-by of a request that arrived on it. Absent on datagram transports.
   */
  aliasConnection?(connectionId: number, host: string, port: number): void;
  close(): Promise<void>;
}

/** Receives everything the transport layer reads. Implemented by the transaction layer. */
export interface TransportSink {
  onMessage(msg: IncomingMessage): void;
  /**
   * A datagram/frame that failed to parse: `partial` may be a best-effort request (answer
   * 400 to it) — the layer above decides. Size limit violations → status 513.
   */
  onParseError(error: SipParseError, partial: SipRequest | SipResponse | null, source: MessageSource): void;
  /** A send failed (ICMP-reported errors, connection refused/reset/timeout, no transport). */
  onTransportError?(dest: TransportAddress, err: Error): void;
}

/**
 * What a concrete transport calls back into (implemented inside TransportLayer). Not part
 * of the public API; exported for transports written in other files.
 */
export interface TransportHost {
  readonly log: Logger;
  readonly maxMessageSize: number;
  /** One datagram or one framed stream message. */
  receive(buf: Buffer, source: MessageSource): void;
  /** A stream could not be framed; the transport closes the connection right after. */
  streamError(status: number, reason: string, head: Buffer | null, source: MessageSource): void;
  /** A send failed; reported asynchronously to the sink. */
  sendFailed(dest: TransportAddress, err: Error): void;
}
