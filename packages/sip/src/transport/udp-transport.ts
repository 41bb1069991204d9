import dgram from 'node:dgram';
import net from 'node:net';
import { SipTransportError } from './errors.js';
import { advertisedHost } from './address.js';
import type { ListenSpec, MessageSource, Transport, TransportAddress, TransportHost } from './types.js';

export interface UdpTransportOptions {
  /** SO_RCVBUF in bytes (e.g. 4 MB so bursts survive a busy event loop). OS default if unset. */
  recvBufferSize?: number;
  /** SO_SNDBUF in bytes. OS default if unset. */
  sendBufferSize?: number;
  /**
   * SO_REUSEPORT: several sockets (e.g. one per worker thread) bind the same address and port
   * and the kernel spreads incoming datagrams over them by a hash of the peer's address and
   * port; each sends from the same port. Linux only (Node >= 22.12).
   */
  reusePort?: boolean;
}

/**
 * SIP over UDP (RFC 3261 §18): one datagram is one message. IPv6 sockets are bound
 * v6-only so every source address is reported in its own family.
 */
/**
 * dgram lookup for IP literals only (send() checks net.isIP before calling the socket, so a ':'
 * tells the family: net.isIPv6's regular expression on every IPv4 send showed in profiles).
 */
function literalLookup(address: string, family: unknown, callback: (err: Error | null, address: string, family: number) => void): void {
  void family;
  callback(null, address, address.includes(':') ? 6 : 4);
}

export class UdpTransport implements Transport {
  readonly protocol = 'UDP' as const;
  readonly reliable = false;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  private readonly host: TransportHost;
  private readonly socket: dgram.Socket;
  private readonly family: 4 | 6;
  private closed: boolean;
  /** Bound once: datagram and send-completion handlers carry no per-packet closure. */
  private readonly onMessageBound: (buf: Buffer, rinfo: dgram.RemoteInfo) => void;
  private readonly afterSendBound: (err: Error | null) => void;

  private constructor(host: TransportHost, socket: dgram.Socket, spec: ListenSpec, family: 4 | 6) {
    this.host = host;
    this.socket = socket;
    this.family = family;
    const addr = socket.address();
    this.local = { protocol: 'UDP', address: addr.address, port: addr.port };
    this.advertised = {
      host: advertisedHost(spec.advertise?.host ?? addr.address, family),
      port: spec.advertise?.port ?? addr.port,
    };
    this.closed = false;
    this.onMessageBound = this.onMessage.bind(this);
    this.afterSendBound = this.afterSend.bind(this);
    socket.on('message', this.onMessageBound);
    socket.on('error', (err) => host.log.error({ err, local: this.local }, 'udp socket error'));
  }

  static open(host: TransportHost, spec: ListenSpec, opts: UdpTransportOptions = {}): Promise<UdpTransport> {
    const family = net.isIPv6(spec.address) ? 6 : 4;
    if (!net.isIP(spec.address)) {
      return Promise.reject(new SipTransportError('SIP_ERR_BAD_DESTINATION', `listen address must be an IP: ${spec.address}`));
    }
    const socket = dgram.createSocket({
      type: family === 6 ? 'udp6' : 'udp4',
      ipv6Only: family === 6,
      // We only ever send to IP literals (names are resolved above the transport): answer the
      // socket's lookup synchronously instead of through dns.lookup's process.nextTick, which
      // cost a deferred callback and a closure per datagram on the send path.
      lookup: literalLookup,
      recvBufferSize: opts.recvBufferSize,
      sendBufferSize: opts.sendBufferSize,
      ...(opts.reusePort === true ? { reusePort: true } : {}),
    });
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        socket.close();
        reject(err);
      };
      socket.once('error', onError);
      socket.bind({ address: spec.address, port: spec.port, exclusive: true }, () => {
        socket.off('error', onError);
        resolve(new UdpTransport(host, socket, spec, family));
      });
    });
  }

  /** Effective SO_RCVBUF (Linux reports twice the requested size). */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  send(buf: Buffer, address: string, port: number): void {
    if (this.closed) {
      this.host.sendFailed({ protocol: 'UDP', address, port }, new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'UDP transport closed'));
      return;
    }
    const fam = net.isIP(address);
    if (fam !== this.family || !(port > 0 && port < 65536 && Number.isInteger(port))) {
      this.host.sendFailed(
        { protocol: 'UDP', address, port },
        new SipTransportError('SIP_ERR_BAD_DESTINATION', `cannot send from ${this.local.address} to ${address}:${port}`),
      );
      return;
    }
    this.socket.send(buf, port, address, this.afterSendBound);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const source: MessageSource = {
      protocol: 'UDP',
      address: rinfo.address,
      port: rinfo.port,
      local: this.local,
      connectionId: null,
    };
    this.host.receive(buf, source);
  }

  private afterSend(err: Error | null): void {
    if (err === null) return;
    // Node attaches the destination to send errors (ExceptionWithHostPort).
    const e = err as Error & { address?: string; port?: number };
    this.host.sendFailed({ protocol: 'UDP', address: e.address ?? '', port: e.port ?? 0 }, err);
  }
}
