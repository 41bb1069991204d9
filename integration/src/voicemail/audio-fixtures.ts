/**
 * Test audio: a sine tone rendered by sox as raw µ-law (what a G.711 phone sends), and the
 * Goertzel power check that tells which frequency a recording holds.
 */
import { execFileSync } from 'node:child_process';

/** `seconds` of a `freq` Hz sine as 8 kHz µ-law bytes, from sox. */
export function soxToneUlaw(freq: number, seconds: number): Buffer {
  return execFileSync('sox', ['-n', '-r', '8000', '-c', '1', '-e', 'u-law', '-t', 'raw', '-', 'synth', String(seconds), 'sine', String(freq), 'vol', '0.5'], { maxBuffer: 16 * 1024 * 1024 });
}

/** Goertzel power of `freq` in `samples` (8 kHz), normalised by length. */
export function goertzel(samples: Int16Array, freq: number, rate = 8000): number {
  const k = (2 * Math.cos((2 * Math.PI * freq) / rate));
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < samples.length; i++) {
    const s0 = samples[i]! + k * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - k * s1 * s2) / (samples.length * samples.length);
}

/** The strongest of `candidates` and how far it stands above the next one. */
export function dominantFrequency(samples: Int16Array, candidates: readonly number[]): { freq: number; ratio: number } {
  const powers = candidates.map((f) => ({ f, p: goertzel(samples, f) })).sort((a, b) => b.p - a.p);
  return { freq: powers[0]!.f, ratio: powers[0]!.p / Math.max(powers[1]?.p ?? 0, 1e-9) };
}

/** ITU-T G.711 µ-law expansion, written out here so the suite does not judge the bridge with its own codec. */
export function ulawDecode(data: Uint8Array): Int16Array {
  const out = new Int16Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const u = ~data[i]! & 0xff;
    const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
    out[i] = u & 0x80 ? 0x84 - t : t - 0x84;
  }
  return out;
}

/** The samples of a mono 16-bit PCM WAV, with its rate; throws on anything else. */
export function wavSamples(buf: Buffer): { rate: number; samples: Int16Array } {
  if (buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') throw new Error('not a WAV file');
  let off = 12;
  let rate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('latin1', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (buf.readUInt16LE(off + 8) !== 1 || buf.readUInt16LE(off + 10) !== 1 || buf.readUInt16LE(off + 22) !== 16) throw new Error('not mono 16-bit PCM');
      rate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') {
      const n = Math.floor(Math.min(size, buf.length - off - 8) / 2);
      const samples = new Int16Array(n);
      for (let i = 0; i < n; i++) samples[i] = buf.readInt16LE(off + 8 + i * 2);
      return { rate, samples };
    }
    off += 8 + size + (size & 1);
  }
  throw new Error('no data chunk');
}
