/**
 * Loads build/udp_native.node (scripts/build.mjs) and types it. `native` is null when the addon
 * is not built or cannot load here (no C compiler at install time, not Linux): callers fall back
 * to Node's dgram and say why (`loadError`).
 */
import { createRequire } from 'node:module';

export interface UdpNativeBinding {
  /** Binds a non-blocking UDP socket (IPv6: v6-only); returns [fd, bound port]. */
  open(address: string, port: number, family: 4 | 6, recvBufferSize: number, sendBufferSize: number): [number, number];
  close(fd: number): void;
  /** [SO_RCVBUF, SO_SNDBUF] as the kernel reports them (Linux: twice what was asked). */
  socketBuffers(fd: number): [number, number];
  /**
   * Sends `count` datagrams (buffers[i] to addresses[i]:ports[i]) with sendmmsg; errors[i] is 0
   * or the errno of datagram i. Returns how many failed.
   */
  send(fd: number, family: 4 | 6, buffers: Buffer[], addresses: string[], ports: number[], count: number, errors: Int32Array): number;
  /**
   * Starts the thread that reads `fd` and steers each datagram to one of `workers` queues, each
   * holding at most `queueBytes` (beyond: dropped and counted).
   */
  startReceiver(fd: number, workers: number, queueBytes: number): number;
  /** Stops and joins that thread (the socket stays open). */
  stopReceiver(id: number): void;
  /** From the worker's own thread: queue its datagrams and call `onReadable` there when some wait. */
  attach(id: number, worker: number, onReadable: () => void): void;
  detach(id: number, worker: number): void;
  /**
   * The next `max` (at most) datagrams queued for `worker` as one batch (batch.ts decodes it), or
   * undefined. While datagrams stay queued the receiver does not signal again: drain on.
   */
  drain(id: number, worker: number, max: number): Buffer | undefined;
  /** [datagrams queued, datagrams dropped (queue full or worker not attached), read errors]. */
  stats(id: number): [number, number, number] | undefined;
  /** The receiver's steering of one datagram (tests compare it with dispatch.ts). */
  steer(datagram: Buffer, workers: number): number;
}

function load(): { native: UdpNativeBinding | null; loadError: string | null } {
  if (process.platform !== 'linux') return { native: null, loadError: `not available on ${process.platform}` };
  try {
    const require = createRequire(import.meta.url);
    return { native: require('../build/udp_native.node') as UdpNativeBinding, loadError: null };
  } catch (err) {
    return { native: null, loadError: `not built (${(err as Error).message.split('\n')[0]}): run npm run build with a C compiler` };
  }
}

const loaded = load();
export const native: UdpNativeBinding | null = loaded.native;
export const loadError: string | null = loaded.loadError;
