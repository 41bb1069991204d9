/**
 * The emitter: reads records in order, sends each as an RFC 2866 Accounting-Request, and
 * moves the durable progress only past records that are settled — acknowledged by an
 * Accounting-Response (RFC 2866 §2: the client retransmits until it gets one) or parked.
 *
 * Delivery rules:
 *  - Up to `window` records are in flight; the progress advances over the settled prefix,
 *    so a crash resends at most the records after the first unsettled one, never skips.
 *  - A retransmission to the same server is byte-identical (same Identifier and
 *    authenticator), so the server's duplicate detection (RFC 2865 §3, Identifier) drops
 *    it. Back-off doubles from retransmitMs up to maxRetransmitMs.
 *  - After triesPerServer unanswered sends, the server is marked dead for deadTimeMs and the
 *    record moves to the next server as a new packet (new Identifier, Acct-Delay-Time
 *    recomputed, RFC 2866 §3: the Identifier changes whenever the attributes do). A late
 *    answer from the previous server still settles it.
 *  - Every packet carries the record's stable unique id (Voip-Acct-Unique-Id), so a record
 *    resent after a restart or a failover is recognised by the server's store.
 *  - A record is parked, not retried forever, when it cannot be encoded or read, or when
 *    maxAttempts of its sends went unanswered while a server answered other records
 *    meanwhile. Sends during an outage (no server answers anything) do not count, so an
 *    outage parks nothing: records wait.
 *
 * One interval timer drives all retransmissions (no timer per packet).
 */
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import radius from 'radius';
import type { Logger } from 'pino';
import { accRecordUniqueId, describeCursor, type AccCursor, type AccReader, type AccReadItem } from '@voip/acc';
import { buildAccountingAttributes, type AcctStatus, type NasIdentity } from '../radius/attributes.js';
import type { Metrics } from '../metrics.js';
import type { ParkingLot } from './parking-lot.js';
import type { ProgressStore } from './progress-store.js';

export interface RadiusServerAddress {
  host: string;
  port: number;
}

export interface EmitterOptions {
  servers: readonly RadiusServerAddress[];
  secret: string;
  nas: NasIdentity;
  window: number;
  retransmitMs: number;
  maxRetransmitMs: number;
  triesPerServer: number;
  maxAttempts: number;
  deadTimeMs: number;
  pollMs: number;
  /** Resolution of the retransmission timer. Default min(retransmitMs / 4, 100). */
  tickMs?: number;
  now?: () => number;
}

const ACCOUNTING_RESPONSE = 5;

class Endpoint {
  readonly index: number;
  readonly label: string;
  readonly host: string;
  address: string;
  readonly port: number;
  socket: Socket | null;
  /** Identifier → record waiting for the answer to that Identifier. */
  readonly ids: (InFlight | null)[];
  nextId: number;
  deadUntil: number;
  lastResponseAt: number;
  /** Send time of the latest packet this server answered. */
  lastAnsweredSentAt: number;

  constructor(index: number, server: RadiusServerAddress) {
    this.index = index;
    this.label = `${server.host}:${server.port}`;
    this.host = server.host;
    this.address = server.host;
    this.port = server.port;
    this.socket = null;
    this.ids = new Array<InFlight | null>(256).fill(null);
    this.nextId = Math.floor(Math.random() * 256);
    this.deadUntil = 0;
    this.lastResponseAt = 0;
    this.lastAnsweredSentAt = 0;
  }

  allocId(p: InFlight): number {
    for (let i = 0; i < 256; i++) {
      const id = (this.nextId + i) & 0xff;
      if (this.ids[id] === null) {
        this.ids[id] = p;
        this.nextId = (id + 1) & 0xff;
        return id;
      }
    }
    return -1;
  }
}

/** A record in the window. Fields for delivery are unused for items parked on arrival. */
class InFlight {
  readonly item: AccReadItem;
  settled: boolean;
  parkReason: string | null;
  parking: boolean;
  uniqueId: string;
  status: AcctStatus | null;
  endpoint: Endpoint | null;
  identifier: number;
  packet: Buffer | null;
  /** The previous server's packet, kept so a late answer from it still settles the record. */
  prevEndpoint: Endpoint | null;
  prevIdentifier: number;
  prevPacket: Buffer | null;
  triesOnServer: number;
  attempts: number;
  /** Sends that timed out although a server answered other records meanwhile. */
  ignored: number;
  firstSentAt: number;
  sentAt: number;
  deadline: number;

  constructor(item: AccReadItem, uniqueId: string) {
    this.item = item;
    this.settled = false;
    this.parkReason = null;
    this.parking = false;
    this.uniqueId = uniqueId;
    this.status = null;
    this.endpoint = null;
    this.identifier = -1;
    this.packet = null;
    this.prevEndpoint = null;
    this.prevIdentifier = -1;
    this.prevPacket = null;
    this.triesOnServer = 0;
    this.attempts = 0;
    this.ignored = 0;
    this.firstSentAt = 0;
    this.sentAt = 0;
    this.deadline = 0;
  }
}

export interface EmitterSnapshot {
  stream: string;
  position: string;
  settled: number;
  parked: number;
  inFlight: number;
  lagSeconds: number;
  servers: { server: string; up: boolean; lastResponseAt: string | null }[];
}

export class Emitter {
  private readonly reader: AccReader;
  private readonly progress: ProgressStore;
  private readonly parking: ParkingLot;
  private readonly metrics: Metrics;
  private readonly log: Logger;
  private readonly opts: EmitterOptions;
  private readonly now: () => number;
  private readonly endpoints: Endpoint[];
  private readonly window: InFlight[];
  private timer: NodeJS.Timeout | null;
  private reading: boolean;
  private lastPollAt: number;
  private lastReadFull: boolean;
  private cursor: AccCursor | null;
  private settledCount: number;
  private stopping: boolean;
  private readErrors: number;

  constructor(reader: AccReader, progress: ProgressStore, parking: ParkingLot, metrics: Metrics, log: Logger, opts: EmitterOptions) {
    this.reader = reader;
    this.progress = progress;
    this.parking = parking;
    this.metrics = metrics;
    this.log = log;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.endpoints = opts.servers.map((s, i) => new Endpoint(i, s));
    this.window = [];
    this.timer = null;
    this.reading = false;
    this.lastPollAt = 0;
    this.lastReadFull = false;
    this.cursor = null;
    this.settledCount = 0;
    this.stopping = false;
    this.readErrors = 0;
  }

  /** Loads progress, positions the reader, opens the sockets and starts delivering.
   *  Returns a sentence saying where delivery resumes. */
  async start(): Promise<string> {
    const saved = await this.progress.load();
    let cursor: AccCursor;
    let where: string;
    if (saved === null) {
      cursor = this.reader.initialCursor();
      where = `no saved progress: starting at the beginning of ${this.reader.streamId}`;
    } else if (this.reader.accepts(saved.cursor)) {
      cursor = saved.cursor;
      where = `resuming ${describeCursor(cursor)}`;
      this.settledCount = saved.settled;
    } else {
      cursor = this.reader.initialCursor();
      where = `saved progress is for ${saved.stream}, not ${this.reader.streamId}: starting at the beginning of the new stream`;
    }
    await this.reader.seek(cursor);
    this.cursor = cursor;
    for (const ep of this.endpoints) {
      if (isIP(ep.host) === 0) ep.address = (await lookup(ep.host)).address;
      const sock = createSocket(isIP(ep.address) === 6 ? 'udp6' : 'udp4');
      sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.onMessage(ep, msg, rinfo));
      sock.on('error', (err) => this.log.error({ err, server: ep.label }, 'RADIUS socket error'));
      await new Promise<void>((resolve) => sock.bind(0, resolve));
      ep.socket = sock;
      this.metrics.serverUp.set({ server: ep.label }, 1);
    }
    const tick = this.opts.tickMs ?? Math.max(10, Math.min(this.opts.retransmitMs / 4, 100));
    this.timer = setInterval(onEmitterTick, tick, this);
    return where;
  }

  /** Stops reading, waits up to drainMs for in-flight records, saves progress, closes. */
  async stop(drainMs: number): Promise<void> {
    this.stopping = true;
    const until = this.now() + drainMs;
    while (this.window.some((p) => !p.settled) && this.now() < until) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.progress.settle();
    for (const ep of this.endpoints) ep.socket?.close();
    await this.parking.close();
    await this.reader.close();
  }

  snapshot(): EmitterSnapshot {
    const now = this.now();
    return {
      stream: this.reader.streamId,
      position: this.cursor === null ? 'not started' : describeCursor(this.cursor),
      settled: this.settledCount,
      parked: this.parking.count,
      inFlight: this.window.length,
      lagSeconds: this.lag(now),
      servers: this.endpoints.map((ep) => ({
        server: ep.label,
        up: ep.deadUntil <= now,
        lastResponseAt: ep.lastResponseAt === 0 ? null : new Date(ep.lastResponseAt).toISOString(),
      })),
    };
  }

  /** @internal interval entry point */
  tick(): void {
    const now = this.now();
    let unsettled = 0;
    for (const p of this.window) {
      if (p.settled) continue;
      unsettled++;
      if (p.parking) continue;
      if (p.parkReason !== null) {
        this.park(p, p.parkReason);
        continue;
      }
      if (p.deadline <= now) this.onTimeout(p, now);
    }
    for (const ep of this.endpoints) this.metrics.serverUp.set({ server: ep.label }, ep.deadUntil <= now ? 1 : 0);
    this.metrics.inFlight.set(this.window.length);
    this.metrics.lagSeconds.set(this.lag(now));
    if (!this.stopping && !this.reading && unsettled < this.opts.window && this.window.length < this.capacity() && (this.lastReadFull || now - this.lastPollAt >= this.opts.pollMs)) {
      void this.fill(now, Math.min(this.opts.window - unsettled, this.capacity() - this.window.length));
    }
  }

  private lag(now: number): number {
    for (const p of this.window) if (p.item.ok) return Math.max(0, (now - p.item.record.time) / 1000);
    return 0;
  }

  /** Settled records wait in the window until the records before them settle (the cursor
   *  only moves over a settled prefix); this bounds how many may wait behind a slow one. */
  private capacity(): number {
    return this.opts.window * 64;
  }

  private async fill(now: number, room: number): Promise<void> {
    this.reading = true;
    this.lastPollAt = now;
    try {
      const items = await this.reader.read(room);
      this.lastReadFull = items.length === room;
      this.readErrors = 0;
      for (const item of items) this.admit(item);
    } catch (err) {
      this.readErrors++;
      this.lastReadFull = false;
      if (this.readErrors === 1 || this.readErrors % 50 === 0) this.log.error({ err, stream: this.reader.streamId }, 'reading accounting records failed; retrying');
    } finally {
      this.reading = false;
    }
  }

  private admit(item: AccReadItem): void {
    const p = new InFlight(item, accRecordUniqueId(this.reader.streamId, item.key));
    this.window.push(p);
    if (!item.ok) {
      this.park(p, item.reason);
      return;
    }
    p.firstSentAt = this.now();
    this.sendNew(p, this.pickServer(null));
  }

  /** A new packet (new Identifier, fresh Acct-Delay-Time) for `p` on `ep`. */
  private sendNew(p: InFlight, ep: Endpoint): void {
    if (!p.item.ok) return;
    const now = this.now();
    const rec = p.item.record;
    const built = buildAccountingAttributes(rec, p.uniqueId, (now - rec.time) / 1000, this.opts.nas);
    if (!built.ok) {
      this.park(p, built.reason);
      return;
    }
    const id = ep.allocId(p);
    if (id < 0) {
      // All 256 Identifiers of this server are waiting: try again on the next tick.
      p.deadline = now;
      return;
    }
    let packet: Buffer;
    try {
      packet = radius.encode({ code: 'Accounting-Request', secret: this.opts.secret, identifier: id, attributes: built.attributes });
    } catch (err) {
      ep.ids[id] = null;
      this.park(p, `cannot encode Accounting-Request: ${(err as Error).message}`);
      return;
    }
    if (p.endpoint !== null && p.endpoint !== ep) {
      this.releasePrev(p);
      p.prevEndpoint = p.endpoint;
      p.prevIdentifier = p.identifier;
      p.prevPacket = p.packet;
    } else if (p.endpoint === ep && p.identifier >= 0) {
      ep.ids[p.identifier] = null;
    }
    p.status = built.status;
    p.endpoint = ep;
    p.identifier = id;
    p.packet = packet;
    p.triesOnServer = 0;
    this.metrics.requests.inc({ server: ep.label, status: built.status });
    this.transmit(p, now);
  }

  private transmit(p: InFlight, now: number): void {
    const ep = p.endpoint as Endpoint;
    p.attempts++;
    p.triesOnServer++;
    p.sentAt = now;
    const backoff = Math.min(this.opts.retransmitMs * 2 ** Math.min(p.attempts - 1, 20), this.opts.maxRetransmitMs);
    p.deadline = now + backoff;
    ep.socket?.send(p.packet as Buffer, ep.port, ep.address);
  }

  private onTimeout(p: InFlight, now: number): void {
    const ep = p.endpoint;
    // Sends during an outage (nobody answers anything) do not count towards parking: only a
    // send ignored while a server answered a packet sent after it does. When the
    // window is full of settled records waiting behind this one, no more answers can come:
    // then the server's answers since this record's first send count.
    const answeredSince = (t: number): boolean => this.endpoints.some((e) => e.lastAnsweredSentAt > t);
    if (p.sentAt > 0 && (answeredSince(p.sentAt) || (this.window.length >= this.capacity() && answeredSince(p.firstSentAt)))) p.ignored++;
    if (ep === null) {
      this.sendNew(p, this.pickServer(null));
      return;
    }
    if (p.packet === null || p.identifier < 0) {
      this.sendNew(p, ep);
      return;
    }
    if (p.triesOnServer < this.opts.triesPerServer) {
      this.metrics.retransmissions.inc({ server: ep.label });
      this.transmit(p, now);
      return;
    }
    // This server did not answer this record: mark it dead, then park or move on.
    if (ep.deadUntil <= now) {
      ep.deadUntil = now + this.opts.deadTimeMs;
      this.log.warn({ server: ep.label, callId: p.item.ok ? p.item.record.callid : undefined, attempts: p.attempts }, 'RADIUS server not answering; marked dead');
    }
    if (p.ignored >= this.opts.maxAttempts) {
      this.park(p, `no Accounting-Response to ${p.ignored} sends while the servers answered other records (${p.attempts} sends in all)`);
      return;
    }
    const next = this.pickServer(ep);
    if (next !== ep) this.metrics.failovers.inc({ from: ep.label });
    this.sendNew(p, next);
  }

  /** The first live server (not `avoid` when another exists); when all are dead, the one that
   *  comes back first. */
  private pickServer(avoid: Endpoint | null): Endpoint {
    const now = this.now();
    let best: Endpoint | null = null;
    for (const ep of this.endpoints) {
      if (ep === avoid && this.endpoints.length > 1) continue;
      if (ep.deadUntil <= now) return ep;
      if (best === null || ep.deadUntil < best.deadUntil) best = ep;
    }
    return best ?? this.endpoints[0];
  }

  private onMessage(ep: Endpoint, msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 20 || rinfo.port !== ep.port) {
      this.metrics.badResponses.inc({ server: ep.label });
      return;
    }
    const p = ep.ids[msg[1]];
    if (p === null || p === undefined) {
      // Usually the answer to a retransmission of a record already settled.
      this.metrics.badResponses.inc({ server: ep.label });
      return;
    }
    const request = p.endpoint === ep && p.identifier === msg[1] ? p.packet : p.prevPacket;
    if (request === null || msg[0] !== ACCOUNTING_RESPONSE || !radius.verify_response({ request, response: msg, secret: this.opts.secret })) {
      this.metrics.badResponses.inc({ server: ep.label });
      this.log.warn({ server: ep.label, code: msg[0] }, 'dropping a response that is not a valid Accounting-Response (check the shared secret)');
      return;
    }
    const now = this.now();
    ep.lastResponseAt = now;
    if (p.sentAt > ep.lastAnsweredSentAt) ep.lastAnsweredSentAt = p.sentAt;
    ep.deadUntil = 0;
    this.metrics.responseSeconds.observe({ server: ep.label }, (now - p.firstSentAt) / 1000);
    this.metrics.acknowledged.inc({ status: p.status ?? 'unknown' });
    this.settle(p);
  }

  private releasePrev(p: InFlight): void {
    if (p.prevEndpoint !== null && p.prevIdentifier >= 0 && p.prevEndpoint.ids[p.prevIdentifier] === p) p.prevEndpoint.ids[p.prevIdentifier] = null;
    p.prevEndpoint = null;
    p.prevIdentifier = -1;
    p.prevPacket = null;
  }

  private settle(p: InFlight): void {
    if (p.endpoint !== null && p.identifier >= 0 && p.endpoint.ids[p.identifier] === p) p.endpoint.ids[p.identifier] = null;
    this.releasePrev(p);
    p.packet = null;
    p.settled = true;
    this.commit();
  }

  private park(p: InFlight, reason: string): void {
    p.parkReason = reason;
    p.parking = true;
    const item = p.item;
    const entry = {
      parked: new Date(this.now()).toISOString(),
      stream: this.reader.streamId,
      key: item.key,
      reason,
      ...(item.ok ? { record: item.record } : { raw: item.raw }),
    };
    this.log.error({ stream: entry.stream, key: item.key, callId: item.ok ? item.record.callid : undefined, reason }, 'accounting record parked');
    this.parking.park(entry).then(
      () => {
        p.parking = false;
        this.metrics.parked.inc({ reason: item.ok ? (p.attempts > 0 ? 'unanswered' : 'unencodable') : 'unreadable' });
        this.settle(p);
      },
      (err: unknown) => {
        // Cannot record it as parked: keep it unsettled and try again on a later tick.
        p.parking = false;
        this.log.error({ err, key: item.key }, 'writing the parked record failed; retrying');
      },
    );
  }

  /** Moves the progress over the settled prefix of the window. */
  private commit(): void {
    let n = 0;
    while (n < this.window.length && this.window[n].settled) n++;
    if (n === 0) return;
    const done = this.window.splice(0, n);
    this.cursor = done[done.length - 1].item.cursor;
    this.settledCount += n;
    void this.progress.save({ stream: this.reader.streamId, cursor: this.cursor, settled: this.settledCount, updated: new Date(this.now()).toISOString() });
  }
}

function onEmitterTick(e: Emitter): void {
  e.tick();
}
