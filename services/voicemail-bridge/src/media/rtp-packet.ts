/**
 * RTP (RFC 3550 §5.1) header parsing and building without allocation on the hot path:
 * `parseRtp` fills a caller-owned `RtpHeader`; `RtpPacketizer` writes headers into one
 * reusable buffer per stream. RFC 4733 §2.3 telephone-event payloads are decoded here too.
 */

export interface RtpHeader {
  version: number;
  padding: boolean;
  marker: boolean;
  payloadType: number;
  sequence: number;
  timestamp: number;
  ssrc: number;
  payloadOffset: number;
  payloadLength: number;
}

export function newRtpHeader(): RtpHeader {
  return { version: 0, padding: false, marker: false, payloadType: 0, sequence: 0, timestamp: 0, ssrc: 0, payloadOffset: 0, payloadLength: 0 };
}

/** Parses `buf` into `h`. False for anything that is not RTP version 2 with a sane length. */
export function parseRtp(buf: Uint8Array, len: number, h: RtpHeader): boolean {
  if (len < 12) return false;
  const b0 = buf[0]!;
  if (b0 >> 6 !== 2) return false;
  const cc = b0 & 0x0f;
  let offset = 12 + cc * 4;
  if ((b0 & 0x10) !== 0) {
    // §5.3.1 header extension: 16-bit profile, 16-bit length in 32-bit words.
    if (len < offset + 4) return false;
    offset += 4 + ((buf[offset + 2]! << 8) | buf[offset + 3]!) * 4;
  }
  let end = len;
  if ((b0 & 0x20) !== 0) {
    // §5.1 padding: the last octet counts the padding octets, itself included.
    const pad = buf[len - 1]!;
    if (pad === 0 || pad > len - offset) return false;
    end -= pad;
  }
  if (offset > end) return false;
  const b1 = buf[1]!;
  h.version = 2;
  h.padding = (b0 & 0x20) !== 0;
  h.marker = (b1 & 0x80) !== 0;
  h.payloadType = b1 & 0x7f;
  h.sequence = (buf[2]! << 8) | buf[3]!;
  h.timestamp = ((buf[4]! << 24) | (buf[5]! << 16) | (buf[6]! << 8) | buf[7]!) >>> 0;
  h.ssrc = ((buf[8]! << 24) | (buf[9]! << 16) | (buf[10]! << 8) | buf[11]!) >>> 0;
  h.payloadOffset = offset;
  h.payloadLength = end - offset;
  return true;
}

/**
 * Packet buffers per stream. dgram.send() hands the bytes to the socket only after the address
 * lookup it does even for IP literals (a later microtask), so a buffer must not be rewritten
 * by the next frame of a catch-up burst before then: frames rotate over a small ring (more
 * slots than the media clock's largest burst), allocated once per stream.
 */
const RING = 8;

/** One outgoing RTP stream: sequence, timestamp and SSRC state plus a ring of packet buffers. */
export class RtpPacketizer {
  readonly ssrc: number;
  readonly payloadType: number;
  sequence: number;
  timestamp: number;
  private readonly ring: Buffer[];
  private slot: number;
  private marker: boolean;

  constructor(payloadType: number, ssrc: number, initialSequence: number, initialTimestamp: number, maxPayload = 320) {
    this.payloadType = payloadType;
    this.ssrc = ssrc >>> 0;
    this.sequence = initialSequence & 0xffff;
    this.timestamp = initialTimestamp >>> 0;
    this.ring = Array.from({ length: RING }, () => Buffer.alloc(12 + maxPayload));
    this.slot = 0;
    this.marker = true;
  }

  /** The buffer of the current packet: the payload goes at [12…], then build(). */
  get buffer(): Buffer {
    return this.ring[this.slot]!;
  }

  /** Moves to the next buffer of the ring (call before filling a new packet). */
  nextBuffer(): Buffer {
    this.slot = (this.slot + 1) % RING;
    return this.ring[this.slot]!;
  }

  /** Marks the next packet as the first of a talkspurt (RFC 3551 §4.1). */
  markTalkspurt(): void {
    this.marker = true;
  }

  /**
   * Writes the header for a packet of `payloadLength` bytes (whose payload the caller has
   * placed at buffer[12…]) and advances sequence and timestamp. Returns the packet length.
   */
  build(payloadLength: number, samples: number): number {
    const b = this.buffer;
    b[0] = 0x80;
    b[1] = (this.marker ? 0x80 : 0) | (this.payloadType & 0x7f);
    b.writeUInt16BE(this.sequence, 2);
    b.writeUInt32BE(this.timestamp, 4);
    b.writeUInt32BE(this.ssrc, 8);
    this.marker = false;
    this.sequence = (this.sequence + 1) & 0xffff;
    this.timestamp = (this.timestamp + samples) >>> 0;
    return 12 + payloadLength;
  }
}

/** RFC 4733 §2.3 event payload: event, E bit, volume, duration. */
export interface TelephoneEvent {
  event: number;
  end: boolean;
  volume: number;
  duration: number;
}

export function parseTelephoneEvent(buf: Uint8Array, offset: number, length: number): TelephoneEvent | null {
  if (length < 4) return null;
  return {
    event: buf[offset]!,
    end: (buf[offset + 1]! & 0x80) !== 0,
    volume: buf[offset + 1]! & 0x3f,
    duration: (buf[offset + 2]! << 8) | buf[offset + 3]!,
  };
}

/** RFC 4733 §3.2 event codes 0-15 as DTMF digits. */
export const DTMF_DIGITS = '0123456789*#ABCD';

/** RFC 1889/3550 §A.1: the 16-bit sequence extended with a cycle count relative to `ref`. */
export function extendSequence(seq: number, ref: number): number {
  const refLow = ref & 0xffff;
  let delta = seq - refLow;
  if (delta > 0x8000) delta -= 0x10000;
  else if (delta < -0x8000) delta += 0x10000;
  return ref + delta;
}
