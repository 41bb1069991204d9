// The one owner of relay state (STYLE §3): calls, their monologues (one per SIP tag, as
// rtpengine models them) and each monologue's media streams with the relay port facing
// that party. Offer/answer/delete/query of the ng layer are methods here; the worker pool
// owns sockets, this table owns which port belongs to whom.
//
// Roles (RFC 3264 §5, §6): an offer's SDP is written by the from-tag party and read by
// the other party; an answer's SDP is written by the to-tag party and read by the
// from-tag party. The SDP a party reads must carry the relay port facing *that* party,
// so the rewrite uses the reader's streams and the author's SDP sets the author's target.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { RtpError } from '../errors.js';
import { mediaConnection, parseSdp, RTP_PROTOS, type AddrType, type SdpMedia, type SessionDescription } from '../sdp/sdp.js';
import { rewriteSdp, type MediaAnchor } from '../sdp/sdp-rewriter.js';
import { PortAllocator } from './port-allocator.js';
import {
  C_RTCP_BYTES,
  C_RTCP_ERRORS,
  C_RTCP_LAST,
  C_RTCP_PACKETS,
  C_RTP_BYTES,
  C_RTP_ERRORS,
  C_RTP_LAST,
  C_RTP_PACKETS,
  COUNTER_FIELDS,
  type AddressFamily,
  type Destination,
} from './relay-protocol.js';
import type { LatchEvent, MediaWorkers } from './relay-worker-pool.js';

export interface MediaInterface {
  readonly name: string;
  /** Address the media sockets bind to. */
  readonly ip: string;
  /** Address written into SDP (differs from ip when the relay itself sits behind 1:1 NAT). */
  readonly advertised: string;
  readonly family: AddressFamily;
}

export interface MediaFlags {
  readonly replaceOrigin: boolean;
  readonly replaceSessionConnection: boolean;
  /** Use the SDP address as the initial target (rtpengine's default and trust-address). */
  readonly trustAddress: boolean;
  /** Use received-from (the SIP source) instead of the SDP address as the initial target. */
  readonly sipSourceAddress: boolean;
  /** false for "asymmetric": never latch, always send where the SDP says. */
  readonly symmetric: boolean;
  readonly ice: 'remove' | 'force' | null;
  readonly transportProtocol: string | null;
  readonly receivedFrom: { readonly family: AddressFamily; readonly address: string } | null;
  /** Interface names for [author side, reader side] (rtpengine's "direction"). */
  readonly direction: readonly [string, string] | null;
  /** Family of the reader's side ("address family": IP4/IP6) when it differs from the author's. */
  readonly addressFamily: AddressFamily | null;
}

export interface SignalRequest {
  readonly callId: string;
  readonly fromTag: string;
  readonly toTag: string | null;
  readonly viaBranch: string | null;
  readonly sdp: string;
  readonly flags: MediaFlags;
}

export interface PacketStats {
  packets: number;
  bytes: number;
  errors: number;
}

export interface SessionTableLimits {
  readonly maxSessions: number;
  /** Seconds without media or signalling after which a call is torn down. */
  readonly timeoutSeconds: number;
}

export interface TableEvents {
  onTimeout(callId: string): void;
}

class MediaStream {
  readonly index: number;
  readonly worker: number;
  readonly port: number;
  readonly gen: number;
  readonly iface: MediaInterface;
  type: string;
  proto: string;
  sdpRtp: Destination | null;
  sdpRtcp: Destination | null;
  latchedRtp: Destination | null;
  latchedRtcp: Destination | null;
  partner: MediaStream | null;

  constructor(index: number, worker: number, port: number, gen: number, iface: MediaInterface) {
    this.index = index;
    this.worker = worker;
    this.port = port;
    this.gen = gen;
    this.iface = iface;
    this.type = 'audio';
    this.proto = 'RTP/AVP';
    this.sdpRtp = null;
    this.sdpRtcp = null;
    this.latchedRtp = null;
    this.latchedRtcp = null;
    this.partner = null;
  }
}

class Monologue {
  tag: string;
  readonly created: number;
  partner: Monologue | null;
  readonly streams: (MediaStream | null)[];
  symmetric: boolean;
  ice: { ufrag: string; pwd: string } | null;
  viaBranch: string | null;

  constructor(tag: string, now: number) {
    this.tag = tag;
    this.created = now;
    this.partner = null;
    this.streams = [];
    this.symmetric = true;
    this.ice = null;
    this.viaBranch = null;
  }
}

class Call {
  readonly callId: string;
  readonly worker: number;
  readonly created: number;
  lastSignal: number;
  readonly monologues: Map<string, Monologue>;
  /** Serialises signalling on one call: offer/answer await socket binds in a worker. */
  queue: Promise<unknown>;
  deleted: boolean;

  constructor(callId: string, worker: number, now: number) {
    this.callId = callId;
    this.worker = worker;
    this.created = now;
    this.lastSignal = now;
    this.monologues = new Map();
    this.queue = Promise.resolve();
    this.deleted = false;
  }
}

/** rtpengine-shaped statistics of one call (the "query" reply minus "result"). */
export type CallReport = Record<string, unknown>;

export interface InterfaceUsage {
  readonly name: string;
  readonly address: string;
}

export interface TableTotals {
  sessions: number;
  /** Calls ever created, deleted and timed out since start. */
  created: number;
  deleted: number;
  timedOut: number;
  rtp: PacketStats;
  rtcp: PacketStats;
  portsInUse: number;
  portsTotal: number;
  portMin: number;
  portMax: number;
}

const BIND_RETRIES = 8;

function familyOf(t: AddrType): AddressFamily {
  return t === 'IP6' ? 6 : 4;
}

function addrTypeOf(f: AddressFamily): AddrType {
  return f === 6 ? 'IP6' : 'IP4';
}

export class RtpSessionTable {
  private readonly calls: Map<string, Call>;
  private readonly byPort: Map<number, MediaStream>;
  private readonly workers: MediaWorkers;
  private readonly ports: PortAllocator;
  private readonly interfaces: readonly MediaInterface[];
  private readonly limits: SessionTableLimits;
  private readonly events: TableEvents | null;
  private gen: number;
  private readonly closedRtp: PacketStats;
  private readonly closedRtcp: PacketStats;
  private created: number;
  private deleted: number;
  private timedOut: number;

  constructor(
    workers: MediaWorkers,
    interfaces: readonly MediaInterface[],
    limits: SessionTableLimits,
    events: TableEvents | null = null,
  ) {
    if (interfaces.length === 0) throw new RangeError('at least one media interface is required');
    this.calls = new Map();
    this.byPort = new Map();
    this.workers = workers;
    this.ports = new PortAllocator(workers.slices);
    this.interfaces = interfaces;
    this.limits = limits;
    this.events = events;
    this.gen = 0;
    this.closedRtp = { packets: 0, bytes: 0, errors: 0 };
    this.closedRtcp = { packets: 0, bytes: 0, errors: 0 };
    this.created = 0;
    this.deleted = 0;
    this.timedOut = 0;
    workers.onLatched = (e) => this.onLatched(e);
  }

  get size(): number {
    return this.calls.size;
  }

  // ---- signalling ------------------------------------------------------------------

  /** ng "offer": anchors the offerer's media and returns the SDP for the other party. */
  async offer(req: SignalRequest): Promise<string> {
    const sdp = this.parse(req.sdp);
    let call = this.calls.get(req.callId);
    if (call === undefined) {
      if (this.calls.size >= this.limits.maxSessions) {
        throw new RtpError('RTP_ERR_SESSION_LIMIT', `max-sessions=${this.limits.maxSessions}`);
      }
      call = new Call(req.callId, this.ports.leastLoadedWorker(), Date.now());
      this.calls.set(req.callId, call);
      this.created++;
    }
    const c = call;
    return this.serialize(c, () => this.doOffer(c, req, sdp));
  }

  /** ng "answer": anchors the answerer's media and returns the SDP for the offerer. */
  async answer(req: SignalRequest): Promise<string> {
    const sdp = this.parse(req.sdp);
    const call = this.calls.get(req.callId);
    if (call === undefined) throw new RtpError('RTP_ERR_UNKNOWN_CALL');
    return this.serialize(call, () => this.doAnswer(call, req, sdp));
  }

  /** ng "delete": releases every port of the call; returns its final statistics. */
  delete(callId: string, fromTag: string | null): CallReport {
    const call = this.calls.get(callId);
    if (call === undefined) throw new RtpError('RTP_ERR_UNKNOWN_CALL');
    if (fromTag !== null && fromTag !== '' && !call.monologues.has(fromTag)) {
      throw new RtpError('RTP_ERR_UNKNOWN_TAG', fromTag);
    }
    const report = this.report(call);
    this.destroy(call);
    this.deleted++;
    return report;
  }

  query(callId: string): CallReport {
    const call = this.calls.get(callId);
    if (call === undefined) throw new RtpError('RTP_ERR_UNKNOWN_CALL');
    return this.report(call);
  }

  list(limit: number): string[] {
    const out: string[] = [];
    for (const id of this.calls.keys()) {
      if (out.length >= limit) break;
      out.push(id);
    }
    return out;
  }

  totals(): TableTotals {
    const rtp = { ...this.closedRtp };
    const rtcp = { ...this.closedRtcp };
    for (const s of this.byPort.values()) this.addStats(s, rtp, rtcp);
    return {
      sessions: this.calls.size,
      created: this.created,
      deleted: this.deleted,
      timedOut: this.timedOut,
      rtp,
      rtcp,
      portsInUse: this.ports.totalPairs() - this.ports.totalFree(),
      portsTotal: this.ports.totalPairs(),
      portMin: this.workers.slices[0].firstPort,
      portMax: this.workers.slices[this.workers.slices.length - 1].lastPort + 1,
    };
  }

  interfaceUsage(): InterfaceUsage[] {
    return this.interfaces.map((i) => ({ name: i.name, address: i.advertised }));
  }

  /** Tears down calls idle (no media received, no signalling) longer than the timeout. */
  sweep(now: number): number {
    const limit = this.limits.timeoutSeconds * 1000;
    const idle: Call[] = [];
    for (const call of this.calls.values()) {
      let last = call.lastSignal;
      for (const m of call.monologues.values()) {
        for (const s of m.streams) {
          if (s === null) continue;
          const c = this.workers.counters(s.worker);
          const b = this.slot(s) * COUNTER_FIELDS;
          last = Math.max(last, c[b + C_RTP_LAST], c[b + C_RTCP_LAST]);
        }
      }
      if (now - last > limit) idle.push(call);
    }
    for (const call of idle) {
      this.destroy(call);
      this.timedOut++;
      this.events?.onTimeout(call.callId);
    }
    return idle.length;
  }

  /** Releases everything (shutdown). */
  clear(): void {
    for (const call of [...this.calls.values()]) this.destroy(call);
  }

  // ---- internals -------------------------------------------------------------------

  private parse(body: string): SessionDescription {
    if (body.length === 0) throw new RtpError('RTP_ERR_NO_SDP');
    const r = parseSdp(body);
    if (!r.ok) throw new RtpError('RTP_ERR_BAD_SDP', r.reason);
    return r.sdp;
  }

  private serialize<T>(call: Call, fn: () => Promise<T>): Promise<T> {
    const run = call.queue.then(() => {
      if (call.deleted) throw new RtpError('RTP_ERR_UNKNOWN_CALL');
      return fn();
    });
    call.queue = run.catch(() => undefined);
    return run;
  }

  private async doOffer(call: Call, req: SignalRequest, sdp: SessionDescription): Promise<string> {
    const now = Date.now();
    const isNewCall = call.monologues.size === 0;
    const author = this.monologue(call, req.fromTag, now);
    let reader: Monologue;
    if (req.toTag !== null && req.toTag !== '') {
      reader = call.monologues.get(req.toTag) ?? this.adoptPartner(call, author, req.toTag, now);
    } else {
      reader = author.partner ?? this.monologue(call, '', now);
    }
    this.link(author, reader);
    author.viaBranch = req.viaBranch;
    try {
      const sdpOut = await this.anchor(call, author, reader, sdp, req.flags);
      call.lastSignal = Date.now();
      return sdpOut;
    } catch (e) {
      if (isNewCall) {
        this.destroy(call);
        this.deleted++;
      }
      throw e;
    }
  }

  private async doAnswer(call: Call, req: SignalRequest, sdp: SessionDescription): Promise<string> {
    const offerer = call.monologues.get(req.fromTag);
    if (offerer === undefined) throw new RtpError('RTP_ERR_UNKNOWN_TAG', req.fromTag);
    const tag = req.toTag ?? '';
    let answerer = tag !== '' ? call.monologues.get(tag) : undefined;
    if (answerer === undefined) {
      if (offerer.partner === null) throw new RtpError('RTP_ERR_UNKNOWN_TAG', tag);
      answerer = this.adoptPartner(call, offerer, tag, Date.now());
    }
    if (answerer.partner !== offerer) this.link(offerer, answerer);
    // RFC 3264 §6: the answer has exactly as many m= lines as the offer.
    for (let i = 0; i < sdp.media.length; i++) {
      if (sdp.media[i].port !== 0 && (answerer.streams[i] ?? null) === null) throw new RtpError('RTP_ERR_MEDIA_MISMATCH');
    }
    const out = await this.anchor(call, answerer, offerer, sdp, req.flags);
    call.lastSignal = Date.now();
    return out;
  }

  /** The pending (tag-less) partner created by an offer gets its tag from the first answer. */
  private adoptPartner(call: Call, of: Monologue, tag: string, now: number): Monologue {
    const p = of.partner;
    if (p !== null && (p.tag === '' || !call.monologues.has(tag))) {
      // A forked INVITE answered by another branch (new to-tag) takes over the same ports.
      call.monologues.delete(p.tag);
      p.tag = tag;
      call.monologues.set(tag, p);
      return p;
    }
    return this.monologue(call, tag, now);
  }

  private monologue(call: Call, tag: string, now: number): Monologue {
    let m = call.monologues.get(tag);
    if (m === undefined) {
      m = new Monologue(tag, now);
      call.monologues.set(tag, m);
    }
    return m;
  }

  private link(a: Monologue, b: Monologue): void {
    a.partner = b;
    b.partner = a;
  }

  private pickInterface(name: string | null, family: AddressFamily | null): MediaInterface {
    if (name !== null) {
      const i = this.interfaces.find((x) => x.name === name && (family === null || x.family === family)) ??
        this.interfaces.find((x) => x.name === name);
      if (i === undefined) throw new RtpError('RTP_ERR_NO_INTERFACE', name);
      return i;
    }
    const i = family === null ? this.interfaces[0] : this.interfaces.find((x) => x.family === family);
    if (i === undefined) throw new RtpError('RTP_ERR_NO_INTERFACE', `no IPv${family} media address configured`);
    return i;
  }

  /**
   * Anchors every active m= section: makes sure author and reader each have a relay
   * port pair for it, points the author's leg at the author's SDP address, and returns
   * the SDP rewritten with the reader's relay ports.
   */
  private async anchor(
    call: Call,
    author: Monologue,
    reader: Monologue,
    sdp: SessionDescription,
    flags: MediaFlags,
  ): Promise<string> {
    const tp = flags.transportProtocol;
    if (tp !== null) {
      for (const m of sdp.media) {
        if (m.port === 0 || !RTP_PROTOS.has(m.proto)) continue;
        // We relay packets unchanged: AVP <-> AVPF is a profile label, SRTP would need crypto.
        if (!RTP_PROTOS.has(tp) || m.proto.includes('SAVP') !== tp.includes('SAVP')) {
          throw new RtpError('RTP_ERR_PROTOCOL', `${m.proto} -> ${tp}`);
        }
      }
    }
    author.symmetric = flags.symmetric;
    const anchors: (MediaAnchor | null)[] = [];
    const touched: MediaStream[] = [];
    const created: MediaStream[] = [];
    try {
      for (let i = 0; i < sdp.media.length; i++) {
        const m = sdp.media[i];
        if (m.port === 0) {
          anchors.push(null); // RFC 3264 §8.2: a rejected/disabled stream stays disabled
          continue;
        }
        const conn = mediaConnection(sdp, m);
        if (conn === null) throw new RtpError('RTP_ERR_BAD_SDP', `no c= for media ${i + 1}`);
        const authorFamily = familyOf(conn.addrType);
        const authorIf = this.pickInterface(flags.direction?.[0] ?? null, authorFamily);
        // The reader keeps the side it already has (the offerer's port when this is an
        // answer) unless direction / address family explicitly ask for another one.
        const readerExisting = reader.streams[i] ?? null;
        const readerIf =
          readerExisting !== null && flags.direction === null && flags.addressFamily === null
            ? readerExisting.iface
            : this.pickInterface(flags.direction?.[1] ?? null, flags.addressFamily ?? (flags.direction === null ? authorFamily : null));
        const a = await this.ensureStream(call, author, i, authorIf, created);
        const r = await this.ensureStream(call, reader, i, readerIf, created);
        a.partner = r;
        r.partner = a;
        a.type = r.type = m.type;
        a.proto = m.proto;
        r.proto = tp ?? m.proto;
        this.setSdpTarget(a, m, conn.address, flags);
        touched.push(a);
        anchors.push({
          address: r.iface.advertised,
          addrType: addrTypeOf(r.iface.family),
          rtpPort: r.port,
          rtcpPort: r.port + 1,
        });
      }
    } catch (e) {
      for (const s of created) this.releaseStream(call, s);
      throw e;
    }
    if (flags.ice === 'force') {
      reader.ice ??= { ufrag: randomBytes(6).toString('hex'), pwd: randomBytes(16).toString('hex') };
    } else if (flags.ice === 'remove') {
      reader.ice = null;
    }
    for (const a of touched) {
      const r = a.partner;
      if (r === null) continue;
      // The author's leg gets its new SDP target (latching again, RFC 7362 §4.1); the
      // reader's leg keeps its target and learnt address, only its partner is refreshed.
      this.workers.target(a.worker, a.port, a.sdpRtp, a.sdpRtcp, author.symmetric, r.port, author.ice, true);
      this.workers.target(r.worker, r.port, this.current(r, false), this.current(r, true), reader.symmetric, a.port, reader.ice, false);
    }
    return rewriteSdp(sdp, {
      anchors,
      replaceOrigin: flags.replaceOrigin,
      replaceSessionConnection: flags.replaceSessionConnection,
      ice: flags.ice,
      iceCredentials: flags.ice === 'force' ? reader.ice : null,
      transportProtocol: tp,
    });
  }

  private current(s: MediaStream, rtcp: boolean): Destination | null {
    return rtcp ? (s.latchedRtcp ?? s.sdpRtcp) : (s.latchedRtp ?? s.sdpRtp);
  }

  private setSdpTarget(s: MediaStream, m: SdpMedia, sdpAddress: string, flags: MediaFlags): void {
    let address = sdpAddress;
    if (flags.sipSourceAddress && !flags.trustAddress && flags.receivedFrom !== null) {
      address = flags.receivedFrom.address;
    }
    // RFC 3264 §8.4: c=0.0.0.0 (or ::) puts the stream on hold: nothing to send to.
    const hold = address === '0.0.0.0' || address === '::' || isIP(address) === 0;
    s.sdpRtp = hold ? null : { address, port: m.port };
    const rc = m.rtcp;
    const rtcpAddr = rc?.connection?.address ?? address;
    s.sdpRtcp = hold ? null : { address: rtcpAddr, port: rc?.port ?? (m.rtcpMux ? m.port : m.port + 1) };
    s.latchedRtp = null;
    s.latchedRtcp = null;
  }

  private async ensureStream(
    call: Call,
    mono: Monologue,
    index: number,
    iface: MediaInterface,
    created: MediaStream[],
  ): Promise<MediaStream> {
    const existing = mono.streams[index] ?? null;
    if (existing !== null && existing.iface === iface) return existing;
    for (let attempt = 0; attempt < BIND_RETRIES; attempt++) {
      const port = this.ports.allocate(call.worker);
      if (port === null) {
        throw new RtpError('RTP_ERR_PORTS_EXHAUSTED', `${this.ports.free(call.worker)} pairs left in this worker's range`);
      }
      const gen = ++this.gen;
      const r = await this.workers.open(call.worker, gen, port, iface.ip, iface.family);
      if (!r.ok) {
        this.ports.release(call.worker, port);
        if (r.code === 'EADDRINUSE') continue; // someone else holds it: try the next pair
        throw new RtpError('RTP_ERR_BIND', `${iface.ip}:${port}: ${r.message}`);
      }
      const s = new MediaStream(index, call.worker, port, gen, iface);
      if (existing !== null) this.releaseStream(call, existing); // interface change on re-INVITE
      while (mono.streams.length <= index) mono.streams.push(null);
      mono.streams[index] = s;
      this.byPort.set(port, s);
      created.push(s);
      if (call.deleted) {
        this.releaseStream(call, s);
        throw new RtpError('RTP_ERR_UNKNOWN_CALL');
      }
      return s;
    }
    throw new RtpError('RTP_ERR_PORTS_EXHAUSTED', 'every tried port is in use by another process');
  }

  private releaseStream(call: Call, s: MediaStream): void {
    if (this.byPort.get(s.port) !== s) return;
    this.addStats(s, this.closedRtp, this.closedRtcp);
    this.byPort.delete(s.port);
    this.workers.close(s.worker, s.port);
    this.ports.release(s.worker, s.port);
    for (const m of call.monologues.values()) {
      const i = m.streams.indexOf(s);
      if (i >= 0) m.streams[i] = null;
    }
    if (s.partner !== null && s.partner.partner === s) s.partner.partner = null;
  }

  private destroy(call: Call): void {
    call.deleted = true;
    for (const m of call.monologues.values()) {
      for (const s of m.streams) if (s !== null) this.releaseStream(call, s);
    }
    this.calls.delete(call.callId);
  }

  private onLatched(e: LatchEvent): void {
    const s = this.byPort.get(e.port);
    if (s === undefined || s.gen !== e.gen) return; // a late event of a released leg
    const d = { address: e.address, port: e.srcPort };
    if (e.rtcp) s.latchedRtcp = d;
    else s.latchedRtp = d;
  }

  private slot(s: MediaStream): number {
    return (s.port - this.workers.slices[s.worker].firstPort) / 2;
  }

  private addStats(s: MediaStream, rtp: PacketStats, rtcp: PacketStats): void {
    const c = this.workers.counters(s.worker);
    const b = this.slot(s) * COUNTER_FIELDS;
    rtp.packets += c[b + C_RTP_PACKETS];
    rtp.bytes += c[b + C_RTP_BYTES];
    rtp.errors += c[b + C_RTP_ERRORS];
    rtcp.packets += c[b + C_RTCP_PACKETS];
    rtcp.bytes += c[b + C_RTCP_BYTES];
    rtcp.errors += c[b + C_RTCP_ERRORS];
  }

  private report(call: Call): CallReport {
    const totalRtp: PacketStats = { packets: 0, bytes: 0, errors: 0 };
    const totalRtcp: PacketStats = { packets: 0, bytes: 0, errors: 0 };
    const tags: Record<string, unknown> = {};
    for (const mono of call.monologues.values()) {
      const medias: unknown[] = [];
      for (const s of mono.streams) {
        if (s === null) continue;
        const c = this.workers.counters(s.worker);
        const b = this.slot(s) * COUNTER_FIELDS;
        this.addStats(s, totalRtp, totalRtcp);
        medias.push({
          index: s.index + 1,
          type: s.type,
          protocol: s.proto,
          interface: s.iface.name,
          streams: [
            this.streamReport(s, false, c, b),
            this.streamReport(s, true, c, b),
          ],
        });
      }
      tags[mono.tag] = {
        tag: mono.tag,
        created: Math.floor(mono.created / 1000),
        'in dialogue with': mono.partner?.tag ?? '',
        subscriptions: mono.partner === null ? [] : [{ tag: mono.partner.tag, type: 'offer/answer' }],
        symmetric: mono.symmetric ? 'yes' : 'no',
        medias,
      };
    }
    return {
      created: Math.floor(call.created / 1000),
      // rtpengine sends the microsecond part of the creation time here, not a full timestamp.
      created_us: (call.created % 1000) * 1000,
      'last signal': Math.floor(call.lastSignal / 1000),
      tags,
      totals: { RTP: totalRtp, RTCP: totalRtcp },
    };
  }

  private streamReport(s: MediaStream, rtcp: boolean, c: Float64Array, b: number): Record<string, unknown> {
    const latched = rtcp ? s.latchedRtcp : s.latchedRtp;
    const sdpDest = rtcp ? s.sdpRtcp : s.sdpRtp;
    const dest = latched ?? sdpDest;
    const fam = (a: string): string => (isIP(a) === 6 ? 'IPv6' : 'IPv4');
    const last = c[b + (rtcp ? C_RTCP_LAST : C_RTP_LAST)];
    return {
      'local address': s.iface.ip,
      'local port': s.port + (rtcp ? 1 : 0),
      family: s.iface.family === 6 ? 'IPv6' : 'IPv4',
      endpoint: dest === null ? {} : { family: fam(dest.address), address: dest.address, port: dest.port },
      'advertised endpoint': sdpDest === null ? {} : { family: fam(sdpDest.address), address: sdpDest.address, port: sdpDest.port },
      'last packet': Math.floor(last / 1000),
      'last packet ms': last,
      // rtpengine's stream flags: "filled" = a destination is known, "confirmed" = learnt from packets.
      flags: [rtcp ? 'RTCP' : 'RTP', ...(dest !== null ? ['filled'] : []), ...(latched !== null ? ['confirmed'] : [])],
      stats: {
        packets: c[b + (rtcp ? C_RTCP_PACKETS : C_RTP_PACKETS)],
        bytes: c[b + (rtcp ? C_RTCP_BYTES : C_RTP_BYTES)],
        errors: c[b + (rtcp ? C_RTCP_ERRORS : C_RTP_ERRORS)],
      },
    };
  }
}
