// Hands out RTP/RTCP port pairs (RTP even, RTCP = RTP + 1: RFC 3550 §11) from each media
// worker's slice of the configured range. Freed pairs go to the back of a FIFO so a port
// is reused as late as possible: stray packets of a finished call then hit a closed port
// instead of a new call.
import type { WorkerSlice } from './relay-worker-pool.js';

class PortRing {
  private readonly ring: Int32Array;
  private head: number;
  private count: number;

  constructor(slice: WorkerSlice) {
    const n = (slice.lastPort - slice.firstPort) / 2 + 1;
    this.ring = new Int32Array(n);
    for (let i = 0; i < n; i++) this.ring[i] = slice.firstPort + 2 * i;
    this.head = 0;
    this.count = n;
  }

  get free(): number {
    return this.count;
  }

  get capacity(): number {
    return this.ring.length;
  }

  take(): number | null {
    if (this.count === 0) return null;
    const p = this.ring[this.head];
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    return p;
  }

  give(port: number): void {
    if (this.count === this.ring.length) throw new RangeError(`port ${port} released twice`);
    this.ring[(this.head + this.count) % this.ring.length] = port;
    this.count++;
  }
}

export class PortAllocator {
  private readonly slices: readonly WorkerSlice[];
  private readonly rings: PortRing[];

  constructor(slices: readonly WorkerSlice[]) {
    this.slices = slices;
    this.rings = slices.map((s) => new PortRing(s));
  }

  get workers(): number {
    return this.rings.length;
  }

  /** The worker with the most free pairs: new calls spread over the cores. */
  leastLoadedWorker(): number {
    let best = 0;
    for (let i = 1; i < this.rings.length; i++) if (this.rings[i].free > this.rings[best].free) best = i;
    return best;
  }

  free(worker: number): number {
    return this.rings[worker].free;
  }

  totalFree(): number {
    let n = 0;
    for (const r of this.rings) n += r.free;
    return n;
  }

  totalPairs(): number {
    let n = 0;
    for (const r of this.rings) n += r.capacity;
    return n;
  }

  /** An even RTP port of `worker`'s slice, or null when that slice is exhausted. */
  allocate(worker: number): number | null {
    return this.rings[worker].take();
  }

  release(worker: number, port: number): void {
    const s = this.slices[worker];
    if (port < s.firstPort || port > s.lastPort || (port - s.firstPort) % 2 !== 0) {
      throw new RangeError(`port ${port} does not belong to worker ${worker}`);
    }
    this.rings[worker].give(port);
  }
}
