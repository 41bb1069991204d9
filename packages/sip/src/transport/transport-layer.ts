import { isRequest, parseMessage } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { silentLogger } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { defaultPort, formatHost, ipFamily, sameAddress, stripBrackets } from './address.js';
import { SipTransportError } from './errors.js';
import { TcpTransport } from './tcp-transport.js';
import { TlsTransport } from './tls-transport.js';
import type { TlsCredentials } from './tls-transport.js';
import { UdpTransport, type UdpTransportOptions } from './udp-transport.js';
import type {
  ListenSpec,
  MessageSource,
  Transport,
  TransportAddress,
  TransportHost,
  TransportProtocol,
  TransportSink,
} from './types.js';

export interface TransportLayerOptions {
  /** Largest message accepted (bytes); larger ones are answered 513 (RFC 3261 §18.1.1). */
  maxMessageSize: number;
  logger?: Logger;
  /** SO_RCVBUF of UDP sockets (e.g. 4 MB). */
  udpRecvBufferSize?: number;
  /** SO_SNDBUF of UDP sockets. */
  udpSendBufferSize?: number;
  /**
   * Opens UDP listeners instead of the dgram-based UdpTransport (e.g. the proxy's recvmmsg/
   * sendmmsg transport from @voip/udp-native, which this package must not depend on).
   */
  udpTransport?: (host: TransportHost, spec: ListenSpec, opts: UdpTransportOptions) => Promise<Transport>;
  /** TCP: close connections idle this long (ms). Default 120 s. */
  tcpIdleTimeout?: number;
  /** TCP: connect timeout (ms). Default 10 s. */
  tcpConnectTimeout?: number;
  /** TCP: maximum inbound connections per listener. Default 8192. */
  tcpMaxConnections?: number;
  /**
   * Certificate, key and verification policy of TLS listeners (required to listen on TLS).
   * TLS connections share the tcp* idle/connect/maximum settings.
   */
  tls?: TlsCredentials;
}

/** Where and how a response is sent (RFC 3261 §18.2.2, RFC 3581 §4). */
export interface ResponseRoute {
  transport: Transport;
  address: string;
  port: number;
  /** Stream transports: the connection the request came on (tried first). */
  connectionId: number | null;
}

/** Counters for metrics. */
export interface TransportStats {
  received: number;
  /** Datagrams/frames that failed to parse (answered or dropped above). */
  parseErrors: number;
  /** RFC 5626 keepalives seen (UDP CRLF datagrams, TCP double-CRLF pings). */
  keepalives: number;
  sendErrors: number;
  /** Messages that threw inside the receive path (logged, never propagated). */
  internalErrors: number;
}

const MAX_CALLID_SCAN = 4096;
// Anchored, bounded, no nested quantifiers (STYLE.md 12): a Call-ID for logging only.
const CALL_ID_RE = /^(?:call-id|i)[ \t]{0,16}:[ \t]{0,16}([^\r\n]{1,128})/im;

/** The Call-ID of raw bytes, best effort, for logs of messages that did not parse. */
export function sniffCallId(buf: Buffer): string | undefined {
  const m = CALL_ID_RE.exec(buf.toString('latin1', 0, Math.min(buf.length, MAX_CALLID_SCAN)));
  return m === null ? undefined : m[1]!.trim();
}

function callIdOf(msg: SipRequest | SipResponse | null): string | undefined {
  if (msg === null) return undefined;
  try {
    return msg.headers.get('call-id');
  } catch {
    return undefined;
  }
}

/** A datagram of only CR/LF: an RFC 5626 §4.4.1-style keepalive on UDP, ignored. */
function isCrlfOnly(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    if (b !== 0x0d && b !== 0x0a) return false;
  }
  return true;
}

function reportFailure(layer: TransportLayer, dest: TransportAddress, err: Error): void {
  layer.deliverTransportError(dest, err);
}

/**
 * Owns the listening transports, turns bytes into messages for the one sink above, and
 * implements the transport-layer rules of RFC 3261 §18 and RFC 3581 for both directions.
 */
export class TransportLayer {
  readonly transports: Transport[];
  readonly stats: TransportStats;
  readonly maxMessageSize: number;
  private readonly log: Logger;
  private readonly opts: TransportLayerOptions;
  /**
   * What transports deliver into. Transports built outside this layer (a future TLS or
   * WebSocket transport, test fakes) take it and are added with `attach`.
   */
  readonly host: TransportHost;
  private sink: TransportSink | null;
  /** protocol|address|port of `local` → transport, for responses on the receiving socket. */
  private readonly byLocal: Map<string, Transport>;

  constructor(opts: TransportLayerOptions) {
    if (!(opts.maxMessageSize > 0)) throw new RangeError('maxMessageSize must be > 0');
    this.opts = opts;
    this.maxMessageSize = opts.maxMessageSize;
    this.log = (opts.logger ?? silentLogger).child({ layer: 'sip.transport' });
    this.transports = [];
    this.stats = { received: 0, parseErrors: 0, keepalives: 0, sendErrors: 0, internalErrors: 0 };
    this.sink = null;
    this.byLocal = new Map();
    // The host the concrete transports call: bound methods of this layer, built once.
    this.host = {
      log: this.log,
      maxMessageSize: this.maxMessageSize,
      receive: this.receive.bind(this),
      streamError: this.streamError.bind(this),
      sendFailed: this.sendFailed.bind(this),
    };
  }

  setSink(sink: TransportSink): void {
    this.sink = sink;
  }

  /** Binds a listener. Port 0 picks an ephemeral port (see `transport.local.port`). */
  async listen(spec: ListenSpec): Promise<Transport> {
    let t: Transport;
    switch (spec.protocol) {
      case 'UDP': {
        const opts: UdpTransportOptions = { recvBufferSize: this.opts.udpRecvBufferSize, sendBufferSize: this.opts.udpSendBufferSize };
        t = await (this.opts.udpTransport ?? UdpTransport.open)(this.host, spec, opts);
        break;
      }
      case 'TCP':
        t = await TcpTransport.open(this.host, spec, {
          idleTimeout: this.opts.tcpIdleTimeout,
          connectTimeout: this.opts.tcpConnectTimeout,
          maxConnections: this.opts.tcpMaxConnections,
        });
        break;
      case 'TLS':
        if (this.opts.tls === undefined) {
          throw new SipTransportError('SIP_ERR_TLS_CREDENTIALS', 'TLS listener without certificate and private key');
        }
        t = await TlsTransport.open(this.host, spec, {
          ...this.opts.tls,
          idleTimeout: this.opts.tcpIdleTimeout,
          connectTimeout: this.opts.tcpConnectTimeout,
          maxConnections: this.opts.tcpMaxConnections,
        });
        break;
      default:
        // TODO(RFC 7118): WebSocket transports plug in here.
        throw new SipTransportError('SIP_ERR_TRANSPORT_UNSUPPORTED', `transport ${spec.protocol} not implemented`);
    }
    this.attach(t);
    this.log.info({ local: t.local, advertised: t.advertised }, 'listening');
    return t;
  }

  /** Adds a transport built on `this.host` (TLS/WS implementations, test fakes). */
  attach(t: Transport): void {
    this.transports.push(t);
    this.byLocal.set(localKey(t.local), t);
  }

  /**
   * The transport `send` uses for `dest`: `preferred` if it fits (same protocol and address
   * family), else the first listener of that protocol and family; null if none.
   */
  select(dest: TransportAddress, preferred?: Transport | null): Transport | null {
    const fam = ipFamily(dest.address);
    if (preferred !== undefined && preferred !== null && preferred.protocol === dest.protocol && ipFamily(preferred.local.address) === fam) {
      return preferred;
    }
    for (const t of this.transports) {
      if (t.protocol === dest.protocol && ipFamily(t.local.address) === fam) return t;
    }
    return null;
  }

  /**
   * Sends `buf` to `dest` on `via` (when given and it fits) or the transport `select` picks.
   * Never throws; failures reach the sink's `onTransportError` asynchronously.
   */
  send(buf: Buffer, dest: TransportAddress, via?: Transport | null, connectionId?: number | null): void {
    const t = this.select(dest, via);
    if (t === null) {
      this.sendFailed(dest, new SipTransportError('SIP_ERR_NO_TRANSPORT', `no ${dest.protocol} transport for ${dest.address}`));
      return;
    }
    t.send(buf, stripBrackets(dest.address), dest.port, connectionId);
  }

  /**
   * RFC 3261 §18.2.2 + RFC 3581 §4: where a response goes.
   * - Reliable transport: the connection the request came on, if still open; else a new
   *   connection to `received` (or sent-by host) at the sent-by port.
   * - maddr: to maddr at the sent-by port (default 5060).
   * - Unreliable, `received` present: to `received`, port `rport` if it has a value, else
   *   the sent-by port (default 5060).
   * - Else to the sent-by host and port (must be an IP here; names need RFC 3263 §5).
   * Sent from the socket the request arrived on when known (symmetric response routing).
   * Returns null (and logs) when no route exists.
   */
  responseRoute(res: SipResponse, source?: MessageSource | null): ResponseRoute | null {
    const via = res.topVia;
    const protocol = via.transport.toUpperCase() as TransportProtocol;
    const sentByPort = via.port ?? defaultPort(protocol);
    let address: string;
    let port: number;
    let connectionId: number | null = null;
    const received = via.received;
    const rport = via.rport;
    if (protocol !== 'UDP') {
      connectionId = source?.connectionId ?? null;
      address = received ?? via.host;
      port = sentByPort;
    } else if (via.maddr !== null) {
      // TODO(RFC 3261 §18.2.2): multicast maddr should be sent with the Via "ttl" (default 1).
      address = via.maddr;
      port = sentByPort;
    } else if (received !== null) {
      address = received;
      port = typeof rport === 'number' ? rport : sentByPort;
    } else {
      address = via.host;
      port = typeof rport === 'number' ? rport : sentByPort;
    }
    address = stripBrackets(address);
    // Reliable with the request's connection known: that connection is the route (§18.2.2),
    // whatever the Via says (WebSocket clients even put ".invalid" names there, RFC 7118).
    if (connectionId !== null && source !== undefined && source !== null) {
      const t = this.byLocal.get(localKey(source.local));
      if (t !== undefined && t.protocol === protocol) return { transport: t, address, port, connectionId };
    }
    if (ipFamily(address) === 0) {
      // TODO(RFC 3261 §18.2.2 / RFC 3263 §5): resolve a sent-by host name.
      this.log.warn({ callId: callIdOf(res), address }, 'response destination is not an IP address; dropped');
      return null;
    }
    let transport: Transport | null = null;
    if (source !== undefined && source !== null) {
      const t = this.byLocal.get(localKey(source.local));
      if (t !== undefined && t.protocol === protocol && ipFamily(t.local.address) === ipFamily(address)) transport = t;
    }
    if (transport === null) transport = this.select({ protocol, address, port });
    if (transport === null && source !== undefined && source !== null) {
      // The Via names a transport we do not run (e.g. "SIP/2.0/TLS" on a request that arrived
      // over UDP, RFC 4475 bext01): answer over the transport the request used, to its received
      // address and sent-by (or rport) port, rather than leave the sender without an answer.
      const t = this.byLocal.get(localKey(source.local));
      if (t !== undefined && ipFamily(t.local.address) === ipFamily(address)) {
        const fallbackPort = typeof rport === 'number' ? rport : (via.port ?? defaultPort(t.protocol));
        return { transport: t, address, port: fallbackPort, connectionId: source.connectionId };
      }
    }
    if (transport === null) {
      this.log.warn({ callId: callIdOf(res), protocol, address }, 'no transport for response; dropped');
      return null;
    }
    return { transport, address, port, connectionId };
  }

  /** Sends a response per `responseRoute`. */
  sendResponse(res: SipResponse, source?: MessageSource | null): void {
    const route = this.responseRoute(res, source);
    if (route !== null) this.sendResponseBuffer(res.toBuffer(), route);
  }

  /** Sends an already serialized response on a computed route (transaction retransmissions). */
  sendResponseBuffer(buf: Buffer, route: ResponseRoute): void {
    route.transport.send(buf, route.address, route.port, route.connectionId);
  }

  /**
   * Via value for requests we originate or forward on `transport`, e.g.
   * 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK...;rport' (RFC 3261 §18.1.1, RFC 3581 §3).
   */
  viaFor(transport: Transport, branch: string): string {
    const a = transport.advertised;
    return `SIP/2.0/${transport.protocol} ${formatHost(a.host)}:${a.port};branch=${branch};rport`;
  }

  async close(): Promise<void> {
    const all = this.transports.splice(0);
    this.byLocal.clear();
    await Promise.all(all.map((t) => t.close()));
  }

  /** Delivers a send failure to the sink (called on a later tick). @internal */
  deliverTransportError(dest: TransportAddress, err: Error): void {
    const sink = this.sink;
    if (sink === null || sink.onTransportError === undefined) return;
    try {
      sink.onTransportError(dest, err);
    } catch (e) {
      this.stats.internalErrors++;
      this.log.error({ err: e, dest }, 'transport error handler threw');
    }
  }

  private sendFailed(dest: TransportAddress, err: Error): void {
    this.stats.sendErrors++;
    this.log.debug({ err, dest }, 'send failed');
    // Never re-enter the caller of send(): report on the next tick (no closure: args passed).
    process.nextTick(reportFailure, this, dest, err);
  }

  /**
   * The receive path: parse, stamp received/rport, deliver. Nothing thrown here escapes to
   * the socket: every failure is logged with the Call-ID when one can be read.
   */
  private receive(buf: Buffer, source: MessageSource): void {
    let message: SipRequest | SipResponse | null = null;
    try {
      if (isCrlfOnly(buf)) {
        // RFC 5626 §4.4.1 / RFC 3261 §7.5: CRLF keepalives on UDP carry nothing; ignore.
        this.stats.keepalives++;
        return;
      }
      this.stats.received++;
      const sink = this.sink;
      const r = parseMessage(buf, { maxSize: this.maxMessageSize });
      if (!r.ok) {
        this.stats.parseErrors++;
        this.log.debug(
          { callId: callIdOf(r.message) ?? sniffCallId(buf), src: source.address, port: source.port, status: r.error.status, reason: r.error.reason },
          'unparsable message',
        );
        if (sink !== null) sink.onParseError(r.error, r.message, source);
        return;
      }
      message = r.message;
      if (isRequest(message)) {
        stampReceived(message, source);
        if (source.connectionId !== null) this.aliasConnection(message, source, source.connectionId);
      }
      if (sink === null) {
        this.log.warn({ callId: callIdOf(message) }, 'no sink; message dropped');
        return;
      }
      sink.onMessage({ message, source });
    } catch (err) {
      this.stats.internalErrors++;
      this.log.error(
        { err, callId: callIdOf(message) ?? sniffCallId(buf), src: source.address, port: source.port, protocol: source.protocol },
        'error processing received message',
      );
    }
  }

  /**
   * RFC 5923 §5: the connection a request arrived on also serves its Via sent-by, so requests
   * to the sender's listening address (its Contact) reuse it. The transport decides what it
   * accepts (StreamTransport.aliasConnection: same IP only).
   */
  private aliasConnection(req: SipRequest, source: MessageSource, connectionId: number): void {
    const t = this.byLocal.get(localKey(source.local));
    if (t === undefined || t.aliasConnection === undefined) return;
    const via = req.topVia;
    t.aliasConnection(connectionId, via.host, via.port ?? defaultPort(t.protocol));
  }

  /** A stream lost framing: try to read enough of the head to answer, then report. */
  private streamError(status: number, reason: string, head: Buffer | null, source: MessageSource): void {
    this.stats.parseErrors++;
    let partial: SipRequest | SipResponse | null = null;
    try {
      if (head !== null) {
        // The head has no (usable) body; parse the header lines alone for a best-effort message.
        const r = parseMessage(Buffer.concat([stripContentLength(head), CRLF_END]), { maxSize: head.length + 64 });
        partial = r.message;
      }
      this.log.warn({ callId: callIdOf(partial) ?? (head === null ? undefined : sniffCallId(head)), src: source.address, port: source.port, status, reason }, 'stream framing error; closing connection');
      if (this.sink !== null) this.sink.onParseError({ status, reason }, partial, source);
    } catch (err) {
      this.stats.internalErrors++;
      this.log.error({ err, src: source.address, port: source.port }, 'error handling stream framing error');
    }
  }
}

const CRLF_END = Buffer.from('\r\n', 'latin1');

/**
 * The header lines of a frame we refuse, with Content-Length lines removed, so the parser
 * does not expect a body we will never read.
 */
function stripContentLength(head: Buffer): Buffer {
  const s = head.toString('latin1');
  let end = s.length;
  // Drop a trailing blank line: we add exactly one.
  while (end > 0 && (s.charCodeAt(end - 1) === 0x0a || s.charCodeAt(end - 1) === 0x0d)) end--;
  const lines = s.slice(0, end).split(/\r?\n/);
  const kept = lines.filter((l, i) => i === 0 || !/^(?:content-length|l)[ \t]*:/i.test(l));
  return Buffer.from(kept.join('\r\n') + '\r\n', 'latin1');
}

function localKey(a: TransportAddress): string {
  return `${a.protocol}|${a.address.toLowerCase()}|${a.port}`;
}

/**
 * RFC 3261 §18.2.1: if the sent-by host of the top Via is a name or an address other than
 * the packet source, add "received" with the source address.
 * RFC 3581 §4: if the top Via has "rport" without a value, set it to the source port and
 * add "received" even when it equals sent-by.
 */
export function stampReceived(req: SipRequest, source: MessageSource): void {
  const via = req.topVia;
  const rport = via.rport;
  const wantsRport = rport === true;
  if (!wantsRport && sameAddress(via.host, source.address)) return;
  if (wantsRport) via.params.set('rport', String(source.port));
  via.params.set('received', source.address);
  // Write the top Via value back (only it loses its original spelling).
  req.replaceTopVia(via);
}
