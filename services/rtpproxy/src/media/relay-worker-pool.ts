// Control-thread side of the media workers: starts one worker per core, each owning a
// contiguous slice of the port range, and turns open/close/target into messages.
import { Worker } from 'node:worker_threads';
import { COUNTER_FIELDS, type AddressFamily, type Destination, type FromWorker, type ToWorker, type WorkerInit } from './relay-protocol.js';

export interface LatchEvent {
  readonly worker: number;
  readonly gen: number;
  readonly port: number;
  readonly rtcp: boolean;
  readonly address: string;
  readonly srcPort: number;
}

export interface WorkerSlice {
  readonly firstPort: number;
  readonly lastPort: number;
}

export type OpenResult = { ok: true } | { ok: false; code: string; message: string };

interface Pending {
  resolve(r: OpenResult): void;
}

export interface MediaWorkers {
  readonly slices: readonly WorkerSlice[];
  open(worker: number, gen: number, port: number, ip: string, family: AddressFamily): Promise<OpenResult>;
  close(worker: number, port: number): void;
  target(
    worker: number,
    port: number,
    rtp: Destination | null,
    rtcp: Destination | null,
    latch: boolean,
    partnerPort: number,
    ice: { ufrag: string; pwd: string } | null,
    retarget: boolean,
  ): void;
  /** Shared counters of one worker, indexed by slot * COUNTER_FIELDS. */
  counters(worker: number): Float64Array;
  onLatched: ((e: LatchEvent) => void) | null;
  stop(): Promise<void>;
}

/** Splits [min, max] into `n` contiguous slices of whole even/odd port pairs. */
export function splitPortRange(min: number, max: number, n: number): WorkerSlice[] {
  const first = min % 2 === 0 ? min : min + 1;
  const last = max % 2 === 1 ? max - 1 : max - 2; // last RTP port whose RTCP port fits
  const pairs = Math.floor((last - first) / 2) + 1;
  if (pairs < n) throw new RangeError(`port range ${min}-${max} has ${pairs} pairs, fewer than ${n} workers`);
  const out: WorkerSlice[] = [];
  let start = first;
  for (let i = 0; i < n; i++) {
    const count = Math.floor(pairs / n) + (i < pairs % n ? 1 : 0);
    out.push({ firstPort: start, lastPort: start + (count - 1) * 2 });
    start += count * 2;
  }
  return out;
}

export class RelayWorkerPool implements MediaWorkers {
  readonly slices: readonly WorkerSlice[];
  private readonly workers: Worker[];
  private readonly shared: Float64Array[];
  private readonly pending: Map<number, Pending>;
  private nextId: number;
  onLatched: ((e: LatchEvent) => void) | null;

  private constructor(slices: WorkerSlice[], workers: Worker[], shared: Float64Array[]) {
    this.slices = slices;
    this.workers = workers;
    this.shared = shared;
    this.pending = new Map();
    this.nextId = 1;
    this.onLatched = null;
  }

  static async start(min: number, max: number, count: number, recvBufferSize: number): Promise<RelayWorkerPool> {
    const slices = splitPortRange(min, max, count);
    const workers: Worker[] = [];
    const shared: Float64Array[] = [];
    const ready: Promise<void>[] = [];
    for (const s of slices) {
      const slots = (s.lastPort - s.firstPort) / 2 + 1;
      const sab = new SharedArrayBuffer(slots * COUNTER_FIELDS * Float64Array.BYTES_PER_ELEMENT);
      const init: WorkerInit = { firstPort: s.firstPort, lastPort: s.lastPort, counters: sab, recvBufferSize };
      const w = new Worker(new URL('./relay-worker.js', import.meta.url), { workerData: init });
      workers.push(w);
      shared.push(new Float64Array(sab));
      ready.push(
        new Promise((resolve, reject) => {
          const onMsg = (m: FromWorker): void => {
            if (m.op === 'ready') {
              w.off('message', onMsg);
              w.off('error', reject);
              resolve();
            }
          };
          w.on('message', onMsg);
          w.once('error', reject);
        }),
      );
    }
    await Promise.all(ready);
    const pool = new RelayWorkerPool(slices, workers, shared);
    workers.forEach((w, i) => {
      w.on('message', (m: FromWorker) => pool.onMessage(i, m));
      w.on('error', (e) => pool.onWorkerError(e));
    });
    return pool;
  }

  private onMessage(worker: number, m: FromWorker): void {
    if (m.op === 'opened') {
      const p = this.pending.get(m.id);
      if (p === undefined) return;
      this.pending.delete(m.id);
      p.resolve(m.ok ? { ok: true } : { ok: false, code: m.code, message: m.message });
    } else if (m.op === 'latched') {
      this.onLatched?.({ worker, gen: m.gen, port: m.port, rtcp: m.rtcp, address: m.address, srcPort: m.srcPort });
    }
  }

  private onWorkerError(e: Error): void {
    // A media worker must never die silently: fail fast and let the supervisor restart us.
    process.emitWarning(`rtp-relay media worker failed: ${e.message}`);
    process.exitCode = 70;
    process.kill(process.pid, 'SIGTERM');
  }

  private send(worker: number, m: ToWorker): void {
    this.workers[worker].postMessage(m);
  }

  open(worker: number, gen: number, port: number, ip: string, family: AddressFamily): Promise<OpenResult> {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { resolve });
      this.send(worker, { op: 'open', id, gen, port, ip, family });
    });
  }

  close(worker: number, port: number): void {
    this.send(worker, { op: 'close', port });
  }

  target(
    worker: number,
    port: number,
    rtp: Destination | null,
    rtcp: Destination | null,
    latch: boolean,
    partnerPort: number,
    ice: { ufrag: string; pwd: string } | null,
    retarget: boolean,
  ): void {
    this.send(worker, { op: 'target', port, rtp, rtcp, latch, partnerPort, ice, retarget });
  }

  counters(worker: number): Float64Array {
    return this.shared[worker];
  }

  async stop(): Promise<void> {
    for (const w of this.workers) w.postMessage({ op: 'stop' } satisfies ToWorker);
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const p of this.pending.values()) p.resolve({ ok: false, code: 'ESTOPPED', message: 'relay stopping' });
    this.pending.clear();
  }
}
