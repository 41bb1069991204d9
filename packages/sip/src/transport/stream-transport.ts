import net from 'node:net';
import { SipTransportError } from './errors.js';
import { advertisedHost, isWildcard, sameAddress, stripBrackets } from './address.js';
import { StreamFramer } from './stream-framer.js';
import type { FrameSink } from './stream-framer.js';
import type { ListenSpec, MessageSource, Transport, TransportAddress, TransportHost } from './types.js';

/** Settings shared by the stream transports (TCP, TLS). */
export interface StreamTransportOptions {
  /** Close a connection after this long without traffic in either direction. Default 120 s. */
  idleTimeout?: number;
  /**
   * Give up connecting after this long (TLS: the handshake included, both directions).
   * Default 10 s (Timer B/F would fire at 32 s).
   */
  connectTimeout?: number;
  /** Refuse further inbound connections above this many. Default 8192. */
  maxConnections?: number;
  /** Destroy a connection whose unsent output exceeds this (peer not reading). Default 4 MB. */
  maxPendingWrite?: number;
}

export type StreamProtocol = 'TCP' | 'TLS';

const CRLF = Buffer.from('\r\n', 'latin1');

function peerKey(address: string, port: number): string {
  return `${address.toLowerCase()}|${port}`;
}

/**
 * One stream connection, inbound or outbound. It is the framer's sink, so frames flow without
 * per-message closures; its socket handlers are bound once per connection.
 */
class StreamConnection implements FrameSink {
  readonly id: number;
  readonly socket: net.Socket;
  readonly transport: StreamTransport;
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
  /** The one sent-by alias (RFC 5923 §5) this connection answers for, or null. */
  aliasKey: string | null;

  constructor(id: number, transport: StreamTransport, socket: net.Socket, outbound: boolean, address: string, port: number) {
    this.id = id;
    this.transport = transport;
    this.socket = socket;
    this.outbound = outbound;
    this.address = address;
    this.port = port;
    this.key = peerKey(address, port);
    // One source object per connection: every message on it shares it (read-only).
    this.source = { protocol: transport.protocol, address, port, local: transport.local, connectionId: id };
    this.framer = new StreamFramer(transport.host.maxMessageSize);
    // Inbound sockets are handed over connected (TLS: after the handshake).
    this.connected = !outbound;
    this.closed = false;
    this.failed = false;
    this.aliasKey = null;
    socket.setNoDelay(true);
    socket.on('data', this.onData.bind(this));
    socket.on('error', this.onError.bind(this));
    socket.on('close', this.onClose.bind(this));
    socket.on('timeout', this.onTimeout.bind(this));
    if (outbound) {
      socket.once(transport.connectEvent, this.onConnect.bind(this));
      socket.setTimeout(transport.connectTimeout);
    } else {
      socket.setTimeout(transport.idleTimeout);
    }
  }

  get usable(): boolean {
    return !(this.closed || this.failed || this.socket.writableEnded);
  }

  write(buf: Buffer): void {
    if (this.socket.writableLength > this.transport.maxPendingWrite) {
      this.fail(new SipTransportError('SIP_ERR_CONNECTION_OVERLOADED', `send buffer to ${this.address}:${this.port} full`));
      return;
    }
    // Before `connect` (TLS: `secureConnect`) the socket queues the write itself.
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
    this.transport.host.log.debug({ peer: this.key, connectionId: this.id, protocol: this.transport.protocol }, 'connection idle, closing');
    this.socket.destroy();
  }

  private onError(err: Error): void {
    this.fail(err);
  }

  /** A failure: reported to the sink (once), the connection dropped. */
  fail(err: Error): void {
    if (!this.failed) {
      this.failed = true;
      this.transport.host.log.debug({ err, peer: this.key, connectionId: this.id, protocol: this.transport.protocol }, 'connection failed');
      this.transport.host.sendFailed({ protocol: this.transport.protocol, address: this.address, port: this.port }, err);
    }
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.transport.forget(this);
  }
}

/**
 * SIP over a byte stream (RFC 3261 §18): messages framed by Content-Length, connections reused
 * in both directions (§18.2.2 responses on the request's connection; requests to a peer on any
 * open connection to it, or to the connection the peer aliased, RFC 5923), idle connections
 * closed, inbound connections bounded. TCP and TLS differ only in how sockets are made.
 */
export abstract class StreamTransport implements Transport {
  readonly protocol: StreamProtocol;
  readonly reliable = true;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  readonly host: TransportHost;
  readonly idleTimeout: number;
  readonly connectTimeout: number;
  readonly maxPendingWrite: number;
  /** The event of an outbound socket that means "ready for SIP" (`connect`, TLS `secureConnect`). */
  abstract readonly connectEvent: 'connect' | 'secureConnect';
  protected readonly server: net.Server;
  protected readonly family: 4 | 6;
  /** Local address for outgoing connections: the bound address unless it is a wildcard. */
  protected readonly bindAddress: string | undefined;
  private readonly byId: Map<number, StreamConnection>;
  private readonly byPeer: Map<string, StreamConnection>;
  private readonly byAlias: Map<string, StreamConnection>;
  private nextId: number;
  private closed: boolean;

  protected constructor(protocol: StreamProtocol, host: TransportHost, server: net.Server, spec: ListenSpec, family: 4 | 6, opts: StreamTransportOptions) {
    this.protocol = protocol;
    this.host = host;
    this.server = server;
    this.family = family;
    const addr = server.address() as net.AddressInfo;
    this.local = { protocol, address: addr.address, port: addr.port };
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
    this.byAlias = new Map();
    this.nextId = 1;
    this.closed = false;
    server.maxConnections = opts.maxConnections ?? 8192;
    server.on('error', (err) => host.log.error({ err, local: this.local }, `${protocol.toLowerCase()} server error`));
  }

  /** Binds `server` to the spec's address (exclusive, v6-only for IPv6). */
  protected static bind(server: net.Server, spec: ListenSpec): Promise<4 | 6> {
    if (!net.isIP(spec.address)) {
      return Promise.reject(new SipTransportError('SIP_ERR_BAD_DESTINATION', `listen address must be an IP: ${spec.address}`));
    }
    const family = net.isIPv6(spec.address) ? 6 : 4;
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        server.close();
        reject(err);
      };
      server.once('error', onError);
      server.listen({ host: spec.address, port: spec.port, ipv6Only: family === 6, exclusive: true }, () => {
        server.off('error', onError);
        resolve(family);
      });
    });
  }

  /** Opens an outbound socket to address:port (the subclass knows TCP vs TLS). */
  protected abstract dial(address: string, port: number): net.Socket;

  /** Open connections (inbound and outbound). */
  get connectionCount(): number {
    return this.byId.size;
  }

  /** The id of an open connection to address:port (or aliased to it), if any (tests, diagnostics). */
  connectionTo(address: string, port: number): number | null {
    const key = peerKey(stripBrackets(address), port);
    const c = this.byPeer.get(key) ?? this.byAlias.get(key);
    return c === undefined || c.closed ? null : c.id;
  }

  /** Closes one connection (e.g. a registrar dropping a flow). */
  closeConnection(id: number): void {
    this.byId.get(id)?.socket.destroy();
  }

  /**
   * RFC 5923 §5 (connection reuse), the cheap and safe subset: a request that arrived on
   * connection `connectionId` names in its Via sent-by the address:port where its sender
   * listens; later requests to that address:port reuse this connection instead of opening one
   * (a phone's Contact names its listening port, its connection comes from an ephemeral one).
   * Only a sent-by on the connection's own IP address is accepted, so a peer cannot divert
   * traffic meant for another host; one alias per connection, so the table stays bounded.
   */
  aliasConnection(connectionId: number, host: string, port: number): void {
    const conn = this.byId.get(connectionId);
    if (conn === undefined || !conn.usable || port === conn.port || !sameAddress(host, conn.address)) return;
    const key = peerKey(stripBrackets(host), port);
    if (conn.aliasKey === key) return;
    if (conn.aliasKey !== null && this.byAlias.get(conn.aliasKey) === conn) this.byAlias.delete(conn.aliasKey);
    conn.aliasKey = key;
    this.byAlias.set(key, conn);
  }

  send(buf: Buffer, address: string, port: number, connectionId?: number | null): void {
    const dest: TransportAddress = { protocol: this.protocol, address, port };
    if (this.closed) {
      this.host.sendFailed(dest, new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', `${this.protocol} transport closed`));
      return;
    }
    let conn: StreamConnection | undefined;
    // RFC 3261 §18.2.2: a response goes over the connection its request came on, if open.
    if (connectionId !== undefined && connectionId !== null) {
      conn = this.byId.get(connectionId);
      if (conn !== undefined && !conn.usable) conn = undefined;
    }
    // RFC 3261 §18.1.1: reuse any open connection to the peer (or one it aliased, RFC 5923); else open one.
    if (conn === undefined) {
      const key = peerKey(address, port);
      conn = this.byPeer.get(key);
      if (conn !== undefined && !conn.usable) conn = undefined;
      if (conn === undefined) {
        conn = this.byAlias.get(key);
        if (conn !== undefined && !conn.usable) conn = undefined;
      }
    }
    if (conn === undefined) {
      if (net.isIP(address) !== this.family || !(Number.isInteger(port) && port > 0 && port < 65536)) {
        this.host.sendFailed(dest, new SipTransportError('SIP_ERR_BAD_DESTINATION', `cannot connect from ${this.local.address} to ${address}:${port}`));
        return;
      }
      conn = this.track(this.dial(address, port), true, address, port);
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
  forget(conn: StreamConnection): void {
    this.byId.delete(conn.id);
    if (this.byPeer.get(conn.key) === conn) this.byPeer.delete(conn.key);
    if (conn.aliasKey !== null && this.byAlias.get(conn.aliasKey) === conn) this.byAlias.delete(conn.aliasKey);
  }

  /** An inbound socket ready for SIP (TCP: accepted; TLS: handshake done). */
  protected accept(socket: net.Socket): void {
    if (this.closed || socket.remoteAddress === undefined || socket.remotePort === undefined) {
      socket.destroy();
      return;
    }
    this.track(socket, false, socket.remoteAddress, socket.remotePort);
  }

  private track(socket: net.Socket, outbound: boolean, address: string, port: number): StreamConnection {
    const id = this.nextId++;
    const conn = new StreamConnection(id, this, socket, outbound, address, port);
    this.byId.set(id, conn);
    this.byPeer.set(conn.key, conn);
    return conn;
  }
}
