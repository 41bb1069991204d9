import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeWav, readWav, resampleTo8k, WavFileWriter, wavHeader } from './wav.js';

const dir = mkdtempSync(join(tmpdir(), 'vm-wav-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('WavFileWriter', () => {
  it('streams samples and silence, then patches the RIFF and data sizes', async () => {
    const path = join(dir, 'a.wav');
    const w = new WavFileWriter(path);
    const ramp = Int16Array.from({ length: 12_345 }, (_, i) => (i % 2000) - 1000);
    w.write(ramp);
    w.writeSilence(9000);
    w.write(ramp, 100, 5);
    assert.equal(await w.finish(), 12_345 + 9000 + 5);
    const buf = readFileSync(path);
    assert.equal(buf.length, 44 + (12_345 + 9000 + 5) * 2);
    assert.equal(buf.readUInt32LE(4), buf.length - 8);
    assert.equal(buf.readUInt32LE(40), buf.length - 44);
    const r = readWav(buf);
    assert.ok(r.ok);
    assert.equal(r.audio.sampleRate, 8000);
    assert.deepEqual([...r.audio.samples.subarray(0, 12_345)], [...ramp]);
    assert.ok(r.audio.samples.subarray(12_345, 12_345 + 9000).every((s) => s === 0));
    assert.deepEqual([...r.audio.samples.subarray(21_345)], [...ramp.subarray(100, 105)]);
  });
});

describe('readWav', () => {
  it('walks chunks (LIST before data), mixes stereo down, reads extensible PCM', () => {
    const fmt = wavHeader(16000, 8).subarray(12, 36);
    fmt.writeUInt16LE(2, 10); // channels
    const list = Buffer.concat([Buffer.from('LIST'), Buffer.from([3, 0, 0, 0]), Buffer.from('abc'), Buffer.alloc(1)]);
    const data = Buffer.concat([Buffer.from('data'), Buffer.from([8, 0, 0, 0]), Buffer.from(Int16Array.of(100, 300, -100, -300).buffer)]);
    const body = Buffer.concat([Buffer.from('WAVE'), fmt, list, data]);
    const file = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), body]);
    const r = readWav(file);
    assert.ok(r.ok, r.ok ? '' : r.reason);
    assert.equal(r.audio.sampleRate, 16000);
    assert.deepEqual([...r.audio.samples], [200, -200]);
  });

  it('refuses non-PCM, 8-bit, wrong rates and garbage with a reason', () => {
    const mk = (format: number, bits: number, rate: number) => {
      const h = wavHeader(rate, 4);
      h.writeUInt16LE(format, 20);
      h.writeUInt16LE(bits, 34);
      return Buffer.concat([h, Buffer.alloc(4)]);
    };
    assert.equal(readWav(mk(6, 8, 8000)).ok, false, 'A-law WAV');
    assert.equal(readWav(mk(1, 8, 8000)).ok, false, '8-bit');
    assert.equal(readWav(mk(1, 16, 4000)).ok, false, '4 kHz');
    assert.equal(readWav(Buffer.from('not a wav file at all')).ok, false);
    assert.equal(readWav(Buffer.alloc(0)).ok, false);
  });

  it('accepts the streaming sizes espeak-ng writes (data size beyond the file)', () => {
    const f = encodeWav(Int16Array.of(1, 2, 3));
    f.writeUInt32LE(0x7ffff000, 40);
    const r = readWav(f);
    assert.ok(r.ok);
    assert.deepEqual([...r.audio.samples], [1, 2, 3]);
  });
});

describe('resampleTo8k', () => {
  it('keeps a 1 kHz tone at 1 kHz and the length in time', () => {
    const rate = 22050;
    const src = Int16Array.from({ length: rate }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * 1000 * i) / rate)));
    const out = resampleTo8k(src, rate);
    assert.equal(out.length, 8000);
    // Zero crossings of 1 kHz over one second: about 2000.
    let crossings = 0;
    for (let i = 1; i < out.length; i++) if ((out[i - 1]! < 0) !== (out[i]! < 0)) crossings++;
    assert.ok(Math.abs(crossings - 2000) < 20, `${crossings} crossings`);
    const peak = out.subarray(100, 7900).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(peak > 9000 && peak < 11000, `amplitude kept (${peak})`);
  });
});
