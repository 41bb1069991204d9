/**
 * The main thread of a multi-worker proxy (config `workers` > 1, "use both cores"): it owns the
 * sockets and nothing else of SIP. Each received datagram or TCP frame is handed, unparsed, to
 * the worker that owns it (dispatch.ts); workers' sends are written on the socket they name, so
 * responses leave from the port the request came to. Registrations a worker makes are passed to
 * every other worker; with an accounting journal, this thread is its one writer.
 *
 * Sharing one socket between processes would deliver a call's messages to arbitrary processes:
 * steering by Call-ID / branch keeps every transaction in one thread. That costs a thread hop per
 * message in each direction (≈ 23 extra syscalls and 8 context switches per call at 500 calls/s,
 * bench/README.md). `workerModel: reuseport` (Node >= 22.12, Linux) gives every worker its own
 * SO_REUSEPORT socket on the same address instead: a worker receives and sends itself and hops
 * only what the kernel's peer-address hash delivered to a worker that does not own it.
 *
 * A worker that dies takes its transactions with it; the proxy then stops with a non-zero exit
 * so its supervisor restarts it whole (registrations survive in MySQL modes).
 */
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { randomBytes } from 'node:crypto';
import { JournalAccountingSink, type AccountingSink } from '@voip/acc';
import { TcpTransport, TlsTransport, UdpTransport, type Logger, type TlsCredentials, type MessageSource, type Transport, type TransportAddress, type TransportHost } from '@voip/sip';
import type { ProxyConfig } from '../config.js';
import { loadTlsCredentials } from '../tls-credentials.js';
import { nativeUdp } from '../udp-io.js';
import { closeSharedUdpSocket, openSharedUdpSocket, type SharedUdpSocket } from '@voip/udp-native';
import { BatchPort } from './batch-port.js';
import { ownerOf } from './dispatch.js';
import type { AccCommand } from './port-accounting-sink.js';
import type { SendCommand, SocketDescriptor } from './remote-transport.js';
import type { FromWorker, ToWorker, WorkerData } from './worker-thread.js';
import { proxyThreadResourceLimits } from './young-generation.js';

export interface RunningWorkers {
  readonly listening: string[];
  readonly adminUrl: string | null;
  /** Resolves when the proxy must stop because a worker died (with its error). */
  readonly failed: Promise<Error>;
  close(): Promise<void>;
}

function localKey(a: TransportAddress): string {
  return `${a.protocol}|${a.address}|${a.port}`;
}

function isShared(t: Transport | SharedUdpSocket): t is SharedUdpSocket {
  return 'receiver' in t;
}

async function closeSockets(sockets: readonly (Transport | SharedUdpSocket)[]): Promise<void> {
  for (const t of sockets) {
    if (isShared(t)) closeSharedUdpSocket(t);
    else await t.close();
  }
}

export async function runWorkers(config: ProxyConfig, logger: Logger): Promise<RunningWorkers> {
  const log = logger.child({ layer: 'proxy.cluster' });
  const count = config.workers;
  // workerModel reuseport: each worker binds its own SO_REUSEPORT socket per listen address. Our
  // sockets here then only reserve the addresses (and learn the ports of port-0 binds) until the
  // workers are up, dispatching like the other model whatever reaches them meanwhile. Stream
  // transports cannot be shared between threads, so a listen list with TCP/TLS dispatches.
  // udpIo native: UDP sockets are opened here but read by their receiver thread, which steers
  // each datagram to its worker, and written by the workers themselves: no hop through this
  // thread for UDP, whatever workerModel says (it still governs TCP/TLS).
  const shareUdp = nativeUdp(config, logger);
  const ownSockets = !shareUdp && config.workerModel === 'reuseport' && config.listen.every((l) => l.protocol === 'UDP');
  if (config.workerModel === 'reuseport' && !ownSockets && !shareUdp) {
    log.warn({}, 'workerModel reuseport needs a UDP-only listen list: the main thread dispatches instead');
  }
  const workers: Worker[] = [];
  // One entry per listen address: a Transport this thread reads, or a shared native socket.
  const sockets: (Transport | SharedUdpSocket)[] = [];
  const socketIndex = new Map<string, number>();

  // Hand-offs to each worker go in per-turn batches: one thread wake-up for many messages.
  const batches: BatchPort<ToWorker>[] = [];
  const post = (k: number, m: ToWorker): void => batches[k]?.post(m);
  const host: TransportHost = {
    log,
    maxMessageSize: config.maxMessageSize,
    receive(buf: Buffer, source: MessageSource): void {
      const i = socketIndex.get(localKey(source.local));
      if (i === undefined) return;
      post(ownerOf(buf, count), { t: 'recv', i, b: buf, a: source.address, p: source.port, c: source.connectionId });
    },
    streamError(status: number, reason: string, head: Buffer | null, source: MessageSource): void {
      const i = socketIndex.get(localKey(source.local));
      if (i === undefined) return;
      const owner = head === null ? 0 : ownerOf(head, count);
      post(owner, { t: 'streamError', i, status, reason, head, a: source.address, p: source.port, c: source.connectionId });
    },
    sendFailed(dest: TransportAddress, err: Error): void {
      // Any worker may have sent to it: each fails its own client transactions to `dest`.
      for (let k = 0; k < workers.length; k++) post(k, { t: 'sendFailed', dest, err: err.message });
    },
  };

  let tls: TlsCredentials | undefined;
  try {
    for (const l of config.listen) {
      const spec = { protocol: l.protocol, address: l.address, port: l.port };
      if (l.protocol === 'UDP' && shareUdp) {
        sockets.push(openSharedUdpSocket(spec, { workers: count, recvBufferSize: config.udpReceiveBufferSize }));
        continue;
      }
      const t = l.protocol === 'UDP'
        ? await UdpTransport.open(host, spec, { recvBufferSize: config.udpReceiveBufferSize, reusePort: ownSockets })
        : l.protocol === 'TLS'
          ? await TlsTransport.open(host, spec, tls ??= await loadTlsCredentials(config, logger))
          : await TcpTransport.open(host, spec, {});
      socketIndex.set(localKey(t.local), sockets.length);
      sockets.push(t);
    }
  } catch (err) {
    await closeSockets(sockets);
    throw err;
  }

  const journal: AccountingSink | null = config.accounting.journal
    ? await JournalAccountingSink.open({ path: config.accounting.journal, fsync: config.accounting.fsync, logger: logger.child({ layer: 'acc.journal' }) })
    : null;
  // Every worker must accept the others' nonces (a REGISTER's challenge and its answer may meet
  // different workers only across calls, but the secret must be one).
  const auth = config.db.url && config.auth.nonceSecret === undefined ? { ...config.auth, nonceSecret: randomBytes(32).toString('hex') } : config.auth;
  const descriptors: SocketDescriptor[] = sockets.map((t, index) =>
    isShared(t)
      ? { index, protocol: 'UDP', local: t.local, advertised: t.advertised, reliable: false, shared: t }
      : { index, protocol: t.protocol, local: t.local, advertised: t.advertised, reliable: t.reliable },
  );

  let failWith: (e: Error) => void = () => {};
  const failed = new Promise<Error>((resolve) => (failWith = resolve));
  let stopping = false;
  let adminUrl: string | null = null;
  const ready: Promise<void>[] = [];
  // reuseport: a direct channel between every two workers, for messages the kernel delivered to
  // a worker that does not own them (one hop, not two through this thread).
  const peers: (MessagePort | null)[][] = [];
  for (let k = 0; k < count; k++) peers.push(new Array<MessagePort | null>(count).fill(null));
  if (ownSockets) {
    for (let j = 0; j < count; j++) {
      for (let k = j + 1; k < count; k++) {
        const ch = new MessageChannel();
        peers[j]![k] = ch.port1;
        peers[k]![j] = ch.port2;
      }
    }
  }

  for (let k = 0; k < count; k++) {
    const myPeers = peers[k]!;
    const data: WorkerData = { config: { ...config, auth }, index: k, count, sockets: descriptors, journalInMain: journal !== null, ownSockets, peers: myPeers };
    const w = new Worker(new URL('./worker-thread.js', import.meta.url), {
      workerData: data,
      transferList: myPeers.filter((p): p is MessagePort => p !== null),
      resourceLimits: proxyThreadResourceLimits(config.workerYoungGenerationMb),
    });
    workers.push(w);
    batches.push(new BatchPort<ToWorker>(w));
    ready.push(
      new Promise<void>((resolve, reject) => {
        const handle = (m: FromWorker | SendCommand | AccCommand): void => {
          switch (m.t) {
            case 'send': {
              const t = sockets[m.i];
              if (t !== undefined && !isShared(t)) t.send(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength), m.a, m.p, m.c);
              break;
            }
            case 'loc':
              for (let j = 0; j < workers.length; j++) if (j !== k) post(j, m);
              break;
            case 'reload':
              // An admin reload (worker 0 serves the admin API): each worker holds its own tables.
              for (let j = 0; j < workers.length; j++) if (j !== k) post(j, m);
              break;
            case 'acc':
              journal?.write(m.r);
              break;
            case 'ready':
              if (k === 0) adminUrl = m.admin;
              resolve();
              break;
            case 'failed':
              reject(new Error(`worker ${k}: ${m.error}`));
              break;
            case 'stopped':
              break;
          }
        };
        w.on('message', (batch: (FromWorker | SendCommand | AccCommand)[]) => {
          for (const m of batch) handle(m);
        });
        w.on('error', (err) => {
          log.error({ err, worker: k }, 'worker thread crashed');
          reject(err);
          if (!stopping) failWith(err);
        });
        w.on('exit', (code) => {
          if (!stopping) {
            const err = new Error(`worker ${k} exited with code ${code}`);
            reject(err);
            failWith(err);
          }
        });
      }),
    );
  }

  const close = async (): Promise<void> => {
    stopping = true;
    await Promise.all(
      workers.map(
        (w, k) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 5_000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            post(k, { t: 'stop' });
            batches[k]!.flush();
          }),
      ),
    );
    // Every worker has detached from the shared sockets by now (or is gone).
    await closeSockets(sockets);
    if (journal) await journal.close();
  };

  try {
    await Promise.all(ready);
  } catch (err) {
    await close();
    throw err;
  }
  if (ownSockets) {
    // Every worker listens now: leave the reuseport groups so the kernel spreads over them only.
    for (const t of sockets) if (!isShared(t)) await t.close();
  }
  const listening = sockets.map((t) => `${t.local.protocol.toLowerCase()}:${t.local.address.includes(':') ? `[${t.local.address}]` : t.local.address}:${t.local.port}`);
  log.info({ workers: count, listening, udpIo: shareUdp ? 'native' : 'dgram' }, 'worker threads ready');
  return { listening, adminUrl, failed, close };
}
