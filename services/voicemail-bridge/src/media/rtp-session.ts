/**
 * One call's media endpoint: an RTP socket on an even port and its RTCP socket on the next
 * (RFC 3550 §11), a queue of prompts played as paced 20 ms G.711 frames through the shared
 * MediaClock, and a receive path that hands audio payloads and RFC 4733 digits to the call.
 * Received packets are parsed into one reused header; nothing allocates per packet except
 * the payload copy the recorder keeps.
 */
import { createSocket, type Socket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import { encodeG711, type G711Law } from './g711.js';
import { FRAME_SAMPLES, type MediaClock, type PacedStream } from './media-clock.js';
import { DTMF_DIGITS, newRtpHeader, parseRtp, parseTelephoneEvent, RtpPacketizer, type RtpHeader } from './rtp-packet.js';

export interface RtpSessionListener {
  /** A G.711 audio packet of the negotiated payload type (payload valid during the call only). */
  onAudio(h: RtpHeader, packet: Buffer): void;
  /** A DTMF digit (RFC 4733), once per event. */
  onDigit(digit: string): void;
  /** The prompt queue ran empty. */
  onPlaybackDone(): void;
}

export interface RtpSessionStats {
  packetsReceived: number;
  packetsSent: number;
  invalid: number;
}

export interface MediaTarget {
  address: string;
  port: number;
  codec: G711Law;
  payloadType: number;
  telephoneEvent: number | null;
  /** False while the far end holds the call (RFC 3264 §8.4: sendonly/inactive offers). */
  send: boolean;
}

async function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<Socket> {
  const s = createSocket({ type, reuseAddr: false });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind({ address, port, exclusive: true }, () => {
        s.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    // The socket exists (and holds a handle) even though the bind failed: close it, or every
    // port found taken leaks one UDP handle.
    s.close();
    throw err;
  }
  return s;
}

export class RtpSession implements PacedStream {
  readonly localAddress: string;
  readonly localPort: number;
  readonly stats: RtpSessionStats;
  nextFrame: number;
  private readonly rtp: Socket;
  private readonly rtcp: Socket;
  private readonly clock: MediaClock;
  private listener: RtpSessionListener | null;
  private target: MediaTarget | null;
  private packetizer: RtpPacketizer | null;
  private readonly header: RtpHeader;
  private readonly queue: Int16Array[];
  private queueOffset: number;
  private playing: boolean;
  private lastEventTimestamp: number;
  private lastEvent: number;
  private closed: boolean;

  private constructor(rtp: Socket, rtcp: Socket, localAddress: string, localPort: number, clock: MediaClock) {
    this.rtp = rtp;
    this.rtcp = rtcp;
    this.localAddress = localAddress;
    this.localPort = localPort;
    this.clock = clock;
    this.listener = null;
    this.target = null;
    this.packetizer = null;
    this.header = newRtpHeader();
    this.queue = [];
    this.queueOffset = 0;
    this.playing = false;
    this.lastEventTimestamp = -1;
    this.lastEvent = -1;
    this.closed = false;
    this.nextFrame = 0;
    this.stats = { packetsReceived: 0, packetsSent: 0, invalid: 0 };
    rtp.on('message', (msg: Buffer) => this.receive(msg));
    rtp.on('error', () => {});
    // RTCP from the far end is accepted and ignored (reports are informational for us).
    rtcp.on('message', () => {});
    rtcp.on('error', () => {});
  }

  /** Binds the pair at `port`/`port+1`; rejects when either is taken. */
  static async open(address: string, port: number, clock: MediaClock): Promise<RtpSession> {
    const type = address.includes(':') ? 'udp6' : 'udp4';
    const rtp = await bindUdp(type, address, port);
    let rtcp: Socket;
    try {
      rtcp = await bindUdp(type, address, port + 1);
    } catch (e) {
      rtp.close();
      throw e;
    }
    return new RtpSession(rtp, rtcp, address, port, clock);
  }

  setListener(l: RtpSessionListener | null): void {
    this.listener = l;
  }

  /** The negotiated far end (again after every re-INVITE). */
  setTarget(t: MediaTarget): void {
    const changed = this.target === null || this.target.payloadType !== t.payloadType;
    this.target = t;
    if (changed || this.packetizer === null) this.packetizer = new RtpPacketizer(t.payloadType, randomInt(0, 0xffffffff), randomInt(0, 0xffff), randomInt(0, 0xffffffff));
  }

  get isPlaying(): boolean {
    return this.playing;
  }

  /** Queues a prompt (8 kHz samples); playback starts on the next grid frame. */
  play(samples: Int16Array): void {
    if (this.closed || samples.length === 0) return;
    this.queue.push(samples);
    if (!this.playing) {
      this.playing = true;
      this.packetizer?.markTalkspurt();
      this.clock.add(this);
    }
  }

  /** Drops queued prompts (a digit interrupted them). */
  stopPlayback(): void {
    this.queue.length = 0;
    this.queueOffset = 0;
    if (this.playing) {
      this.playing = false;
      this.clock.remove(this);
    }
  }

  onMediaFrame(): void {
    const t = this.target;
    const p = this.packetizer;
    if (t === null || p === null) return;
    // One 20 ms frame from the queue (prompts end on frame boundaries, padded with silence).
    const frame = FRAME_SCRATCH;
    let filled = 0;
    while (filled < FRAME_SAMPLES && this.queue.length > 0) {
      const head = this.queue[0]!;
      const n = Math.min(FRAME_SAMPLES - filled, head.length - this.queueOffset);
      frame.set(head.subarray(this.queueOffset, this.queueOffset + n), filled);
      filled += n;
      this.queueOffset += n;
      if (this.queueOffset >= head.length) {
        this.queue.shift();
        this.queueOffset = 0;
      }
    }
    if (filled === 0) {
      this.playing = false;
      this.clock.remove(this);
      this.listener?.onPlaybackDone();
      return;
    }
    frame.fill(0, filled);
    if (t.send && t.port !== 0) {
      const buf = p.nextBuffer();
      encodeG711(t.codec, frame, buf, 12);
      const len = p.build(FRAME_SAMPLES, FRAME_SAMPLES);
      this.rtp.send(buf, 0, len, t.port, t.address);
      this.stats.packetsSent++;
    } else {
      // On hold: time passes for the prompt, nothing is sent (RFC 3264 §8.4).
      p.timestamp = (p.timestamp + FRAME_SAMPLES) >>> 0;
    }
  }

  private receive(msg: Buffer): void {
    if (this.closed) return;
    const h = this.header;
    if (!parseRtp(msg, msg.length, h)) {
      this.stats.invalid++;
      return;
    }
    this.stats.packetsReceived++;
    const t = this.target;
    const l = this.listener;
    if (t === null || l === null) return;
    if (t.telephoneEvent !== null && h.payloadType === t.telephoneEvent) {
      // RFC 4733 §2.5.2.1: all packets of one event share its timestamp; act once per event.
      const ev = parseTelephoneEvent(msg, h.payloadOffset, h.payloadLength);
      if (ev === null || ev.event > 15) return;
      if (h.timestamp === this.lastEventTimestamp && ev.event === this.lastEvent) return;
      this.lastEventTimestamp = h.timestamp;
      this.lastEvent = ev.event;
      l.onDigit(DTMF_DIGITS[ev.event]!);
      return;
    }
    if (h.payloadType === t.payloadType) l.onAudio(h, msg);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopPlayback();
    this.listener = null;
    this.rtp.close();
    this.rtcp.close();
  }
}

/** The frame being encoded (the clock runs frames one at a time on one thread). */
const FRAME_SCRATCH = new Int16Array(FRAME_SAMPLES);

export type { G711Law };
