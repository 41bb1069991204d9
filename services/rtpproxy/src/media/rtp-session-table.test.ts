import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { RtpError } from '../errors.js';
import { C_RTP_LAST, C_RTP_PACKETS, COUNTER_FIELDS, type AddressFamily, type Destination } from './relay-protocol.js';
import { splitPortRange, type LatchEvent, type MediaWorkers, type OpenResult, type WorkerSlice } from './relay-worker-pool.js';
import { RtpSessionTable, type MediaFlags, type SignalRequest } from './rtp-session-table.js';

interface TargetCall {
  worker: number;
  port: number;
  rtp: Destination | null;
  rtcp: Destination | null;
  latch: boolean;
  partnerPort: number;
  retarget: boolean;
}

/** Records what the table asks of the media workers; binds succeed unless told otherwise. */
class FakeWorkers implements MediaWorkers {
  readonly slices: WorkerSlice[];
  readonly shared: Float64Array[];
  readonly opened = new Set<number>();
  readonly targets: TargetCall[] = [];
  readonly busyPorts = new Set<number>();
  onLatched: ((e: LatchEvent) => void) | null = null;
  gens = new Map<number, number>();

  constructor(min: number, max: number, n: number) {
    this.slices = splitPortRange(min, max, n);
    this.shared = this.slices.map((s) => new Float64Array(((s.lastPort - s.firstPort) / 2 + 1) * COUNTER_FIELDS));
  }

  async open(_w: number, gen: number, port: number, _ip: string, _f: AddressFamily): Promise<OpenResult> {
    if (this.busyPorts.has(port)) return { ok: false, code: 'EADDRINUSE', message: 'in use' };
    assert.ok(!this.opened.has(port), `port ${port} opened twice`);
    this.opened.add(port);
    this.gens.set(port, gen);
    return { ok: true };
  }

  close(_w: number, port: number): void {
    assert.ok(this.opened.delete(port), `closing port ${port} that is not open`);
  }

  target(worker: number, port: number, rtp: Destination | null, rtcp: Destination | null, latch: boolean, partnerPort: number, _ice: unknown, retarget: boolean): void {
    this.targets.push({ worker, port, rtp, rtcp, latch, partnerPort, retarget });
  }

  counters(w: number): Float64Array {
    return this.shared[w];
  }

  lastTarget(port: number): TargetCall | undefined {
    return [...this.targets].reverse().find((t) => t.port === port);
  }

  slotBase(port: number): [Float64Array, number] {
    const w = this.slices.findIndex((s) => port >= s.firstPort && port <= s.lastPort);
    return [this.shared[w], ((port - this.slices[w].firstPort) / 2) * COUNTER_FIELDS];
  }

  async stop(): Promise<void> {}
}

const FLAGS: MediaFlags = {
  replaceOrigin: true,
  replaceSessionConnection: true,
  trustAddress: false,
  sipSourceAddress: false,
  symmetric: true,
  ice: null,
  transportProtocol: null,
  receivedFrom: null,
  direction: null,
  addressFamily: null,
};

function body(ip: string, port: number, extra = ''): string {
  return `v=0\r\no=- 1 1 IN IP4 ${ip}\r\ns=-\r\nc=IN IP4 ${ip}\r\nt=0 0\r\nm=audio ${port} RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\n${extra}`;
}

function req(callId: string, fromTag: string, toTag: string | null, sdp: string, flags: Partial<MediaFlags> = {}): SignalRequest {
  return { callId, fromTag, toTag, viaBranch: null, sdp, flags: { ...FLAGS, ...flags } };
}

const port = (sdp: string): number => Number(/m=audio (\d+)/.exec(sdp)?.[1]);

async function rejects(p: () => Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof RtpError && e.code === code);
}

describe('RtpSessionTable', () => {
  let w: FakeWorkers;
  let table: RtpSessionTable;
  const timeouts: string[] = [];

  beforeEach(() => {
    w = new FakeWorkers(30000, 30019, 2); // 5 pairs per worker
    timeouts.length = 0;
    table = new RtpSessionTable(
      w,
      [{ name: 'default', ip: '127.0.0.1', advertised: '203.0.113.1', family: 4 }],
      { maxSessions: 2, timeoutSeconds: 30 },
      { onTimeout: (id) => timeouts.push(id) },
    );
  });

  describe('offer and answer', () => {
    it('anchors both parties and gives each the port facing it', async () => {
      const offer = await table.offer(req('c1', 'A', null, body('192.168.1.10', 4000)));
      assert.match(offer, /c=IN IP4 203\.0\.113\.1\r\n/);
      assert.match(offer, /o=- 1 1 IN IP4 203\.0\.113\.1\r\n/);
      const portB = port(offer);
      assert.equal(w.opened.size, 2);
      const answer = await table.answer(req('c1', 'A', 'B', body('198.51.100.7', 5000)));
      const portA = port(answer);
      assert.notEqual(portA, portB);
      assert.equal(w.opened.size, 2, 'answer reuses the ports the offer allocated');
      // Packets from A (arriving on portA) leave from portB towards B's SDP address, and back.
      const ta = w.lastTarget(portA);
      const tb = w.lastTarget(portB);
      assert.deepEqual(ta?.rtp, { address: '192.168.1.10', port: 4000 });
      assert.deepEqual(ta?.rtcp, { address: '192.168.1.10', port: 4001 });
      assert.equal(ta?.partnerPort, portB);
      assert.deepEqual(tb?.rtp, { address: '198.51.100.7', port: 5000 });
      assert.equal(tb?.partnerPort, portA);
      assert.equal(ta?.latch, true);
      // Both legs of a call live in one worker.
      assert.equal(ta?.worker, tb?.worker);
    });

    it('re-INVITE from the caller re-targets on the same ports (no new bind)', async () => {
      const o1 = await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      const a1 = await table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000)));
      const opens = w.opened.size;
      const o2 = await table.offer(req('c1', 'A', 'B', body('10.0.0.9', 4100)));
      assert.equal(port(o2), port(o1));
      assert.equal(w.opened.size, opens);
      const t = w.lastTarget(port(a1));
      assert.deepEqual(t?.rtp, { address: '10.0.0.9', port: 4100 });
      assert.equal(t?.retarget, true);
      // B's leg keeps its target (not reset to nothing) while A re-negotiates.
      const tb = w.lastTarget(port(o1));
      assert.equal(tb?.retarget, false);
      assert.deepEqual(tb?.rtp, { address: '10.0.0.2', port: 5000 });
    });

    it('re-INVITE from the callee (from-tag = B) is rewritten with the port facing A', async () => {
      const o1 = await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      const a1 = await table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000)));
      const o2 = await table.offer(req('c1', 'B', 'A', body('10.0.0.2', 5002)));
      assert.equal(port(o2), port(a1));
      const a2 = await table.answer(req('c1', 'B', 'A', body('10.0.0.1', 4002)));
      assert.equal(port(a2), port(o1));
      assert.deepEqual(w.lastTarget(port(a1))?.rtp, { address: '10.0.0.1', port: 4002 });
      assert.deepEqual(w.lastTarget(port(o1))?.rtp, { address: '10.0.0.2', port: 5002 });
    });

    it('uses received-from with SIP-source-address and stops latching when asymmetric', async () => {
      await table.offer(req('c1', 'A', null, body('192.168.1.10', 4000), {
        sipSourceAddress: true,
        symmetric: false,
        receivedFrom: { family: 4, address: '198.51.100.99' },
      }));
      const a = await table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000)));
      const t = w.lastTarget(port(a));
      assert.deepEqual(t?.rtp, { address: '198.51.100.99', port: 4000 });
      assert.equal(t?.latch, false);
    });

    it('keeps a disabled stream disabled and allocates nothing for it', async () => {
      const out = await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000, 'm=video 0 RTP/AVP 31\r\n')));
      assert.match(out, /m=video 0 RTP\/AVP 31/);
      assert.equal(w.opened.size, 2);
    });

    it('answers for unknown calls and tags fail with rtpengine wording', async () => {
      await rejects(() => table.answer(req('nope', 'A', 'B', body('10.0.0.2', 5000))), 'RTP_ERR_UNKNOWN_CALL');
      await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      await rejects(() => table.answer(req('c1', 'X', 'B', body('10.0.0.2', 5000))), 'RTP_ERR_UNKNOWN_TAG');
      await rejects(
        () => table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000, 'm=audio 6000 RTP/AVP 0\r\n'))),
        'RTP_ERR_MEDIA_MISMATCH',
      );
    });

    it('rejects bad SDP and SRTP conversion', async () => {
      await rejects(() => table.offer(req('c1', 'A', null, 'garbage')), 'RTP_ERR_BAD_SDP');
      await rejects(() => table.offer(req('c2', 'A', null, body('10.0.0.1', 4000), { transportProtocol: 'RTP/SAVP' })), 'RTP_ERR_PROTOCOL');
      assert.equal(table.size, 0, 'a failed first offer leaves no call behind');
      assert.equal(w.opened.size, 0);
    });
  });

  describe('limits', () => {
    it('refuses calls past max-sessions', async () => {
      await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      await table.offer(req('c2', 'A', null, body('10.0.0.1', 4002)));
      await rejects(() => table.offer(req('c3', 'A', null, body('10.0.0.1', 4004))), 'RTP_ERR_SESSION_LIMIT');
    });

    it('reports port exhaustion and rolls back what the failed offer bound', async () => {
      // 5 pairs per worker; a call with two streams needs 4 pairs in one worker.
      const two = body('10.0.0.1', 4000, 'm=audio 4010 RTP/AVP 0\r\n');
      await table.offer(req('c1', 'A', null, two));
      const before = w.opened.size;
      const three = body('10.0.0.1', 4000, 'm=audio 4010 RTP/AVP 0\r\nm=audio 4020 RTP/AVP 0\r\n');
      // 6 pairs > the 5 of the other worker
      await table
        .offer(req('c2', 'A', null, three))
        .then(() => assert.fail('offer should fail'))
        .catch((e: unknown) => assert.ok(e instanceof RtpError && e.code === 'RTP_ERR_PORTS_EXHAUSTED', String(e)));
      assert.equal(w.opened.size, before, 'no port leaked');
      assert.equal(table.size, 1);
      assert.equal(table.totals().portsInUse, 4);
    });

    it('skips ports another process holds', async () => {
      w.busyPorts.add(30000);
      w.busyPorts.add(30010);
      const out = await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      assert.ok(![30000, 30010].includes(port(out)));
      assert.equal(w.opened.size, 2);
    });
  });

  describe('delete, query, timeout', () => {
    it('delete releases every port and a second delete is an unknown call', async () => {
      await table.offer(req('c1', 'A', null, body('10.0.0.1', 4000)));
      await table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000)));
      const r = table.delete('c1', 'A');
      assert.ok('totals' in r);
      assert.equal(w.opened.size, 0);
      assert.throws(() => table.delete('c1', null), (e: unknown) => e instanceof RtpError && e.code === 'RTP_ERR_UNKNOWN_CALL');
      assert.equal(table.totals().portsInUse, 0);
    });

    it('query reports counters and the latched endpoint; stale latch events are ignored', async () => {
      await table.offer(req('c1', 'A', null, body('192.168.1.10', 4000)));
      const a = await table.answer(req('c1', 'A', 'B', body('10.0.0.2', 5000)));
      const pA = port(a);
      const [c, b] = w.slotBase(pA);
      c[b + C_RTP_PACKETS] = 7;
      c[b + C_RTP_LAST] = Date.now();
      const worker = w.lastTarget(pA)?.worker ?? 0;
      w.onLatched?.({ worker, gen: 999, port: pA, rtcp: false, address: '6.6.6.6', srcPort: 1 });
      w.onLatched?.({ worker, gen: w.gens.get(pA) ?? 0, port: pA, rtcp: false, address: '198.51.100.20', srcPort: 61000 });
      const q = table.query('c1') as { tags: Record<string, { medias: { streams: { endpoint: unknown; stats: { packets: number } }[] }[] }>; totals: { RTP: { packets: number } } };
      const s = q.tags['A'].medias[0].streams[0];
      assert.deepEqual(s.endpoint, { family: 'IPv4', address: '198.51.100.20', port: 61000 });
      assert.equal(s.stats.packets, 7);
      assert.equal(q.totals.RTP.packets, 7);
      assert.deepEqual(table.list(10), ['c1']);
    });

    it('sweep removes only calls idle past the timeout', async () => {
      await table.offer(req('idle', 'A', null, body('10.0.0.1', 4000)));
      const busy = await table.offer(req('busy', 'A', null, body('10.0.0.1', 4002)));
      const later = Date.now() + 31_000;
      const [c, b] = w.slotBase(port(busy));
      c[b + C_RTP_LAST] = later - 1000;
      assert.equal(table.sweep(later), 1);
      assert.deepEqual(timeouts, ['idle']);
      assert.deepEqual(table.list(10), ['busy']);
      assert.equal(table.totals().timedOut, 1);
    });
  });
});
