import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JitterBuffer, type SampleSink } from './jitter-buffer.js';

/** Records what the buffer releases: payload bytes as values, silence as 0. */
class Recorder implements SampleSink {
  out: number[] = [];
  writeEncoded(p: Uint8Array): void {
    for (const b of p) this.out.push(b);
  }
  writeSilence(n: number): void {
    for (let i = 0; i < n; i++) this.out.push(0);
  }
}

/** A 4-sample packet whose bytes all equal `n` (n > 0), timestamp 4 per packet. */
function pkt(n: number): Uint8Array {
  return new Uint8Array(4).fill(n);
}

function feed(order: number[], depth = 3, firstSeq = 100, ssrc = 7): { rec: Recorder; jb: JitterBuffer } {
  const rec = new Recorder();
  const jb = new JitterBuffer(rec, depth);
  for (const i of order) jb.push(ssrc, (firstSeq + i) & 0xffff, (1000 + i * 4) >>> 0, pkt(i + 1));
  jb.drain();
  return { rec, jb };
}

function expected(count: number, missing: number[] = []): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) for (let k = 0; k < 4; k++) out.push(missing.includes(i) ? 0 : i + 1);
  return out;
}

describe('JitterBuffer', () => {
  it('in-order packets come out as they went in', () => {
    assert.deepEqual(feed([0, 1, 2, 3, 4, 5]).rec.out, expected(6));
  });

  it('reorders within the depth', () => {
    const { rec, jb } = feed([0, 2, 1, 4, 3, 5, 7, 6]);
    assert.deepEqual(rec.out, expected(8));
    assert.equal(jb.stats.reordered, 3);
    assert.equal(jb.stats.late, 0);
  });

  it('fills a lost packet with silence of its length, from the timestamps', () => {
    const { rec, jb } = feed([0, 1, 3, 4, 5]);
    assert.deepEqual(rec.out, expected(6, [2]));
    assert.equal(jb.stats.concealedSamples, 4);
  });

  it('drops duplicates and packets later than the window', () => {
    const { rec, jb } = feed([0, 1, 1, 2, 3, 4, 5, 6, 7, 2]);
    assert.deepEqual(rec.out, expected(8));
    assert.equal(jb.stats.duplicates, 1);
    assert.equal(jb.stats.late, 1);
  });

  it('crosses the 16-bit sequence wrap', () => {
    assert.deepEqual(feed([0, 1, 3, 2, 4, 5], 3, 0xfffd).rec.out, expected(6));
  });

  it('a new SSRC flushes the old stream first and starts its own timeline', () => {
    const rec = new Recorder();
    const jb = new JitterBuffer(rec, 5);
    jb.push(1, 10, 0, pkt(1));
    jb.push(1, 11, 4, pkt(2));
    jb.push(2, 500, 999_999, pkt(3));
    jb.drain();
    assert.deepEqual(rec.out, [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
  });

  it('does not fill a huge timestamp jump (a restarted sender) with minutes of silence', () => {
    const rec = new Recorder();
    const jb = new JitterBuffer(rec, 2);
    jb.push(1, 1, 0, pkt(1));
    jb.push(1, 2, 8000 * 3600, pkt(2));
    jb.drain();
    assert.equal(rec.out.length, 8);
  });
});
