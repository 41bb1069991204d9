/**
 * The recorder's reordering buffer. RTP packets of one stream are held by extended sequence
 * number (RFC 3550 §A.1) until `depth` newer packets arrived, then released in order; each
 * released packet is placed on the timeline by its RTP timestamp, so a lost packet (or a
 * silence-suppressed stretch) becomes the right amount of silence and a late packet that
 * missed its slot is dropped. Not a playout buffer: nothing here is timed.
 */
import { extendSequence } from './rtp-packet.js';

/** Where decoded audio goes: consecutive samples, or silence to fill a gap. */
export interface SampleSink {
  writeEncoded(payload: Uint8Array): void;
  writeSilence(samples: number): void;
}

export interface JitterStats {
  received: number;
  duplicates: number;
  late: number;
  /** Samples of silence inserted for lost packets. */
  concealedSamples: number;
  reordered: number;
}

interface Slot {
  ext: number;
  timestamp: number;
  payload: Uint8Array;
}

/** A jump this large (5 s) is a new timeline (a restarted source), not a loss to fill. */
const MAX_GAP_SAMPLES = 5 * 8000;

export class JitterBuffer {
  readonly stats: JitterStats;
  private readonly depth: number;
  private readonly sink: SampleSink;
  private readonly slots: Map<number, Slot>;
  private ssrc: number | null;
  /** Highest extended sequence received. */
  private highest: number;
  /** Next extended sequence to release. */
  private nextRelease: number;
  /** RTP timestamp the timeline (sample 0 of the current stretch) corresponds to. */
  private nextTimestamp: number | null;

  constructor(sink: SampleSink, depth: number) {
    this.sink = sink;
    this.depth = depth;
    this.slots = new Map();
    this.ssrc = null;
    this.highest = -1;
    this.nextRelease = 0;
    this.nextTimestamp = null;
    this.stats = { received: 0, duplicates: 0, late: 0, concealedSamples: 0, reordered: 0 };
  }

  /** One audio packet (payload copied: the receive buffer is reused). */
  push(ssrc: number, sequence: number, timestamp: number, payload: Uint8Array): void {
    if (this.ssrc !== ssrc) {
      // RFC 3550 §8.2: a new SSRC is a new source; what we hold of the old one goes out first.
      this.drain();
      this.ssrc = ssrc;
      this.highest = -1;
    }
    this.stats.received++;
    const ext = this.highest < 0 ? sequence + 0x10000 : extendSequence(sequence, this.highest);
    if (this.highest < 0) {
      this.highest = ext;
      this.nextRelease = ext;
    }
    if (ext < this.nextRelease) {
      this.stats.late++;
      return;
    }
    if (this.slots.has(ext)) {
      this.stats.duplicates++;
      return;
    }
    if (ext < this.highest) this.stats.reordered++;
    this.slots.set(ext, { ext, timestamp, payload: Uint8Array.prototype.slice.call(payload) });
    if (ext > this.highest) this.highest = ext;
    while (this.highest - this.nextRelease >= this.depth) this.releaseNext();
  }

  /** Releases everything held (end of the recording). */
  drain(): void {
    while (this.nextRelease <= this.highest && this.slots.size > 0) this.releaseNext();
    this.slots.clear();
  }

  private releaseNext(): void {
    const seq = this.nextRelease++;
    const slot = this.slots.get(seq);
    if (slot === undefined) return; // lost: the next packet's timestamp accounts for it
    this.slots.delete(seq);
    const len = slot.payload.length;
    if (this.nextTimestamp !== null) {
      // Signed 32-bit distance from where the timeline stands to this packet.
      const gap = (slot.timestamp - this.nextTimestamp) | 0;
      if (gap < 0) {
        // Overlaps audio already written (a sender that restarted its clock): skip the overlap.
        if (-gap >= len) {
          this.stats.late++;
          return;
        }
        this.sink.writeEncoded(slot.payload.subarray(-gap));
        this.nextTimestamp = (slot.timestamp + len) >>> 0;
        return;
      }
      if (gap > 0 && gap <= MAX_GAP_SAMPLES) {
        this.sink.writeSilence(gap);
        this.stats.concealedSamples += gap;
      }
    }
    this.sink.writeEncoded(slot.payload);
    this.nextTimestamp = (slot.timestamp + len) >>> 0;
  }
}
