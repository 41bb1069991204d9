/**
 * Entry point of one proxy worker thread (config `workers` > 1). It runs the whole proxy stack
 * (transactions, routing, registrar, location) on RemoteTransports: the main thread reads the
 * sockets and hands it the messages it owns (cluster/dispatch.ts), and writes what it sends.
 * With `workerModel: reuseport` it binds its own SO_REUSEPORT UDP sockets instead, receives and
 * sends on them, and passes a message the kernel gave it but another worker owns (dispatch.ts:
 * the Call-ID's worker, or the worker tag of our branch in a response's top Via) straight to
 * that worker. Registrations made here are replicated to the other workers through the main
 * thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { UdpTransport, type MessageSource, type Transport, type TransportAddress, type TransportHost } from '@voip/sip';
import { NativeUdpTransport } from '@voip/udp-native';
import type { ProxyConfig } from '../config.js';
import { setBranchWorker } from '../core/branch.js';
import type { Binding } from '../modules/location/binding.js';
import { startProxy, type AdminReloadKind } from '../server.js';
import { warmUp } from '../warm-up.js';
import { BatchPort } from './batch-port.js';
import { ownerOf } from './dispatch.js';
import { PortAccountingSink, type AccCommand } from './port-accounting-sink.js';
import { RemoteTransport, type SendCommand, type SocketDescriptor } from './remote-transport.js';

export interface WorkerData {
  config: ProxyConfig;
  index: number;
  count: number;
  sockets: SocketDescriptor[];
  /** The main thread owns the accounting journal. */
  journalInMain: boolean;
  /** workerModel reuseport: bind our own sockets on the descriptors' addresses. */
  ownSockets: boolean;
  /** reuseport: the channel to each other worker (null at our own index, and in dispatch mode). */
  peers: (MessagePort | null)[];
}

/** Worker -> worker (reuseport): a datagram the kernel delivered to a worker that does not own it. */
type PeerMessage = { t: 'recv'; i: number; b: Uint8Array; a: string; p: number };

/** Main -> worker messages. */
export type ToWorker =
  | { t: 'recv'; i: number; b: Uint8Array; a: string; p: number; c: number | null }
  | { t: 'loc'; op: 'upsert' | 'delete'; b: Binding }
  | { t: 'sendFailed'; dest: TransportAddress; err: string }
  /** Another worker's admin API reloaded a table: reload our copy. */
  | { t: 'reload'; what: AdminReloadKind }
  | { t: 'streamError'; i: number; status: number; reason: string; head: Uint8Array | null; a: string; p: number; c: number | null }
  | { t: 'stop' };

/** Worker -> main messages besides SendCommand and AccCommand. */
export type FromWorker =
  | { t: 'ready'; admin: string | null }
  | { t: 'loc'; op: 'upsert' | 'delete'; b: Binding }
  /** Our admin API reloaded a table: every other worker must too. */
  | { t: 'reload'; what: AdminReloadKind }
  | { t: 'stopped' }
  | { t: 'failed'; error: string };

const port = parentPort!;
const data = workerData as WorkerData;
// Everything to the main thread travels in per-turn batches (one wake-up for many messages);
// control messages flush the batch first so order is kept.
const out = new BatchPort<FromWorker | SendCommand | AccCommand>(port);
function control(m: FromWorker): void {
  out.flush();
  port.postMessage([m]);
}
setBranchWorker(data.index);
const logger = pino({ level: data.config.logLevel, base: { service: 'sip-proxy', worker: data.index } });

// Only worker 0 serves the admin API (its location is complete: registrations are replicated).
const config: ProxyConfig = { ...data.config, admin: data.index === 0 ? data.config.admin : { listen: '' } };
let host: TransportHost | null = null;
const sockets = new Map<number, Transport>();

function bytes(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

function sourceOf(i: number, address: string, p: number, c: number | null): MessageSource {
  const t = sockets.get(i)!;
  return { protocol: t.protocol, address, port: p, local: t.local, connectionId: c };
}

/** reuseport: our own sockets, bound before the proxy starts; they deliver through `steer`. */
async function openOwnSockets(): Promise<Transport[]> {
  const peers = data.peers.map((p) => (p === null ? null : new BatchPort<PeerMessage>(p)));
  for (const p of data.peers) {
    p?.on('message', (batch: PeerMessage[]) => {
      for (const m of batch) if (host !== null) host.receive(bytes(m.b), sourceOf(m.i, m.a, m.p, null));
    });
  }
  const indexOf = new Map<string, number>();
  const steer: TransportHost = {
    log: logger,
    maxMessageSize: config.maxMessageSize,
    receive(buf: Buffer, source: MessageSource): void {
      // Before the proxy is up nothing can take it: dropped, as a full socket buffer would (UDP
      // retransmissions recover it).
      if (host === null) return;
      const k = ownerOf(buf, data.count);
      if (k === data.index) {
        host.receive(buf, source);
        return;
      }
      const i = indexOf.get(`${source.local.address}|${source.local.port}`);
      const peer = peers[k];
      if (i !== undefined && peer) peer.post({ t: 'recv', i, b: buf, a: source.address, p: source.port });
    },
    streamError(status, reason, head, source): void {
      host?.streamError(status, reason, head, source);
    },
    sendFailed(dest, err): void {
      host?.sendFailed(dest, err);
    },
  };
  const own: Transport[] = [];
  try {
    for (const d of data.sockets) {
      const t = await UdpTransport.open(
        steer,
        { protocol: 'UDP', address: d.local.address, port: d.local.port, advertise: d.advertised },
        { recvBufferSize: config.udpReceiveBufferSize, reusePort: true },
      );
      indexOf.set(`${t.local.address}|${t.local.port}`, d.index);
      sockets.set(d.index, t);
      own.push(t);
    }
  } catch (err) {
    for (const t of own) await t.close();
    throw err;
  }
  return own;
}

try {
  // JIT warm-up before this worker takes traffic (warm-up.ts).
  await warmUp(config, config.warmUpCalls);
  const own = data.ownSockets ? await openOwnSockets() : null;
  const proxy = await startProxy(config, logger, {
    transports: (h) => {
      host = h;
      if (own !== null) return own;
      return data.sockets.map((d) => {
        // udpIo native: read (through the receiver's queue for this worker) and write the
        // shared socket ourselves; else the main thread does both for us.
        const t = d.shared !== undefined ? new NativeUdpTransport(h, d.shared, data.index) : new RemoteTransport(d, out);
        sockets.set(d.index, t);
        return t;
      });
    },
    ...(data.journalInMain ? { accounting: new PortAccountingSink(out) } : {}),
    onAdminReload: (what) => control({ t: 'reload', what }),
  });
  proxy.location.setReplicator({
    onUpsert: (b) => out.post({ t: 'loc', op: 'upsert', b }),
    onDelete: (b) => out.post({ t: 'loc', op: 'delete', b }),
  });
  port.on('message', (batch: ToWorker[]) => {
    for (const m of batch) handle(m);
  });
  const handle = (m: ToWorker): void => {
    switch (m.t) {
      case 'recv':
        host!.receive(bytes(m.b), sourceOf(m.i, m.a, m.p, m.c));
        break;
      case 'loc':
        proxy.location.applyReplicated(m.op, m.b);
        break;
      case 'reload':
        proxy.reload(m.what).then(
          (n) => {
            if (n < 0) logger.warn({ what: m.what }, 'replicated reload failed; the previous table stays in force');
          },
          (err: unknown) => logger.error({ err, what: m.what }, 'replicated reload failed'),
        );
        break;
      case 'sendFailed':
        host!.sendFailed(m.dest, new Error(m.err));
        break;
      case 'streamError':
        host!.streamError(m.status, m.reason, m.head === null ? null : bytes(m.head), sourceOf(m.i, m.a, m.p, m.c));
        break;
      case 'stop':
        proxy.close().then(
          () => {
            for (const p of data.peers) p?.close();
            control({ t: 'stopped' });
            port.close();
          },
          (err: unknown) => logger.error({ err }, 'error while stopping'),
        );
        break;
    }
  };
  control({ t: 'ready', admin: proxy.adminUrl });
} catch (err) {
  logger.fatal({ err }, 'worker failed to start');
  control({ t: 'failed', error: (err as Error).message });
  port.close();
}
