/**
 * SIP over UDP (RFC 3261 §18) on the udp_native addon: the same Transport as @voip/sip's
 * UdpTransport (one datagram is one message, IPv6 v6-only), with the socket's I/O out of
 * Node's dgram:
 *  - receiving: the addon's thread reads with recvmmsg and queues each datagram for the thread
 *    that owns it; that thread is woken once per batch and gets the batch as one Buffer;
 *  - sending: everything a turn of the event loop sends goes in one sendmmsg call, at the end of
 *    the current callback (a microtask), straight from the thread that built it.
 * Several threads of one process can share a socket (SharedUdpSocket): each attaches as one
 * worker of its receiver and sends on the socket itself, so the proxy's worker threads need no
 * hand-off thread (services/proxy/src/cluster).
 */
import net from 'node:net';
import { getSystemErrorName } from 'node:util';
import { SipTransportError, advertisedHost, type ListenSpec, type MessageSource, type Transport, type TransportAddress, type TransportHost } from '@voip/sip';
import { batchQueueWaitMs, forEachDatagram } from './batch.js';
import { loadError, native, type UdpNativeBinding } from './binding.js';

/** A socket and its receiver thread, shared by the threads of one process (plain data: it crosses postMessage). */
export interface SharedUdpSocket {
  fd: number;
  family: 4 | 6;
  receiver: number;
  workers: number;
  local: TransportAddress;
  advertised: { host: string; port: number };
}

export interface SharedUdpSocketOptions {
  /** Threads that attach to it; the receiver steers each datagram to one (udp_native.c `steer`). */
  workers: number;
  /** SO_RCVBUF (as root beyond net.core.rmem_max); OS default if unset. */
  recvBufferSize?: number;
  sendBufferSize?: number;
}

function binding(): UdpNativeBinding {
  if (native === null) throw new SipTransportError('SIP_ERR_TRANSPORT_UNSUPPORTED', `native UDP I/O: ${loadError ?? 'unavailable'}`);
  return native;
}

/** Binds spec's address and starts its receiver thread; the caller closes it with closeSharedUdpSocket. */
export function openSharedUdpSocket(spec: ListenSpec, opts: SharedUdpSocketOptions): SharedUdpSocket {
  const n = binding();
  const family = net.isIPv6(spec.address) ? 6 : 4;
  if (!net.isIP(spec.address)) throw new SipTransportError('SIP_ERR_BAD_DESTINATION', `listen address must be an IP: ${spec.address}`);
  const [fd, port] = n.open(spec.address, spec.port, family, opts.recvBufferSize ?? 0, opts.sendBufferSize ?? 0);
  let receiver: number;
  try {
    // Each thread's queue holds at most what the socket buffer would: a stalled thread sheds
    // load as a full socket does (and the overload guard sees the drops), not by queueing.
    receiver = n.startReceiver(fd, opts.workers, opts.recvBufferSize ?? 4 * 1024 * 1024);
  } catch (err) {
    n.close(fd);
    throw err;
  }
  return {
    fd,
    family,
    receiver,
    workers: opts.workers,
    local: { protocol: 'UDP', address: spec.address, port },
    advertised: { host: advertisedHost(spec.advertise?.host ?? spec.address, family), port: spec.advertise?.port ?? port },
  };
}

/** Stops the receiver thread and closes the socket (after every thread has detached). */
export function closeSharedUdpSocket(s: SharedUdpSocket): void {
  const n = binding();
  n.stopReceiver(s.receiver);
  n.close(s.fd);
}

/**
 * Datagrams handled per turn of the event loop. A backlog (a GC pause, a burst) is worked off in
 * slices with the loop's timers and other sockets in between: one drain of everything queued
 * ran thousands of messages in one turn, and the overload guard took the long turn for overload.
 */
const DATAGRAMS_PER_TURN = 128;

export class NativeUdpTransport implements Transport {
  readonly protocol = 'UDP' as const;
  readonly reliable = false;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  private readonly n: UdpNativeBinding;
  private closed = false;
  // Sends of the current callback, flushed together in one sendmmsg (reused: send is synchronous).
  private readonly outBuffers: Buffer[] = [];
  private readonly outAddresses: string[] = [];
  private readonly outPorts: number[] = [];
  private outErrors = new Int32Array(64);
  private flushScheduled = false;
  /** Queue waits of the batches drained since takeQueueWaitMs() (each: its oldest datagram's). */
  private queueWaitSum = 0;
  private queueWaitBatches = 0;
  private readonly flushBound: () => void;
  private readonly onReadableBound: () => void;
  private readonly deliverBound: (datagram: Buffer, address: string, port: number) => void;

  /**
   * Attaches this thread as `worker` of the socket's receiver. `owner`: close() also stops the
   * receiver and closes the socket (one event loop on its own socket: `open`).
   */
  constructor(
    private readonly host: TransportHost,
    private readonly socket: SharedUdpSocket,
    private readonly worker: number,
    private readonly owner = false,
  ) {
    this.n = binding();
    this.local = socket.local;
    this.advertised = socket.advertised;
    this.flushBound = this.flush.bind(this);
    this.onReadableBound = this.onReadable.bind(this);
    this.deliverBound = this.deliver.bind(this);
    this.n.attach(socket.receiver, worker, this.onReadableBound);
  }

  /** One event loop on its own socket (receiver thread with one worker: this thread). */
  static open(host: TransportHost, spec: ListenSpec, opts: Omit<SharedUdpSocketOptions, 'workers'> = {}): Promise<NativeUdpTransport> {
    try {
      const socket = openSharedUdpSocket(spec, { ...opts, workers: 1 });
      try {
        return Promise.resolve(new NativeUdpTransport(host, socket, 0, true));
      } catch (err) {
        closeSharedUdpSocket(socket);
        throw err;
      }
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Datagrams for this socket its receiver dropped so far (a thread's queue was full). */
  get droppedDatagrams(): number {
    return this.n.stats(this.socket.receiver)?.[1] ?? 0;
  }

  /**
   * How long datagrams waited between the socket and this thread since the previous call: the
   * mean over the drained batches of their oldest datagram's wait (ms). The receiver thread
   * reads the socket whatever this thread's load, so a backlog shows here rather than in the
   * kernel's drop counter: the overload guard reads it. A mean, not the maximum: one GC pause
   * delays one batch; a backlog delays them all.
   */
  takeQueueWaitMs(): number {
    const ms = this.queueWaitBatches === 0 ? 0 : this.queueWaitSum / this.queueWaitBatches;
    this.queueWaitSum = 0;
    this.queueWaitBatches = 0;
    return ms;
  }

  /** Effective SO_RCVBUF (Linux reports twice the requested size). */
  get recvBufferSize(): number {
    return this.n.socketBuffers(this.socket.fd)[0];
  }

  send(buf: Buffer, address: string, port: number): void {
    if (this.closed) {
      this.host.sendFailed({ protocol: 'UDP', address, port }, new SipTransportError('SIP_ERR_TRANSPORT_CLOSED', 'UDP transport closed'));
      return;
    }
    // Only IP literals reach a transport (names are resolved above it); a ':' tells the family.
    if ((address.includes(':') ? 6 : 4) !== this.socket.family || !(port > 0 && port < 65536 && Number.isInteger(port))) {
      this.host.sendFailed(
        { protocol: 'UDP', address, port },
        new SipTransportError('SIP_ERR_BAD_DESTINATION', `cannot send from ${this.local.address} to ${address}:${port}`),
      );
      return;
    }
    this.outBuffers.push(buf);
    this.outAddresses.push(address);
    this.outPorts.push(port);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flushBound);
    }
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.flush();
    this.closed = true;
    this.n.detach(this.socket.receiver, this.worker);
    if (this.owner) closeSharedUdpSocket(this.socket);
    return Promise.resolve();
  }

  private flush(): void {
    this.flushScheduled = false;
    const count = this.outBuffers.length;
    if (count === 0 || this.closed) return;
    const { outBuffers: buffers, outAddresses: addresses, outPorts: ports } = this;
    if (this.outErrors.length < count) this.outErrors = new Int32Array(count * 2);
    const errors = this.outErrors;
    // host.sendFailed reports on a later tick: nothing re-enters send() before the arrays are cleared.
    if (this.n.send(this.socket.fd, this.socket.family, buffers, addresses, ports, count, errors) > 0) {
      for (let i = 0; i < count; i++) {
        const errno = errors[i]!;
        if (errno === 0) continue;
        const code = getSystemErrorName(-errno);
        const err = Object.assign(new Error(`send ${code} ${addresses[i]}:${ports[i]}`), { code, errno: -errno, address: addresses[i], port: ports[i] });
        this.host.sendFailed({ protocol: 'UDP', address: addresses[i]!, port: ports[i]! }, err);
      }
    }
    buffers.length = 0;
    addresses.length = 0;
    ports.length = 0;
  }

  private onReadable(): void {
    if (this.closed) return;
    const batch = this.n.drain(this.socket.receiver, this.worker, DATAGRAMS_PER_TURN);
    if (batch === undefined) return;
    this.queueWaitSum += batchQueueWaitMs(batch);
    this.queueWaitBatches++;
    // More queued: the receiver will not signal again until we have drained them all.
    if (forEachDatagram(batch, this.deliverBound) > 0) setImmediate(this.onReadableBound);
  }

  private deliver(datagram: Buffer, address: string, port: number): void {
    // TransportLayer.receive logs and counts whatever throws below it: nothing escapes into the
    // addon's callback.
    const source: MessageSource = { protocol: 'UDP', address, port, local: this.local, connectionId: null };
    this.host.receive(datagram, source);
  }
}

/** The largest `takeQueueWaitMs()` over the native UDP transports among `transports`. */
export function nativeQueueWaitMs(transports: readonly unknown[]): number {
  let max = 0;
  for (const t of transports) if (t instanceof NativeUdpTransport) max = Math.max(max, t.takeQueueWaitMs());
  return max;
}

/** Sum of `droppedDatagrams` over the native UDP transports among `transports`. */
export function nativeQueueDrops(transports: readonly unknown[]): number {
  let sum = 0;
  for (const t of transports) if (t instanceof NativeUdpTransport) sum += t.droppedDatagrams;
  return sum;
}
