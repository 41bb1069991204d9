import net from 'node:net';
import { SipTransportError } from './errors.js';
import { advertisedHost, isWildcard } from './address.js';
import { StreamFramer } from './stream-framer.js';
import type { FrameSink } from './stream-framer.js';
import type { ListenSpec, MessageSource, Transport, TransportAddress, TransportHost } from './types.js';

export interface TcpTransportOptions {
  /** Close a connection after this long without traffic in either direction. Default 120 s. */
  idleTimeout?: number;
  /** Give up connecting after this long. Default 10 s (Timer B/F would fire at 32 s). */
  connectTimeout?: number;
  /** Refuse further inbound connections above this many. Default 8192. */
  maxConnections?: number;
  /** Destroy a connection whose unsent output exceeds this (peer not reading). Default 4 MB. */
  maxPendingWrite?: number;
}

const CRLF = Buffer.from('\r\n', 'latin1');

function peerKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}

/**
 * One TCP connection, inbound or outbound. It is the framer's sink, so frames flow without
 * per-message closures; its socket handlers are bound once per connection.
 */
class TcpConnection implements FrameSink {
  readonly id: number;
  readonly socket: net.Socket;
  readonly transport: TcpTransport;
  readonly outbound: boolean;
  readonly address: string;
  readonly port: number;
  readonly key: string;
  readonly source: MessageSource;
  readonly framer: StreamFramer;
  connected: boolean;
  closed: boolean;
  /** Set once the connection failed, so the failure is reported once. */
  failed: boolean;

  constructor(id: number, transport: TcpTransport, socket: net.Socket, outbound: boolean, address: string, port: number) {
    this.id = id;
    this.transport = transport;
    this.socket = socket;
    this.outbound = outbound;
    this.address = address;
    this.port = port;
    this.key = peerKey(address, port);
    // One source object per connection: every message on it shares it (read-only).
    this.source = { protocol: 'TCP', address, port, local: transport.local, connectionId: id };
    this.framer = new StreamFramer(transport.host.maxMessageSize);
    this.connected = !outbound;
    this.closed = false;
    this.failed = false;
    socket.setNoDelay(true);
    socket.on('data', this.onData.bind(this));
    socket.on('error', this.onError.bind(this));
    socket.on('close', this.onClose.bind(this));
    socket.on('timeout', this.onTimeout.bind(this));
    if (outbound) {
      socket.once('connect', this.onConnect.bind(this));
      socket.setTimeout(transport.connectTimeout);
    } else {
      socket.setTimeout(transport.idleTimeout);
    }
  }

  write(buf: Buffer): void {
    if (this.socket.writableLength > this.transport.maxPendingWrite) {
      this.fail(new SipTransportError('SIP_ERR_CONNECTION_OVERLOADED', `send buffer to ${this.address}:${this.port} full`));
      return;
    }
    this.socket.write(buf);
  }

  onFrame(frame: Buffer): void {
    this.transport.host.receive(frame, this.source);
  }

  onKeepalive(): void {
    // RFC 5626 §3.5.1: a double-CRLF ping is answered with a single-CRLF pong.
    if (!this.closed) this.socket.write(CRLF);
  }

  onFrameError(status: number, reason: string, head: Buffer | null): void {
    // Answer if we can (the layer above writes the response on this connection), then close:
    // once framing is lost nothing further on the stream can be trusted.
    this.transport.host.streamError(status, reason, head, this.source);
    this.socket.end();
  }

  private onData(chunk: Buffer): void {
    this.framer.push(chunk, this);
  }

  private onConnect(): void {
    this.connected = true;
    this.socket.setTimeout(this.transport.idleTimeout);
  }

  private onTimeout(): void {
    if (!this.connected) {
      this.fail(Object.assign(new Error(`connect to ${this.address}:${this.port} timed out`), { code: 'ETIMEDOUT' }));
      return;
    }
    this.transport.host.log.debug({ peer: this.key, connectionId: this.id }, 'tcp connection idle, closing');
    this.socket.destroy();
  }

  private onError(err: Error): void {
    this.fail(err);
  }

  /** A failure: reported to the sink (once), the connection dropped. */
  fail(err: Error): void {
    if (!this.failed) {
      this.failed = true;
      this.transport.host.log.debug({ err, peer: this.key, connectionId: this.id }, 'tcp connection failed');
      this.transport.host.sendFailed({ protocol: 'TCP', address: this.address, port: this.port }, err);
    }
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.transport.forget(this);
  }
}

/**
 * SIP over TCP (RFC 3261 §18): messages framed by Content-Length, connections reused in both
 * directions (§18.2.2 responses on the request's connection; requests to a peer on any open
 * connection to it), idle connections closed.
 */
export class TcpTransport implements Transport {
  readonly protocol = 'TCP' as const;
  readonly reliable = true;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  readonly host: TransportHost;
  readonly idleTimeout: number;
  readonly connectTimeout: number;
  readonly maxPendingWrite: number;
  private readonly server: net.Server;
  private readonly family: 4 | 6;
  /** Local address for outgoing connections: the bound address unless it is a wildcard. */
  private readonly bindAddress: string | undefined;
  private readonly byId: Map<number, TcpConnection>;
  private readonly byPeer: Map<string, TcpConnection>;
  private nextId: number;
  private closed: boolean;

  private constructor(host: TransportHost, server: net.Server, spec: ListenSpec, family: 4 | 6, opts: TcpTransportOptions) {
    this.host = host;
    this.server = server;
    this.family = family;
    const addr = server.address() as net.AddressInfo;
    this.local = { protocol: 'TCP', address: addr.address, port: addr.port };
    this.advertised = {
      host: advertisedHost(spec.advertise?.host ?? addr.address, family),
      port: spec.advertise?.port ?? addr.port,
    };
    this.idleTimeout = opts.idleTimeout ?? 120_000;
    this.connectTimeout = opts.connectTimeout ?? 10_000;
    this.maxPendingWrite = opts.maxPendingWrite ?? 4 * 1024 * 1024;
    this.bindAddress = isWildcard(addr.address) ? undefined : addr.address;
    this.byId = new Map();
    this.byPeer = new Map();
    this.nextId = 1;
    this.closed = false;
    server.maxConnections = opts.maxConnections ?? 8192;
    server.on('connection', this.onConnection.bind(this));
    server.on('error', (err) => host.log.error({ err, local: this.local }, 'tcp server error'));
  }

  static open(host: TransportHost, spec: ListenSpec, opts: TcpTransportOptions = {}): Promise<TcpTransport> {
    if (!net.isIP(spec.address)) {
      return Promise.reject(new SipTransportError('SIP_ERR_BAD_DESTINATION', `listen address must be an IP: ${spec.address}`));
    }
    const family = net.isIPv6(spec.address) ? 6 : 4;
    const server = net.createServer({ noDelay: true });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: spec.address, port: spec.port, ipv6Only: family === 6, exclusive: true }, () => {
        server.off('error', onError);
        resolve(new TcpTransport(host, server, spec, family, opts));
      });
    });
  }

  /** Open connections (inbound and outbound). */
  get connectionCount(): number {
    return this.byId.size;
  }

  /** The id of an open connection to address:port, if any (tests, diagnostics). */
  connectionTo(address: string, port: number): number | null {
    const c = this.byPeer.get(peerKey(address, port));
    return c === undefined || c.closed ? null : c.id;
  }

  /** Closes one connection (e.g. a registrar dropping a flow). */
  closeConnection(id: number): void {
    this.byId.get(id)?.socket.destroy();
  }

  send(buf: Buffer, address: string, port: number, connectionId?: number | null): void {
    const dest: TransportAddress = { protocol: 'TCP', address, port };
    if (this.closed) {
      this.host.sendFailed(dest, new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'TCP transport closed'));
      return;
    }
    let conn: TcpConnection | undefined;
    // RFC 3261 §18.2.2: a response goes over the connection its request came on, if open.
    if (connectionId !== undefined && connectionId !== null) {
      conn = this.byId.get(connectionId);
      if (conn !== undefined && (conn.closed || conn.failed || conn.socket.writableEnded)) conn = undefined;
    }
    // RFC 3261 §18.1.1: reuse any open connection to the peer; else open one.
    if (conn === undefined) {
      conn = this.byPeer.get(peerKey(address, port));
      if (conn !== undefined && (conn.closed || conn.failed || conn.socket.writableEnded)) conn = undefined;
    }
    if (conn === undefined) {
      if (net.isIP(address) !== this.family || !(Number.isInteger(port) && port > 0 && port < 65536)) {
        this.host.sendFailed(dest, new SipTransportError('SIP_ERR_BAD_DESTINATION', `cannot connect from ${this.local.address} to ${address}:${port}`));
        return;
      }
      conn = this.connect(address, port);
    }
    conn.write(buf);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const c of this.byId.values()) c.socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Called by a connection when its socket closed. */
  forget(conn: TcpConnection): void {
    this.byId.delete(conn.id);
    if (this.byPeer.get(conn.key) === conn) this.byPeer.delete(conn.key);
  }

  private connect(address: string, port: number): TcpConnection {
    const socket = net.connect({ host: address, port, localAddress: this.bindAddress, family: this.family });
    return this.track(socket, true, address, port);
  }

  private onConnection(socket: net.Socket): void {
    if (this.closed || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.destroy();
      return;
    }
    this.track(socket, false, socket.remoteAddress, socket.remotePort);
  }

  private track(socket: net.Socket, outbound: boolean, address: string, port: number): TcpConnection {
    const id = this.nextId++;
    const conn = new TcpConnection(id, this, socket, outbound, address, port);
    this.byId.set(id, conn);
    this.byPeer.set(conn.key, conn);
    return conn;
  }
}
