/**
 * RTP load for one relay: N calls set up over ng (offer + answer), each with two endpoints that
 * stream G.711 (172-byte packets, 50 packets/s, RFC 3551) to the relay ports the rewritten SDPs
 * name, so the relay forwards N x 100 packets/s. Each packet carries its send time, so the
 * receiving endpoint measures one-way latency through the relay on the same clock.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import type { NgClient } from '@voip/rtpproxy';

const PACKET = 12 + 160;
const INTERVAL_MS = 20;
/** Sends are spread over this many groups per 20 ms so the load is smooth, not one burst. */
const GROUPS = 20;
const HIST_BUCKET_US = 10;
const HIST_BUCKETS = 200_000; // 10 µs x 200k = 2 s

export interface LoadResult {
  readonly calls: number;
  readonly targetPps: number;
  readonly sent: number;
  readonly received: number;
  readonly lossPct: number;
  /** Packets received per second during the measured window. */
  readonly achievedPps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly setupErrors: number;
}

class Endpoint {
  readonly socket: Socket;
  targetPort: number;
  targetAddr: string;
  seq: number;
  readonly ssrc: number;

  constructor(socket: Socket) {
    this.socket = socket;
    this.targetPort = 0;
    this.targetAddr = '';
    this.seq = 0;
    this.ssrc = (Math.random() * 0xffffffff) >>> 0;
  }
}

/** Receive-side counters shared by every endpoint socket (one handler, bound once). */
class Receiver {
  received = 0;
  measuredFrom = Infinity;
  measuredTo = Infinity;
  inWindow = 0;
  readonly hist = new Uint32Array(HIST_BUCKETS);

  onMessage(msg: Buffer): void {
    this.received++;
    if (msg.length < PACKET) return;
    const sentAt = msg.readDoubleLE(12);
    if (sentAt < this.measuredFrom || sentAt > this.measuredTo) return;
    this.inWindow++;
    const us = (performance.now() - sentAt) * 1000;
    const b = Math.min(HIST_BUCKETS - 1, Math.max(0, Math.floor(us / HIST_BUCKET_US)));
    this.hist[b]++;
  }

  percentileMs(p: number): number {
    let total = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) total += this.hist[i];
    if (total === 0) return NaN;
    const want = Math.ceil((p / 100) * total);
    let acc = 0;
    for (let i = 0; i < HIST_BUCKETS; i++) {
      acc += this.hist[i];
      if (acc >= want) return ((i + 0.5) * HIST_BUCKET_US) / 1000;
    }
    return NaN;
  }
}

function bindSocket(host: string): Promise<Socket> {
  const s = createSocket('udp4');
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, host, () => {
      s.off('error', reject);
      s.on('error', () => undefined);
      resolve(s);
    });
  });
}

function sdp(host: string, port: number): string {
  return `v=0\r\no=- 1 1 IN IP4 ${host}\r\ns=bench\r\nc=IN IP4 ${host}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`;
}

function anchor(body: unknown): { address: string; port: number } | null {
  const s = String(body);
  const c = /c=IN IP4 ([0-9.]+)/.exec(s);
  const m = /m=audio (\d+) /.exec(s);
  return c && m ? { address: c[1], port: Number(m[1]) } : null;
}

export interface LoadOptions {
  readonly host: string;
  readonly calls: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  readonly drainMs: number;
  /** No relay: the two endpoints of a call send to each other (the baseline for added latency). */
  readonly direct: boolean;
  /** Called at the start and end of the measured window (CPU sampling). */
  readonly onWindow: (edge: 'start' | 'end') => void;
}

/** Runs one step against the relay whose ng socket is `ng`; always deletes what it set up. */
export async function runRtpLoad(ng: NgClient, o: LoadOptions): Promise<LoadResult> {
  const prefix = `bench-${process.pid}-${Date.now()}`;
  const endpoints: Endpoint[] = [];
  const recv = new Receiver();
  const onMessage = recv.onMessage.bind(recv);
  let setupErrors = 0;
  const callIds: string[] = [];
  try {
    // Call setup, a few calls in flight at a time.
    const CONCURRENCY = 16;
    let next = 0;
    const setupOne = async (): Promise<void> => {
      while (next < o.calls) {
        const i = next++;
        const a = new Endpoint(await bindSocket(o.host));
        const b = new Endpoint(await bindSocket(o.host));
        a.socket.on('message', onMessage);
        b.socket.on('message', onMessage);
        endpoints.push(a, b);
        if (o.direct) {
          a.targetAddr = b.targetAddr = o.host;
          a.targetPort = b.socket.address().port;
          b.targetPort = a.socket.address().port;
          continue;
        }
        const callId = `${prefix}-${i}`;
        callIds.push(callId);
        try {
          const offer = await ng.ok('offer', { 'call-id': callId, 'from-tag': 'a', sdp: sdp(o.host, a.socket.address().port), replace: ['origin', 'session-connection'] });
          const answer = await ng.ok('answer', { 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(o.host, b.socket.address().port), replace: ['origin', 'session-connection'] });
          const toB = anchor(offer['sdp']);
          const toA = anchor(answer['sdp']);
          if (toA === null || toB === null) throw new Error('no anchor in SDP');
          a.targetAddr = toA.address;
          a.targetPort = toA.port;
          b.targetAddr = toB.address;
          b.targetPort = toB.port;
        } catch {
          setupErrors++;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, setupOne));
    const active = endpoints.filter((e) => e.targetPort !== 0);

    // Paced sending: slot k sends group (k mod GROUPS) of round floor(k / GROUPS).
    const start = performance.now();
    const totalMs = o.warmupMs + o.measureMs;
    const slotMs = INTERVAL_MS / GROUPS;
    const totalSlots = Math.floor(totalMs / slotMs);
    let slot = 0;
    let sent = 0;
    recv.measuredFrom = start + o.warmupMs;
    recv.measuredTo = start + totalMs;
    let windowOpen = false;
    await new Promise<void>((resolve) => {
      const tick = (): void => {
        const now = performance.now();
        if (!windowOpen && now >= recv.measuredFrom) {
          windowOpen = true;
          o.onWindow('start');
        }
        const due = Math.min(totalSlots, Math.floor((now - start) / slotMs) + 1);
        while (slot < due) {
          const g = slot % GROUPS;
          for (let i = g; i < active.length; i += GROUPS) {
            const e = active[i];
            const p = Buffer.allocUnsafe(PACKET);
            p[0] = 0x80;
            p[1] = 0;
            p.writeUInt16BE(e.seq & 0xffff, 2);
            p.writeUInt32BE((e.seq * 160) >>> 0, 4);
            p.writeUInt32BE(e.ssrc, 8);
            const t = performance.now();
            p.writeDoubleLE(t, 12);
            p.fill(0xff, 20);
            e.seq++;
            e.socket.send(p, e.targetPort, e.targetAddr);
            sent++;
          }
          slot++;
        }
        if (slot >= totalSlots) {
          clearInterval(timer);
          o.onWindow('end');
          resolve();
        }
      };
      const timer = setInterval(tick, 1);
    });
    await new Promise((r) => setTimeout(r, o.drainMs));
    const lossPct = sent === 0 ? 100 : (100 * Math.max(0, sent - recv.received)) / sent;
    return {
      calls: o.calls,
      targetPps: active.length * (1000 / INTERVAL_MS),
      sent,
      received: recv.received,
      lossPct,
      achievedPps: (recv.inWindow / o.measureMs) * 1000,
      p50Ms: recv.percentileMs(50),
      p99Ms: recv.percentileMs(99),
      setupErrors,
    };
  } finally {
    for (const id of callIds) await ng.request('delete', { 'call-id': id }).catch(() => undefined);
    for (const e of endpoints) e.socket.close();
  }
}
