import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeG711, encodeG711, g711Silence } from './g711.js';

describe('G.711', () => {
  for (const law of ['PCMU', 'PCMA'] as const) {
    it(`${law}: decode(encode(x)) stays within the segment's quantisation step`, () => {
      const pcm = new Int16Array(2001);
      for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(-32000 + i * 32);
      const enc = new Uint8Array(pcm.length);
      encodeG711(law, pcm, enc);
      const dec = new Int16Array(pcm.length);
      decodeG711(law, enc, dec);
      for (let i = 0; i < pcm.length; i++) {
        const x = pcm[i]!;
        // Logarithmic steps: at most ~1/16 of the magnitude, plus the smallest step.
        assert.ok(Math.abs(dec[i]! - x) <= Math.abs(x) / 16 + 34, `${law} ${x} -> ${dec[i]}`);
      }
    });

    it(`${law}: silence codeword decodes to (near) zero and every codeword round-trips`, () => {
      const out = new Int16Array(1);
      decodeG711(law, Uint8Array.of(g711Silence(law)), out);
      assert.ok(Math.abs(out[0]!) <= 8);
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const lin = new Int16Array(256);
      decodeG711(law, all, lin);
      const back = new Uint8Array(256);
      encodeG711(law, lin, back);
      for (let i = 0; i < 256; i++) {
        const again = new Int16Array(1);
        decodeG711(law, Uint8Array.of(back[i]!), again);
        assert.equal(again[0], lin[i], `codeword ${i}`);
      }
    });
  }

  it('known values: µ-law 0xff/0x7f is ±0, 0x00 is -32124; A-law 0xd5 is +8', () => {
    const o = new Int16Array(4);
    decodeG711('PCMU', Uint8Array.of(0xff, 0x7f, 0x00, 0x80), o);
    assert.deepEqual([...o], [0, 0, -32124, 32124]);
    const a = new Int16Array(1);
    decodeG711('PCMA', Uint8Array.of(0xd5), a);
    assert.equal(a[0], 8);
  });
});
