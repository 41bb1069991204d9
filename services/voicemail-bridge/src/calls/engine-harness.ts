/**
 * Test support (STYLE.md 11): the built-in engine wired exactly as bridge.ts wires it — UA,
 * transaction layer, engine, mailbox store, MWI notifier, metrics — but on a fake SIP
 * transport and one manual clock that drives the timer wheel, the media clock and MWI
 * expiry. SIP is injected as text and read back parsed; RTP is real, over loopback, to one
 * caller socket. `advance()` moves time in 20 ms media frames. Not used by production code.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_TIMER_SETTINGS,
  ManualClock,
  SipRequest,
  SipResponse,
  TimerWheel,
  TransactionLayer,
  TransportLayer,
  parseMessage,
  silentLogger,
  type Transport,
  type TransportAddress,
  type TransportHost,
  type TransportProtocol,
} from '@voip/sip';
import type { FastifyInstance } from 'fastify';
import { buildHttp } from '../http/http-server.js';
import { MailboxStore } from '../mailbox/mailbox-store.js';
import { MediaClock } from '../media/media-clock.js';
import { PortAllocator } from '../media/port-allocator.js';
import { PromptLibrary } from '../media/prompts.js';
import { VoicemailMetrics } from '../metrics.js';
import { MwiNotifier, type MwiSettings } from '../mwi/mwi-notifier.js';
import { UserAgent } from '../sip/user-agent.js';
import { SubscriberDirectory, subscriberSource } from '../subscribers/subscriber-directory.js';
import type { CallSettings } from './call-context.js';
import { VoicemailEngine } from './voicemail-engine.js';

export const BRIDGE_ADDRESS = '127.0.0.1';
export const BRIDGE_PORT = 5080;
/** Where the fake caller's SIP "comes from" (nothing listens there: the transport is fake). */
export const CALLER_SIP_PORT = 5061;

/** A SIP transport that records what is sent and delivers injected text through the real receive path. */
export class FakeSipTransport implements Transport {
  readonly protocol: TransportProtocol = 'UDP';
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  readonly reliable = false;
  readonly sent: (SipRequest | SipResponse)[];
  private readonly host: TransportHost;

  constructor(host: TransportHost) {
    this.host = host;
    this.local = { protocol: 'UDP', address: BRIDGE_ADDRESS, port: BRIDGE_PORT };
    this.advertised = { host: BRIDGE_ADDRESS, port: BRIDGE_PORT };
    this.sent = [];
  }

  send(buf: Buffer): void {
    const r = parseMessage(buf);
    if (!r.ok) throw new Error(`the bridge sent an unparsable message: ${buf.toString('latin1').slice(0, 200)}`);
    this.sent.push(r.message);
  }

  inject(text: string): void {
    this.host.receive(Buffer.from(text, 'latin1'), { protocol: 'UDP', address: BRIDGE_ADDRESS, port: CALLER_SIP_PORT, local: this.local, connectionId: null });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export interface HarnessOptions {
  settings?: Partial<CallSettings>;
  /** Media port range (pairs). */
  ports?: [number, number];
  mwi?: Partial<MwiSettings>;
  /** Prompt library (default: tone prompts). */
  prompts?: PromptLibrary;
  maxCalls?: number;
}

export interface RequestSpec {
  method: string;
  user: string;
  callId: string;
  fromTag: string;
  toTag?: string;
  cseq: number;
  branch?: string;
  body?: string;
  contentType?: string;
  extra?: string[];
}

let branchSeq = 0;

/** A request as the caller (alice@example.com at CALLER_SIP_PORT) sends it. */
export function requestText(o: RequestSpec): string {
  const body = o.body ?? '';
  return [
    `${o.method} sip:${o.user}@${BRIDGE_ADDRESS}:${BRIDGE_PORT} SIP/2.0`,
    `Via: SIP/2.0/UDP ${BRIDGE_ADDRESS}:${CALLER_SIP_PORT};branch=${o.branch ?? `z9hG4bK-h${++branchSeq}`}`,
    'Max-Forwards: 70',
    `From: <sip:alice@example.com>;tag=${o.fromTag}`,
    `To: <sip:${o.user}@example.com>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq} ${o.method}`,
    `Contact: <sip:alice@${BRIDGE_ADDRESS}:${CALLER_SIP_PORT}>`,
    ...(o.extra ?? []),
    ...(body !== '' ? [`Content-Type: ${o.contentType ?? 'application/sdp'}`] : []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n');
}

/** A 200 OK to a request the bridge sent (BYE, NOTIFY). */
export function okTo(req: SipRequest): string {
  const h = req.headers;
  return [
    'SIP/2.0 200 OK',
    ...h.getAll('via').map((v) => `Via: ${v}`),
    `From: ${h.get('from')}`,
    `To: ${h.get('to')}`,
    `Call-ID: ${req.callId}`,
    `CSeq: ${h.get('cseq')}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** An RTP packet: PCMU (payload type 0) audio of `payload`, or an RFC 4733 event. */
export function rtpPacket(seq: number, timestamp: number, ssrc: number, payloadType: number, payload: Buffer): Buffer {
  const p = Buffer.alloc(12 + payload.length);
  p[0] = 0x80;
  p[1] = payloadType & 0x7f;
  p.writeUInt16BE(seq & 0xffff, 2);
  p.writeUInt32BE(timestamp >>> 0, 4);
  p.writeUInt32BE(ssrc >>> 0, 8);
  payload.copy(p, 12);
  return p;
}

/** RFC 4733 §2.3 payload: event, E bit + volume 10, duration. */
export function telephoneEvent(event: number, end: boolean, duration: number): Buffer {
  const b = Buffer.alloc(4);
  b[0] = event;
  b[1] = (end ? 0x80 : 0) | 10;
  b.writeUInt16BE(duration, 2);
  return b;
}

export class EngineHarness {
  readonly dir: string;
  readonly clock: ManualClock;
  readonly wheel: TimerWheel;
  readonly transport: TransportLayer;
  readonly sip: FakeSipTransport;
  readonly ua: UserAgent;
  readonly tl: TransactionLayer;
  readonly media: MediaClock;
  readonly ports: PortAllocator;
  readonly store: MailboxStore;
  readonly prompts: PromptLibrary;
  readonly directory: SubscriberDirectory;
  readonly mwi: MwiNotifier;
  readonly metrics: VoicemailMetrics;
  readonly engine: VoicemailEngine;
  readonly http: FastifyInstance;
  /** The caller's RTP socket: receives our greetings, sends its audio. */
  readonly rtp: Socket;
  readonly rtpPort: number;
  /** RTP packets the caller socket received. */
  readonly received: Buffer[];

  private constructor(dir: string, directory: SubscriberDirectory, prompts: PromptLibrary, rtp: Socket, opts: HarnessOptions) {
    this.dir = dir;
    this.directory = directory;
    this.prompts = prompts;
    this.rtp = rtp;
    this.rtpPort = rtp.address().port;
    this.received = [];
    rtp.on('message', (m: Buffer) => this.received.push(m));
    this.clock = new ManualClock(0);
    this.wheel = new TimerWheel({ clock: this.clock, manual: true, tickMs: 10 });
    this.transport = new TransportLayer({ maxMessageSize: 65535 });
    this.sip = new FakeSipTransport(this.transport.host);
    this.transport.attach(this.sip);
    this.ua = new UserAgent(this.transport, silentLogger);
    this.tl = new TransactionLayer(this.transport, this.ua, { timers: { ...DEFAULT_TIMER_SETTINGS, T1: 500 }, wheel: this.wheel });
    this.ua.attach(this.tl);
    const clock = this.clock;
    this.media = new MediaClock(() => clock.time);
    const [min, max] = opts.ports ?? [41000, 41199];
    this.ports = new PortAllocator(min, max);
    this.store = new MailboxStore(join(dir, 'spool'));
    this.mwi = new MwiNotifier(
      this.ua,
      this.wheel,
      this.store,
      directory,
      { defaultExpires: 3600, minExpires: 60, maxExpires: 86_400, unsolicited: false, proxy: null, ...opts.mwi },
      silentLogger,
      () => clock.time,
    );
    this.store.setListener(this.mwi);
    const ua = this.ua;
    const media = this.media;
    const mwi = this.mwi;
    let engine: VoicemailEngine | null = null;
    this.metrics = new VoicemailMetrics({
      activeCalls: () => engine?.activeCalls ?? 0,
      subscriptions: () => mwi.size,
      subscribers: () => directory.size,
      dialogs: () => ua.dialogCount,
      mediaClock: () => media.stats,
      notifies: () => ({ sent: mwi.stats.notifiesSent, failed: mwi.stats.notifiesFailed, unsolicited: mwi.stats.unsolicitedSent }),
    });
    engine = new VoicemailEngine({
      ua: this.ua,
      wheel: this.wheel,
      clock: this.media,
      ports: this.ports,
      mailboxes: this.store,
      prompts,
      directory,
      mwi: this.mwi,
      settings: { maxRecordingSeconds: 180, minRecordingSeconds: 1, reorderDepth: 10, idleSeconds: 60, ...opts.settings },
      observer: this.metrics,
      log: silentLogger,
      mediaIp: '127.0.0.1',
      mediaAdvertise: '127.0.0.1',
      maxCalls: opts.maxCalls ?? 1000,
      requireAssertedIdentity: true,
    });
    this.engine = engine;
    this.ua.setHandler(engine);
    this.http = buildHttp({ mailboxes: this.store, greetings: this.store, directory, registry: this.metrics.registry, health: () => ({}) });
  }

  /** Subscribers bob@example.com and carol@example.com. */
  static async start(opts: HarnessOptions = {}): Promise<EngineHarness> {
    const dir = mkdtempSync(join(tmpdir(), 'vm-engine-'));
    const subs = join(dir, 'subscribers.yaml');
    writeFileSync(subs, 'subscribers:\n  - { username: bob, domain: example.com, password: x }\n  - { username: carol, domain: example.com, password: x }\n');
    const directory = new SubscriberDirectory(subscriberSource(`file:${subs}`));
    await directory.refresh();
    const prompts = opts.prompts ?? new PromptLibrary({ speech: false, voice: 'en' });
    await prompts.preload();
    const rtp = createSocket('udp4');
    await new Promise<void>((resolve) => rtp.bind(0, '127.0.0.1', resolve));
    return new EngineHarness(dir, directory, prompts, rtp, opts);
  }

  /** A PCMU + telephone-event offer pointing at the caller socket. */
  offer(payloadTypes = '0 101'): string {
    return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${this.rtpPort} RTP/AVP ${payloadTypes}\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n`;
  }

  inject(text: string): void {
    this.sip.inject(text);
  }

  /** Removes and returns the first sent message matching `pred`, if any. */
  take<T extends SipRequest | SipResponse>(pred: (m: SipRequest | SipResponse) => m is T): T | undefined;
  take(pred: (m: SipRequest | SipResponse) => boolean): SipRequest | SipResponse | undefined;
  take(pred: (m: SipRequest | SipResponse) => boolean): SipRequest | SipResponse | undefined {
    const i = this.sip.sent.findIndex(pred);
    return i < 0 ? undefined : this.sip.sent.splice(i, 1)[0];
  }

  /**
   * Lets I/O run (socket binds, file writes, fsync) until `pred` holds. The bound is on
   * event-loop turns, not a latency budget: it is far beyond what a loaded machine needs
   * (fsync under parallel test files), so hitting it means the awaited thing never happens.
   */
  async until(pred: () => boolean, what: string, turns = 100_000): Promise<void> {
    for (let i = 0; i < turns; i++) {
      if (pred()) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (i % 10 === 9) await new Promise<void>((resolve) => setTimeout(resolve, 1));
    }
    throw new Error(`never happened: ${what}`);
  }

  /** Waits for (and removes) a sent response with `status` (or any final if 0) for call `callId`, method `method`. */
  async response(callId: string, method: string, status = 0): Promise<SipResponse> {
    let found: SipResponse | undefined;
    const match = (m: SipRequest | SipResponse): m is SipResponse =>
      m instanceof SipResponse && m.callId === callId && m.cseq.method === method && (status === 0 ? m.status >= 200 : m.status === status);
    await this.until(() => (found = this.take(match)) !== undefined, `${status || 'final'} to ${method} ${callId}`);
    return found!;
  }

  /** Waits for (and removes) a request the bridge sent in call `callId`. */
  async request(callId: string, method: string): Promise<SipRequest> {
    let found: SipRequest | undefined;
    const match = (m: SipRequest | SipResponse): m is SipRequest => m instanceof SipRequest && m.callId === callId && m.method === method;
    await this.until(() => (found = this.take(match)) !== undefined, `${method} in ${callId}`);
    return found!;
  }

  /** The RTP port our SDP answer names. */
  static mediaPort(res: SipResponse): number {
    const m = /^m=audio (\d+) /m.exec(res.body.toString('latin1'));
    if (m === null) throw new Error('no m=audio line in the answer');
    return Number(m[1]);
  }

  /** Sends `packets` to `port` and waits until the engine's calls received them all (or a call ended). */
  async sendRtp(port: number, packets: Buffer[]): Promise<void> {
    const before = this.engine.rtpPacketsReceived;
    const calls = this.engine.activeCalls;
    for (const p of packets) this.rtp.send(p, port, '127.0.0.1');
    await this.until(
      () => this.engine.rtpPacketsReceived >= before + packets.length || this.engine.activeCalls < calls,
      `${packets.length} RTP packets delivered to port ${port}`,
    );
  }

  /** Moves time by `ms` in 20 ms media frames: SIP timers, media clock, MWI expiry. */
  advance(ms: number): void {
    for (let left = ms; left > 0; left -= 20) {
      this.clock.time += Math.min(20, left);
      this.wheel.poll();
      if (this.media.size > 0) this.media.tick();
    }
  }

  /**
   * Like advance(), but lets the event loop turn after every frame, so each RTP packet is
   * handed to the kernel before the packetizer reuses its buffer (its ring is sized for the
   * media clock's largest burst, not for a whole prompt sent in one synchronous loop).
   */
  async play(ms: number): Promise<void> {
    for (let left = ms; left > 0; left -= 20) {
      this.advance(Math.min(20, left));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  async close(): Promise<void> {
    await this.engine.close();
    this.mwi.close();
    this.ua.close();
    this.media.close();
    await this.http.close();
    this.tl.close();
    await this.transport.close();
    await this.directory.close();
    await new Promise<void>((resolve) => this.rtp.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
