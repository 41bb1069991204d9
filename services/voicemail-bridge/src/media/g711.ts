/**
 * ITU-T G.711 µ-law and A-law, as lookup tables built once: decoding is one table read per
 * sample, encoding one read into a 16 K table indexed by the top 14 bits of the sample.
 */

const ULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
const ULAW_ENCODE = new Uint8Array(16384);
const ALAW_ENCODE = new Uint8Array(16384);

function ulawToLinear(u: number): number {
  u = ~u & 0xff;
  const sign = u & 0x80;
  const exponent = (u >> 4) & 0x07;
  const mantissa = u & 0x0f;
  const magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
  return sign !== 0 ? -magnitude : magnitude;
}

function alawToLinear(a: number): number {
  a ^= 0x55;
  const sign = a & 0x80;
  const exponent = (a >> 4) & 0x07;
  const mantissa = a & 0x0f;
  let magnitude = exponent === 0 ? (mantissa << 4) + 8 : ((mantissa << 4) + 0x108) << (exponent - 1);
  magnitude = magnitude | 0;
  return sign !== 0 ? magnitude : -magnitude;
}

function linearToUlaw(sample: number): number {
  const BIAS = 0x84;
  const CLIP = 32635;
  let sign = 0;
  if (sample < 0) {
    sample = -sample;
    sign = 0x80;
  }
  if (sample > CLIP) sample = CLIP;
  sample += BIAS;
  let exponent = 7;
  for (let mask = 0x4000; (sample & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
  const mantissa = (sample >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

function linearToAlaw(sample: number): number {
  let sign = 0x80;
  if (sample < 0) {
    sample = -sample - 1;
    sign = 0;
  }
  if (sample > 32767) sample = 32767;
  let out: number;
  if (sample < 256) {
    out = sample >> 4;
  } else {
    let exponent = 7;
    for (let mask = 0x4000; (sample & mask) === 0 && exponent > 1; mask >>= 1) exponent--;
    out = (exponent << 4) | ((sample >> (exponent + 3)) & 0x0f);
  }
  return (out | sign) ^ 0x55;
}

for (let i = 0; i < 256; i++) {
  ULAW_DECODE[i] = ulawToLinear(i);
  ALAW_DECODE[i] = alawToLinear(i);
}
for (let i = 0; i < 16384; i++) {
  const s = (i - 8192) << 2;
  ULAW_ENCODE[i] = linearToUlaw(s);
  ALAW_ENCODE[i] = linearToAlaw(s);
}

export type G711Law = 'PCMU' | 'PCMA';

/** Encodes 16-bit samples into `out` (one byte per sample). */
export function encodeG711(law: G711Law, pcm: Int16Array, out: Uint8Array, outOffset = 0): void {
  const table = law === 'PCMU' ? ULAW_ENCODE : ALAW_ENCODE;
  for (let i = 0; i < pcm.length; i++) out[outOffset + i] = table[(pcm[i]! >> 2) + 8192]!;
}

/** Decodes G.711 bytes into 16-bit samples at `out[outOffset…]`. */
export function decodeG711(law: G711Law, data: Uint8Array, out: Int16Array, outOffset = 0): void {
  const table = law === 'PCMU' ? ULAW_DECODE : ALAW_DECODE;
  for (let i = 0; i < data.length; i++) out[outOffset + i] = table[data[i]!]!;
}

/** The codeword for silence (linear 0). */
export function g711Silence(law: G711Law): number {
  return law === 'PCMU' ? 0xff : 0xd5;
}
