import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, readContentLength } from './stream-framer.js';
import type { FrameSink } from './stream-framer.js';

type Event = { frame: string } | { ping: true } | { error: number; reason: string; head: string | null };

class Collect implements FrameSink {
  readonly events: Event[] = [];
  /** Frames as delivered (Buffers), to check they are not clobbered later. */
  readonly frames: Buffer[] = [];
  onFrame(frame: Buffer): void {
    this.frames.push(frame);
    this.events.push({ frame: frame.toString('latin1') });
  }
  onKeepalive(): void {
    this.events.push({ ping: true });
  }
  onFrameError(status: number, reason: string, head: Buffer | null): void {
    this.events.push({ error: status, reason, head: head === null ? null : head.toString('latin1') });
  }
}

const INVITE =
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
  'Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK1\r\n' +
  'Content-Type: application/sdp\r\n' +
  'Content-Length: 13\r\n' +
  '\r\n' +
  'v=0\r\no=x\r\ns=-';
const OPTIONS_COMPACT = 'OPTIONS sip:a@b SIP/2.0\r\nv: SIP/2.0/TCP h;branch=z9hG4bK2\r\nl:0\r\n\r\n';
const RESPONSE = 'SIP/2.0 200 OK\r\nCSeq: 1 INVITE\r\ncontent-LENGTH :  5 \r\n\r\nhello';
const STREAM = INVITE + '\r\n\r\n' + OPTIONS_COMPACT + '\r\n' + RESPONSE + INVITE;
const EXPECTED: Event[] = [
  { frame: INVITE },
  { ping: true },
  { frame: OPTIONS_COMPACT },
  { frame: RESPONSE },
  { frame: INVITE },
];

function feed(chunks: Buffer[], max = 65535): Collect {
  const framer = new StreamFramer(max);
  const sink = new Collect();
  for (const c of chunks) framer.push(c, sink);
  return sink;
}

function splitAt(buf: Buffer, cuts: number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    out.push(Buffer.from(buf.subarray(prev, c)));
    prev = c;
  }
  out.push(Buffer.from(buf.subarray(prev)));
  return out;
}

describe('readContentLength', () => {
  const h = (s: string): number => readContentLength(Buffer.from(s, 'latin1'), 0, s.length);
  it('reads the full and the compact form, any case, with spacing', () => {
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: 42\r\n\r\n'), 42);
    assert.equal(h('A sip:x SIP/2.0\r\nL : 7\r\n\r\n'), 7);
    assert.equal(h('A sip:x SIP/2.0\r\nCONTENT-LENGTH\t:\t0\t\r\n\r\n'), 0);
  });
  it('does not mistake other headers starting with l or content-length for it', () => {
    assert.equal(h('A sip:x SIP/2.0\r\nLocation: 5\r\nContent-Length-X: 3\r\n\r\n'), -1);
    assert.equal(h('A sip:x SIP/2.0\r\nX: 1\r\n l: 4\r\n\r\n'), -1); // folded continuation
  });
  it('rejects non-digits, empty values, huge values and disagreeing duplicates', () => {
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: 4x\r\n\r\n'), -2);
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: \r\n\r\n'), -2);
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: 1234567890\r\n\r\n'), -2);
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: 4\r\nl: 5\r\n\r\n'), -2);
    assert.equal(h('A sip:x SIP/2.0\r\nContent-Length: 4\r\nl: 4\r\n\r\n'), 4);
  });
});

describe('StreamFramer', () => {
  const stream = Buffer.from(STREAM, 'latin1');

  it('splits a stream fed whole', () => {
    assert.deepEqual(feed([stream]).events, EXPECTED);
  });

  it('splits a stream fed byte by byte', () => {
    const chunks = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    assert.deepEqual(feed(chunks).events, EXPECTED);
  });

  it('splits a stream fed at every single cut point', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual(feed(splitAt(stream, [cut])).events, EXPECTED, `cut at ${cut}`);
    }
  });

  it('splits a stream fed at random cut points', () => {
    let seed = 7;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let round = 0; round < 500; round++) {
      const cuts = Array.from({ length: 1 + rnd(8) }, () => 1 + rnd(stream.length - 1));
      assert.deepEqual(feed(splitAt(stream, cuts)).events, EXPECTED, `cuts ${cuts.join(',')}`);
    }
  });

  it('accepts bare-LF line ends for the end of the header section', () => {
    const msg = 'OPTIONS sip:a@b SIP/2.0\nl: 2\n\nok';
    assert.deepEqual(feed([Buffer.from(msg + msg)]).events, [{ frame: msg }, { frame: msg }]);
  });

  it('frames inside one chunk are views; split frames are copies that later input never clobbers', () => {
    const framer = new StreamFramer(65535);
    const sink = new Collect();
    const whole = Buffer.from(INVITE + INVITE.slice(0, 20), 'latin1');
    framer.push(whole, sink);
    assert.equal(sink.frames[0]!.buffer, whole.buffer); // zero copy
    // The caller reuses its read buffer for the rest: the delivered frames must not change.
    const reused = Buffer.alloc(INVITE.length);
    Buffer.from(INVITE.slice(20), 'latin1').copy(reused);
    framer.push(reused.subarray(0, INVITE.length - 20), sink);
    reused.fill(0x58);
    assert.equal(sink.frames[1]!.toString('latin1'), INVITE);
    assert.notEqual(sink.frames[1]!.buffer, reused.buffer);
    assert.equal(framer.buffered, 0);
  });

  describe('keepalives (RFC 5626 §3.5.1)', () => {
    it('reports each double CRLF as a ping, even split byte by byte', () => {
      const s = Buffer.from('\r\n\r\n\r\n\r\n', 'latin1');
      const chunks = [];
      for (let i = 0; i < s.length; i++) chunks.push(s.subarray(i, i + 1));
      assert.deepEqual(feed(chunks).events, [{ ping: true }, { ping: true }]);
    });
    it('ignores a single CRLF (a pong, or padding before a start line)', () => {
      assert.deepEqual(feed([Buffer.from('\r\n' + OPTIONS_COMPACT + '\r\n')]).events, [{ frame: OPTIONS_COMPACT }]);
    });
  });

  describe('errors', () => {
    it('missing Content-Length → 400 with the header section, then ignores input', () => {
      const framer = new StreamFramer(65535);
      const sink = new Collect();
      const msg = 'OPTIONS sip:a@b SIP/2.0\r\nCall-ID: c1\r\n\r\n';
      framer.push(Buffer.from(msg + OPTIONS_COMPACT), sink);
      framer.push(Buffer.from(OPTIONS_COMPACT), sink);
      assert.deepEqual(sink.events, [{ error: 400, reason: 'Bad Request - Missing Content-Length', head: msg }]);
      assert.equal(framer.broken, true);
    });

    it('Content-Length making the message exceed the limit → 513 before reading the body', () => {
      const msg = 'INVITE sip:a@b SIP/2.0\r\nCall-ID: c2\r\nContent-Length: 5000\r\n\r\n';
      for (const chunks of [[Buffer.from(msg)], splitAt(Buffer.from(msg), [10, 30])]) {
        assert.deepEqual(feed(chunks, 1024).events, [{ error: 513, reason: 'Message Too Large', head: msg }]);
      }
    });

    it('a header section that never ends within the limit → 513 with the whole lines read', () => {
      const lines = 'INVITE sip:a@b SIP/2.0\r\n' + 'X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(40);
      const buf = Buffer.from(lines);
      for (const chunks of [[buf], splitAt(buf, [100, 700, 1500])]) {
        const ev = feed(chunks, 1024).events;
        assert.equal(ev.length, 1);
        const e = ev[0] as { error: number; head: string };
        assert.equal(e.error, 513);
        assert.ok(e.head.startsWith('INVITE sip:a@b SIP/2.0\r\n') && e.head.endsWith('\r\n'));
        assert.ok(e.head.length <= 1024);
      }
    });

    it('a message of exactly the limit passes', () => {
      const head = 'OPTIONS sip:a@b SIP/2.0\r\nl: 10\r\n\r\n';
      const msg = head + '0123456789';
      assert.deepEqual(feed([Buffer.from(msg)], msg.length).events, [{ frame: msg }]);
      assert.equal((feed([Buffer.from(msg)], msg.length - 1).events[0] as { error: number }).error, 513);
    });
  });
});
