// Media worker thread entry point. Each worker owns a disjoint slice of the port range
// and every socket bound in it; all legs of one call live in the same worker, so a packet
// is received and re-sent by one thread with no cross-thread hand-off.
import { parentPort, workerData } from 'node:worker_threads';
import { COUNTER_FIELDS, type FromWorker, type ToWorker, type WorkerInit } from './relay-protocol.js';
import { RelaySocket, type LatchListener } from './relay-socket.js';

class RelayWorker implements LatchListener {
  private readonly init: WorkerInit;
  private readonly counters: Float64Array;
  /** Legs by slot ((port - firstPort) / 2). */
  private readonly legs: (RelaySocket | null)[];

  constructor(init: WorkerInit) {
    this.init = init;
    this.counters = new Float64Array(init.counters);
    const slots = (init.lastPort - init.firstPort) / 2 + 1;
    if (this.counters.length < slots * COUNTER_FIELDS) throw new RangeError('counter buffer too small');
    this.legs = new Array<RelaySocket | null>(slots).fill(null);
  }

  private slot(port: number): number {
    if (port < this.init.firstPort || port > this.init.lastPort || (port - this.init.firstPort) % 2 !== 0) return -1;
    return (port - this.init.firstPort) / 2;
  }

  handle(msg: ToWorker): void {
    switch (msg.op) {
      case 'open':
        void this.open(msg.id, msg.gen, msg.port, msg.ip, msg.family);
        return;
      case 'close': {
        const s = this.slot(msg.port);
        if (s < 0) return;
        this.legs[s]?.close();
        this.legs[s] = null;
        return;
      }
      case 'target': {
        const s = this.slot(msg.port);
        const leg = s < 0 ? null : this.legs[s];
        if (leg === null) return;
        if (msg.retarget) {
          leg.retarget(msg.rtp?.address ?? '', msg.rtp?.port ?? 0, msg.rtcp?.address ?? '', msg.rtcp?.port ?? 0, msg.latch);
        } else {
          leg.latch = msg.latch;
        }
        leg.iceUfrag = msg.ice?.ufrag ?? null;
        leg.icePwd = msg.ice?.pwd ?? null;
        const ps = this.slot(msg.partnerPort);
        const partner = ps < 0 ? null : this.legs[ps];
        leg.partner = partner;
        if (partner !== null) partner.partner = leg;
        return;
      }
      case 'stop':
        for (let i = 0; i < this.legs.length; i++) {
          this.legs[i]?.close();
          this.legs[i] = null;
        }
        parentPort?.close();
        return;
    }
  }

  private async open(id: number, gen: number, port: number, ip: string, family: 4 | 6): Promise<void> {
    const s = this.slot(port);
    if (s < 0) {
      post({ op: 'opened', id, ok: false, code: 'EINVAL', message: `port ${port} is not owned by this worker` });
      return;
    }
    this.legs[s]?.close();
    this.legs[s] = null;
    const leg = new RelaySocket(port, gen, family, s, this.counters, this);
    try {
      await leg.bind(ip, this.init.recvBufferSize);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      post({ op: 'opened', id, ok: false, code: err.code ?? 'EBIND', message: err.message });
      return;
    }
    this.legs[s] = leg;
    post({ op: 'opened', id, ok: true });
  }

  onLatched(leg: RelaySocket, rtcp: boolean, address: string, port: number): void {
    post({ op: 'latched', gen: leg.gen, port: leg.port, rtcp, address, srcPort: port });
  }
}

function post(m: FromWorker): void {
  parentPort?.postMessage(m);
}

if (parentPort !== null) {
  const worker = new RelayWorker(workerData as WorkerInit);
  parentPort.on('message', (m: ToWorker) => worker.handle(m));
  post({ op: 'ready' });
}
