/**
 * WAV (RIFF WAVE, PCM) files: a header builder, a streaming writer that appends 16-bit
 * samples to a file and patches the sizes on close (fsync before the caller renames it into
 * place), and a reader that walks the RIFF chunks of untrusted uploads without assuming
 * the canonical 44-byte layout.
 */
import { close, closeSync, fsync, openSync, writeSync } from 'node:fs';
import { promisify } from 'node:util';

const fsyncAsync = promisify(fsync);
const closeAsync = promisify(close);

export const WAV_HEADER_SIZE = 44;

/** The canonical 44-byte header for mono 16-bit PCM. */
export function wavHeader(sampleRate: number, dataBytes: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_SIZE);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // WAVE_FORMAT_PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(sampleRate, 24);
  h.writeUInt32LE(sampleRate * 2, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** A whole file in memory. */
export function encodeWav(samples: Int16Array, sampleRate = 8000): Buffer {
  const data = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  return Buffer.concat([wavHeader(sampleRate, data.length), data]);
}

const FLUSH_SAMPLES = 8000;

/**
 * Appends samples to a file in one-second batches (one write per second of audio per call,
 * not one per packet). `finish()` writes the rest, patches the header, fsyncs and closes.
 */
export class WavFileWriter {
  readonly path: string;
  private fd: number | null;
  private readonly pending: Int16Array;
  private pendingLength: number;
  /** Samples written so far (including pending ones). */
  samples: number;

  constructor(path: string) {
    this.path = path;
    this.fd = openSync(path, 'w', 0o640);
    writeSync(this.fd, wavHeader(8000, 0), 0, WAV_HEADER_SIZE, 0);
    this.pending = new Int16Array(FLUSH_SAMPLES);
    this.pendingLength = 0;
    this.samples = 0;
  }

  write(src: Int16Array, offset = 0, length = src.length - offset): void {
    while (length > 0) {
      const n = Math.min(length, FLUSH_SAMPLES - this.pendingLength);
      this.pending.set(src.subarray(offset, offset + n), this.pendingLength);
      this.pendingLength += n;
      this.samples += n;
      offset += n;
      length -= n;
      if (this.pendingLength === FLUSH_SAMPLES) this.flush();
    }
  }

  /** Appends `count` samples of silence. */
  writeSilence(count: number): void {
    while (count > 0) {
      const n = Math.min(count, FLUSH_SAMPLES - this.pendingLength);
      this.pending.fill(0, this.pendingLength, this.pendingLength + n);
      this.pendingLength += n;
      this.samples += n;
      count -= n;
      if (this.pendingLength === FLUSH_SAMPLES) this.flush();
    }
  }

  private flush(): void {
    if (this.fd === null || this.pendingLength === 0) return;
    const bytes = Buffer.from(this.pending.buffer, 0, this.pendingLength * 2);
    writeSync(this.fd, bytes, 0, bytes.length, WAV_HEADER_SIZE + (this.samples - this.pendingLength) * 2);
    this.pendingLength = 0;
  }

  /**
   * Writes the rest and the final header, then fsyncs (off the event loop, so 200 calls
   * hanging up together do not stall the media clock) and closes. Returns the sample count.
   */
  async finish(): Promise<number> {
    const fd = this.fd;
    if (fd === null) return this.samples;
    this.flush();
    this.fd = null;
    writeSync(fd, wavHeader(8000, this.samples * 2), 0, WAV_HEADER_SIZE, 0);
    try {
      await fsyncAsync(fd);
    } finally {
      await closeAsync(fd);
    }
    return this.samples;
  }

  /** Closes without finishing (the caller deletes the file). */
  abort(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }
}

export interface WavAudio {
  sampleRate: number;
  channels: number;
  /** Mono 16-bit samples (multi-channel input is mixed down). */
  samples: Int16Array;
}

export type WavReadResult = { ok: true; audio: WavAudio } | { ok: false; reason: string };

/** Reads PCM 16-bit WAV (any rate, 1-2 channels); everything else is refused with a reason. */
export function readWav(buf: Buffer): WavReadResult {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    return { ok: false, reason: 'not a RIFF WAVE file' };
  }
  let off = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | null = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    // Streams written before their size was known carry 0 or 0xFFFFFFFF: take the rest.
    const end = size === 0 || size === 0xffffffff || body + size > buf.length ? buf.length : body + size;
    if (id === 'fmt ') {
      if (end - body < 16) return { ok: false, reason: 'fmt chunk too short' };
      let format = buf.readUInt16LE(body);
      // WAVE_FORMAT_EXTENSIBLE: the sub-format GUID starts with the real format tag.
      if (format === 0xfffe && end - body >= 26) format = buf.readUInt16LE(body + 24);
      fmt = { format, channels: buf.readUInt16LE(body + 2), rate: buf.readUInt32LE(body + 4), bits: buf.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (fmt === null) return { ok: false, reason: 'data chunk before fmt chunk' };
      if (fmt.format !== 1 || fmt.bits !== 16) return { ok: false, reason: `only 16-bit PCM is accepted (format ${fmt.format}, ${fmt.bits} bits)` };
      if (fmt.channels < 1 || fmt.channels > 2) return { ok: false, reason: `${fmt.channels} channels` };
      if (fmt.rate < 8000 || fmt.rate > 48000) return { ok: false, reason: `sample rate ${fmt.rate} outside 8000-48000` };
      const frames = Math.floor((end - body) / (2 * fmt.channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) {
        if (fmt.channels === 1) samples[i] = buf.readInt16LE(body + i * 2);
        else samples[i] = (buf.readInt16LE(body + i * 4) + buf.readInt16LE(body + i * 4 + 2)) >> 1;
      }
      return { ok: true, audio: { sampleRate: fmt.rate, channels: fmt.channels, samples } };
    }
    off = end + (size & 1); // chunks are word-aligned
  }
  return { ok: false, reason: 'no data chunk' };
}

/**
 * Resamples to 8 kHz: a windowed-sinc low-pass at 3.6 kHz (below the new Nyquist) evaluated
 * at each output instant. Greetings and uploads only, so clarity over speed.
 */
export function resampleTo8k(samples: Int16Array, rate: number): Int16Array {
  if (rate === 8000) return samples;
  const ratio = rate / 8000;
  const outLen = Math.floor(samples.length / ratio);
  const out = new Int16Array(outLen);
  const cutoff = Math.min(3600 / rate, 0.5);
  const half = Math.ceil(8 * ratio);
  for (let i = 0; i < outLen; i++) {
    const center = i * ratio;
    const c0 = Math.floor(center);
    let acc = 0;
    let norm = 0;
    for (let k = c0 - half + 1; k <= c0 + half; k++) {
      if (k < 0 || k >= samples.length) continue;
      const x = k - center;
      const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
      const w = 0.5 + 0.5 * Math.cos((Math.PI * x) / (half + 1)); // Hann window
      acc += samples[k]! * sinc * w;
      norm += sinc * w;
    }
    const v = norm === 0 ? 0 : acc / norm;
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : Math.round(v);
  }
  return out;
}
