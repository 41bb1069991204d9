import type net from 'node:net';
import tls from 'node:tls';
import { StreamTransport } from './stream-transport.js';
import type { StreamTransportOptions } from './stream-transport.js';
import type { ListenSpec, TransportHost } from './types.js';

/** PEM text (or several, for `ca`). */
export type Pem = string | Buffer;

/** What a TLS listener needs besides the stream settings. */
export interface TlsCredentials {
  /** Our certificate chain (PEM): presented to clients, and to servers that ask for one. */
  certificate: Pem;
  privateKey: Pem;
  /**
   * Trust anchors (PEM) for peer certificates: the CAs whose client certificates are accepted
   * when `verifyClient` is on, and the servers' CAs when `verifyServer` is on. Default: Node's
   * bundled public CAs.
   */
  ca?: Pem | Pem[];
  /**
   * Inbound: ask every client for a certificate and refuse the handshake unless it chains to
   * `ca` (mutual TLS, RFC 5922 §7.3 / RFC 3261 §26.3.2.2). Default false: any client connects,
   * and authenticates with digest above the transport.
   */
  verifyClient?: boolean;
  /**
   * Outbound: refuse servers whose certificate does not chain to `ca` or does not name the IP
   * address we connect to (RFC 5922 §7.2 with the IP as the identity; names are resolved above
   * this layer). Default false: lab peers use self-signed certificates.
   */
  verifyServer?: boolean;
  /** Lowest protocol version accepted, both directions. Default TLS 1.2 (RFC 8996 retired 1.0/1.1). */
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
}

export type TlsTransportOptions = StreamTransportOptions & TlsCredentials;

/**
 * SIP over TLS (RFC 3261 §26.2, §18 framing; RFC 5630 for what "sips" asks of the hops): the
 * stream transport on `node:tls` sockets. Inbound connections join the connection table once
 * the handshake is done (a handshake that fails or stalls past `connectTimeout` never reaches
 * SIP); outbound requests are written at once and queued by the socket until `secureConnect`.
 * Our certificate is also presented as the client certificate on outbound connections, so a
 * peer running mutual TLS (another proxy) accepts us.
 */
export class TlsTransport extends StreamTransport {
  readonly connectEvent = 'secureConnect' as const;
  /** Inbound handshakes refused or broken (no or untrusted client certificate, bad TLS). */
  handshakeFailures: number;
  private readonly clientContext: tls.SecureContext;
  private readonly verifyServer: boolean;

  private constructor(host: TransportHost, server: tls.Server, spec: ListenSpec, family: 4 | 6, opts: TlsTransportOptions, clientContext: tls.SecureContext) {
    super('TLS', host, server, spec, family, opts);
    this.handshakeFailures = 0;
    this.clientContext = clientContext;
    this.verifyServer = opts.verifyServer ?? false;
    server.on('secureConnection', this.accept.bind(this));
    server.on('tlsClientError', this.onHandshakeError.bind(this));
  }

  static async open(host: TransportHost, spec: ListenSpec, opts: TlsTransportOptions): Promise<TlsTransport> {
    const verifyClient = opts.verifyClient ?? false;
    const minVersion = opts.minVersion ?? 'TLSv1.2';
    const secure = { cert: opts.certificate, key: opts.privateKey, ca: opts.ca, minVersion };
    // Throws here (bad PEM, key not matching the certificate) rather than at the first handshake.
    const clientContext = tls.createSecureContext(secure);
    const server = tls.createServer({
      ...secure,
      requestCert: verifyClient,
      rejectUnauthorized: verifyClient,
      // A client that connects and never finishes the handshake holds a slot of maxConnections.
      handshakeTimeout: opts.connectTimeout ?? 10_000,
      noDelay: true,
    });
    const family = await StreamTransport.bind(server, spec);
    return new TlsTransport(host, server, spec, family, opts, clientContext);
  }

  protected dial(address: string, port: number): net.Socket {
    // tls.connect hands the socket options (localAddress, family) to net.Socket#connect.
    const options: tls.ConnectionOptions & net.TcpSocketConnectOpts = {
      host: address,
      port,
      localAddress: this.bindAddress,
      family: this.family,
      secureContext: this.clientContext,
      rejectUnauthorized: this.verifyServer,
    };
    return tls.connect(options);
  }

  private onHandshakeError(err: Error, socket: tls.TLSSocket): void {
    this.handshakeFailures++;
    // Scanners and clients without the right certificate: one debug line each, not a warning.
    this.host.log.debug({ err: err.message, src: socket.remoteAddress, port: socket.remotePort, local: this.local }, 'tls handshake failed');
    socket.destroy();
  }
}
