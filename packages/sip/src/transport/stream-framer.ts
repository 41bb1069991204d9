/**
 * Splits a SIP byte stream (TCP, later TLS) into messages.
 *
 * RFC 3261 §18.3: on stream transports the Content-Length header field gives the body size
 * and MUST be present (§20.14); a message is the header section up to the empty line plus
 * that many bytes. RFC 3261 §7.5: CRLFs before a start line are ignored. RFC 5626 §3.5.1:
 * a double CRLF between messages is a keepalive "ping", answered with a single CRLF "pong".
 *
 * The framer is a byte-wise state machine (no regex, no string conversion). Frames that lie
 * inside one chunk are delivered as `subarray` views of that chunk (Node gives every read a
 * fresh Buffer, so views stay valid); only a frame split across reads is copied, into a
 * buffer of exactly its size. Once the stream cannot be framed any more (no or bad
 * Content-Length, or a message above the size limit) it reports one error and then ignores
 * further input: the owner answers if it can and closes the connection.
 */

/** Receives what the framer finds; implemented by the connection (no per-frame closures). */
export interface FrameSink {
  /** One complete message: header section, empty line and body. */
  onFrame(frame: Buffer): void;
  /** RFC 5626 §3.5.1: "\r\n\r\n" between messages. The owner answers "\r\n". */
  onKeepalive(): void;
  /**
   * The stream can no longer be framed. `status` is 400 (missing/invalid Content-Length) or
   * 513 (message larger than the limit); `head` holds the header lines read so far (whole
   * lines only) so the owner can try to answer, or null when there are none.
   */
  onFrameError(status: number, reason: string, head: Buffer | null): void;
}

const CR = 0x0d;
const LF = 0x0a;

// Between-message states (CRLF keepalive detection).
const GAP_NONE = 0; // nothing (or a lone LF) seen
const GAP_CR = 1; // "\r"
const GAP_CRLF = 2; // "\r\n"
const GAP_CRLFCR = 3; // "\r\n\r"

// End-of-header scanner states: the header section ends at LF [CR] LF.
const HS_TEXT = 0;
const HS_LF = 1;
const HS_LFCR = 2;

/** Result codes of `readContentLength`. */
const CL_MISSING = -1;
const CL_INVALID = -2;

/** Largest Content-Length we parse before calling it invalid (9 digits). */
const CL_MAX_DIGITS = 9;

function lower(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

const CONTENT_LENGTH = Buffer.from('content-length', 'latin1');

/**
 * The Content-Length of a header section `buf[start, end)` (start line included), scanning
 * header names case-insensitively in full ("Content-Length") and compact ("l") form.
 * Returns CL_MISSING, CL_INVALID (non-digits, too long, or several differing values).
 */
export function readContentLength(buf: Buffer, start: number, end: number): number {
  let value = CL_MISSING;
  // Skip the start line.
  let i = buf.indexOf(LF, start);
  if (i < 0 || i >= end) return CL_MISSING;
  i++;
  while (i < end) {
    const lineStart = i;
    let nl = buf.indexOf(LF, lineStart);
    if (nl < 0 || nl > end) nl = end;
    const first = buf[lineStart]!;
    // Folded continuation lines (RFC 3261 §7.3.1) and the blank line carry no names.
    if (first !== 0x20 && first !== 0x09 && first !== CR && first !== LF) {
      let p = lineStart;
      let nameEnd = -1;
      if (lower(first) === 0x6c /* l */) {
        let q = p + 1;
        while (q < nl && (buf[q] === 0x20 || buf[q] === 0x09)) q++;
        if (buf[q] === 0x3a) nameEnd = q;
      }
      if (nameEnd < 0 && nl - p > CONTENT_LENGTH.length) {
        let k = 0;
        while (k < CONTENT_LENGTH.length && lower(buf[p + k]!) === CONTENT_LENGTH[k]) k++;
        if (k === CONTENT_LENGTH.length) {
          let q = p + k;
          while (q < nl && (buf[q] === 0x20 || buf[q] === 0x09)) q++;
          if (buf[q] === 0x3a) nameEnd = q;
        }
      }
      if (nameEnd >= 0) {
        p = nameEnd + 1;
        while (p < nl && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
        let n = 0;
        let digits = 0;
        while (p < nl && buf[p]! >= 0x30 && buf[p]! <= 0x39) {
          n = n * 10 + (buf[p]! - 0x30);
          p++;
          digits++;
        }
        while (p < nl && (buf[p] === 0x20 || buf[p] === 0x09 || buf[p] === CR)) p++;
        if (digits === 0 || digits > CL_MAX_DIGITS || p !== nl) return CL_INVALID;
        // Several Content-Length fields must agree, or the framing is ambiguous.
        if (value !== CL_MISSING && value !== n) return CL_INVALID;
        value = n;
      }
    }
    i = nl + 1;
  }
  return value;
}

export class StreamFramer {
  readonly maxMessageSize: number;
  private gap: number;
  private hs: number;
  /** Bytes of a frame split across reads (header section so far, or the whole frame). */
  private acc: Buffer | null;
  private accLen: number;
  /** Total size of the frame in `acc` once its header section is complete, else -1. */
  private frameLen: number;
  private failed: boolean;

  constructor(maxMessageSize: number) {
    this.maxMessageSize = maxMessageSize;
    this.gap = GAP_NONE;
    this.hs = HS_TEXT;
    this.acc = null;
    this.accLen = 0;
    this.frameLen = -1;
    this.failed = false;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.accLen;
  }

  /** True once a framing error was reported; further input is ignored. */
  get broken(): boolean {
    return this.failed;
  }

  push(chunk: Buffer, sink: FrameSink): void {
    if (this.failed || chunk.length === 0) return;
    let pos = 0;
    if (this.acc !== null) {
      pos = this.continueSplit(chunk, sink);
      if (pos < 0) return; // chunk consumed (frame still incomplete) or failed
    }
    this.scan(chunk, pos, sink);
  }

  /**
   * Continues the frame held in `acc` with `chunk`. Returns where in `chunk` the next frame
   * starts, or -1 when the whole chunk was consumed.
   */
  private continueSplit(chunk: Buffer, sink: FrameSink): number {
    let pos = 0;
    if (this.frameLen < 0) {
      // Still looking for the end of the header section.
      const hEnd = this.findHeaderEnd(chunk, 0);
      const headBytes = hEnd < 0 ? chunk.length : hEnd;
      if (this.accLen + headBytes > this.maxMessageSize) {
        this.appendAcc(chunk, 0, Math.min(headBytes, this.maxMessageSize - this.accLen));
        this.fail(sink, 513, 'Message Too Large', this.wholeLines(this.acc!, 0, this.accLen));
        return -1;
      }
      this.appendAcc(chunk, 0, headBytes);
      if (hEnd < 0) return -1;
      pos = hEnd;
      const acc = this.acc!;
      const cl = readContentLength(acc, 0, this.accLen);
      if (!this.checkLength(cl, this.accLen, acc, 0, this.accLen, sink)) return -1;
      this.frameLen = this.accLen + cl;
      // Re-home into an exactly sized buffer: the delivered frame owns it.
      const exact = Buffer.allocUnsafe(this.frameLen);
      acc.copy(exact, 0, 0, this.accLen);
      this.acc = exact;
    }
    const need = this.frameLen - this.accLen;
    const take = Math.min(need, chunk.length - pos);
    chunk.copy(this.acc!, this.accLen, pos, pos + take);
    this.accLen += take;
    pos += take;
    if (this.accLen < this.frameLen) return -1;
    const frame = this.acc!;
    this.acc = null;
    this.accLen = 0;
    this.frameLen = -1;
    sink.onFrame(frame);
    return this.failed ? -1 : pos;
  }

  /** Frames lying in `buf[pos..]`; starts a split frame when the tail is incomplete. */
  private scan(buf: Buffer, pos: number, sink: FrameSink): void {
    const end = buf.length;
    while (pos < end && !this.failed) {
      // RFC 3261 §7.5 / RFC 5626 §3.5.1: CRLFs between messages; "\r\n\r\n" is a ping.
      const b = buf[pos]!;
      if (b === CR || b === LF) {
        this.stepGap(b, sink);
        pos++;
        continue;
      }
      this.gap = GAP_NONE;
      const start = pos;
      this.hs = HS_TEXT;
      const hEnd = this.findHeaderEnd(buf, start);
      if (hEnd < 0) {
        if (end - start > this.maxMessageSize) {
          this.fail(sink, 513, 'Message Too Large', this.wholeLines(buf, start, start + this.maxMessageSize));
          return;
        }
        this.startSplit(buf, start, end, -1);
        return;
      }
      const cl = readContentLength(buf, start, hEnd);
      if (!this.checkLength(cl, hEnd - start, buf, start, hEnd, sink)) return;
      const total = hEnd - start + cl;
      if (start + total <= end) {
        pos = start + total;
        sink.onFrame(buf.subarray(start, pos));
        continue;
      }
      this.startSplit(buf, start, end, total);
      return;
    }
  }

  private stepGap(b: number, sink: FrameSink): void {
    switch (this.gap) {
      case GAP_NONE:
        this.gap = b === CR ? GAP_CR : GAP_NONE;
        break;
      case GAP_CR:
        this.gap = b === LF ? GAP_CRLF : GAP_CR;
        break;
      case GAP_CRLF:
        this.gap = b === CR ? GAP_CRLFCR : GAP_NONE;
        break;
      case GAP_CRLFCR:
        if (b === LF) {
          this.gap = GAP_NONE;
          sink.onKeepalive();
        } else {
          this.gap = GAP_CR;
        }
        break;
    }
  }

  /**
   * Index just past the LF [CR] LF ending the header section, scanning from `from` with the
   * carried state `hs` (so a terminator split across reads is found). -1 if not in `buf`.
   */
  private findHeaderEnd(buf: Buffer, from: number): number {
    let hs = this.hs;
    const end = buf.length;
    for (let i = from; i < end; i++) {
      const b = buf[i]!;
      if (b === LF) {
        if (hs !== HS_TEXT) {
          this.hs = HS_TEXT;
          return i + 1;
        }
        hs = HS_LF;
      } else if (b === CR) {
        hs = hs === HS_LF ? HS_LFCR : HS_TEXT;
      } else {
        hs = HS_TEXT;
      }
    }
    this.hs = hs;
    return -1;
  }

  private checkLength(cl: number, headLen: number, buf: Buffer, start: number, hEnd: number, sink: FrameSink): boolean {
    if (cl === CL_MISSING) {
      this.fail(sink, 400, 'Bad Request - Missing Content-Length', buf.subarray(start, hEnd));
      return false;
    }
    if (cl === CL_INVALID) {
      this.fail(sink, 400, 'Bad Request - Invalid Content-Length', buf.subarray(start, hEnd));
      return false;
    }
    if (headLen + cl > this.maxMessageSize) {
      this.fail(sink, 513, 'Message Too Large', buf.subarray(start, hEnd));
      return false;
    }
    return true;
  }

  private startSplit(buf: Buffer, start: number, end: number, total: number): void {
    const len = end - start;
    this.acc = Buffer.allocUnsafe(total >= 0 ? total : Math.max(len * 2, 1024));
    buf.copy(this.acc, 0, start, end);
    this.accLen = len;
    this.frameLen = total;
  }

  private appendAcc(chunk: Buffer, from: number, to: number): void {
    const n = to - from;
    let acc = this.acc!;
    if (this.accLen + n > acc.length) {
      const grown = Buffer.allocUnsafe(Math.max(acc.length * 2, this.accLen + n));
      acc.copy(grown, 0, 0, this.accLen);
      acc = grown;
      this.acc = grown;
    }
    chunk.copy(acc, this.accLen, from, to);
    this.accLen += n;
  }

  /** `buf[start, end)` cut after its last LF (whole header lines), or null if none. */
  private wholeLines(buf: Buffer, start: number, end: number): Buffer | null {
    const lastLf = buf.subarray(start, end).lastIndexOf(LF);
    return lastLf < 0 ? null : Buffer.from(buf.subarray(start, start + lastLf + 1));
  }

  private fail(sink: FrameSink, status: number, reason: string, head: Buffer | null): void {
    this.failed = true;
    this.acc = null;
    this.accLen = 0;
    this.frameLen = -1;
    sink.onFrameError(status, reason, head);
  }
}
