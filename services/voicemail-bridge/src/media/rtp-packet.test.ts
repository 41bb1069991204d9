import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extendSequence, newRtpHeader, parseRtp, parseTelephoneEvent, RtpPacketizer } from './rtp-packet.js';

describe('RtpPacketizer', () => {
  it('writes RFC 3550 headers: version 2, marker on the first packet, seq +1, timestamp +samples, fixed SSRC', () => {
    const p = new RtpPacketizer(8, 0xdeadbeef, 0xfffe, 0xfffffff0);
    const h = newRtpHeader();
    const seen: { seq: number; ts: number; marker: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      p.buffer.fill(i, 12, 12 + 160);
      const len = p.build(160, 160);
      assert.equal(len, 172);
      assert.ok(parseRtp(p.buffer, len, h));
      assert.equal(h.payloadType, 8);
      assert.equal(h.ssrc, 0xdeadbeef);
      assert.equal(h.payloadLength, 160);
      assert.equal(p.buffer[h.payloadOffset], i);
      seen.push({ seq: h.sequence, ts: h.timestamp, marker: h.marker });
    }
    assert.deepEqual(seen, [
      { seq: 0xfffe, ts: 0xfffffff0, marker: true },
      { seq: 0xffff, ts: 0x90, marker: false },
      { seq: 0, ts: 0x130, marker: false },
    ]);
    p.markTalkspurt();
    p.build(160, 160);
    assert.ok(parseRtp(p.buffer, 172, h) && h.marker);
  });
});

describe('RtpPacketizer buffer ring', () => {
  it('frames of one catch-up burst never share a buffer (dgram sends after a microtask)', () => {
    const p = new RtpPacketizer(0, 1, 0, 0);
    const seen = new Set<Buffer>();
    for (let i = 0; i < 8; i++) seen.add(p.nextBuffer());
    assert.equal(seen.size, 8);
    assert.ok(seen.has(p.nextBuffer()), 'the ring wraps after eight frames');
  });
});

describe('parseRtp', () => {
  it('skips CSRCs and the header extension, strips padding', () => {
    const b = Buffer.alloc(12 + 4 + 8 + 10 + 2);
    b[0] = 0x80 | 0x20 | 0x10 | 1; // V=2, P, X, CC=1
    b[1] = 0;
    const ext = 16;
    b.writeUInt16BE(0xbede, ext);
    b.writeUInt16BE(1, ext + 2); // one 32-bit word
    b[b.length - 1] = 2; // two padding octets
    const h = newRtpHeader();
    assert.ok(parseRtp(b, b.length, h));
    assert.equal(h.payloadOffset, 12 + 4 + 8);
    assert.equal(h.payloadLength, 10);
  });

  it('refuses what is not RTP', () => {
    const h = newRtpHeader();
    assert.equal(parseRtp(Buffer.alloc(11), 11, h), false);
    assert.equal(parseRtp(Buffer.from([0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 12, h), false, 'version 1');
    const pad = Buffer.alloc(14);
    pad[0] = 0xa0;
    pad[13] = 9; // more padding than payload
    assert.equal(parseRtp(pad, 14, h), false);
    const ext = Buffer.alloc(14);
    ext[0] = 0x90; // extension announced but truncated
    assert.equal(parseRtp(ext, 14, h), false);
  });
});

describe('RFC 4733 and sequence extension', () => {
  it('decodes a telephone-event payload', () => {
    assert.deepEqual(parseTelephoneEvent(Buffer.from([11, 0x8a, 0x03, 0x20]), 0, 4), { event: 11, end: true, volume: 10, duration: 800 });
    assert.equal(parseTelephoneEvent(Buffer.from([1, 2]), 0, 2), null);
  });

  it('extends 16-bit sequence numbers across wrap in both directions (RFC 3550 §A.1)', () => {
    assert.equal(extendSequence(2, 0x1fffe), 0x20002);
    assert.equal(extendSequence(0xfffe, 0x20001), 0x1fffe);
    assert.equal(extendSequence(100, 0x10064), 0x10064);
  });
});
