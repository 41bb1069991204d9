// Bencode (the BitTorrent encoding, BEP 3) as used by rtpengine's ng control protocol, on
// both ends: rtpproxy decodes commands and encodes replies, the proxy's rtpengine module the
// other way round. Byte strings are decoded to JS strings (UTF-8); ng only carries text (SDP,
// tags, flags). The decoder scans bytes, never uses regular expressions on the untrusted
// input, bounds nesting and lengths, and reports malformed input as a result, never a throw.

export type BencodeValue = string | number | BencodeValue[] | BencodeDict;
export interface BencodeDict {
  [key: string]: BencodeValue;
}

export type DecodeResult =
  | { ok: true; value: BencodeValue; end: number }
  | { ok: false; reason: string; offset: number };

/** Bounds that keep a hostile datagram from costing more than its size. */
const MAX_DEPTH = 32;
const MAX_STRING_DIGITS = 9; // 999,999,999 bytes > any UDP payload

const CH_D = 0x64; // 'd'
const CH_L = 0x6c; // 'l'
const CH_I = 0x69; // 'i'
const CH_E = 0x65; // 'e'
const CH_COLON = 0x3a;
const CH_MINUS = 0x2d;
const CH_0 = 0x30;
const CH_9 = 0x39;

class DecodeError {
  readonly reason: string;
  readonly offset: number;
  constructor(reason: string, offset: number) {
    this.reason = reason;
    this.offset = offset;
  }
}

class Decoder {
  private readonly buf: Buffer;
  private pos: number;
  private readonly end: number;

  constructor(buf: Buffer, start: number, end: number) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  value(depth: number): BencodeValue {
    if (depth > MAX_DEPTH) throw new DecodeError('nesting too deep', this.pos);
    if (this.pos >= this.end) throw new DecodeError('unexpected end of input', this.pos);
    const c = this.buf[this.pos];
    if (c === CH_D) return this.dict(depth);
    if (c === CH_L) return this.list(depth);
    if (c === CH_I) return this.integer();
    if (c >= CH_0 && c <= CH_9) return this.string();
    throw new DecodeError(`unexpected byte 0x${c.toString(16)}`, this.pos);
  }

  private dict(depth: number): BencodeDict {
    this.pos++; // 'd'
    // Object.create(null): keys such as "__proto__" from the wire stay plain data.
    const out = Object.create(null) as BencodeDict;
    while (true) {
      if (this.pos >= this.end) throw new DecodeError('unterminated dictionary', this.pos);
      if (this.buf[this.pos] === CH_E) {
        this.pos++;
        return out;
      }
      const c = this.buf[this.pos];
      if (c < CH_0 || c > CH_9) throw new DecodeError('dictionary key is not a string', this.pos);
      const key = this.string();
      out[key] = this.value(depth + 1);
    }
  }

  private list(depth: number): BencodeValue[] {
    this.pos++; // 'l'
    const out: BencodeValue[] = [];
    while (true) {
      if (this.pos >= this.end) throw new DecodeError('unterminated list', this.pos);
      if (this.buf[this.pos] === CH_E) {
        this.pos++;
        return out;
      }
      out.push(this.value(depth + 1));
    }
  }

  private integer(): number {
    const start = ++this.pos; // 'i'
    let neg = false;
    if (this.pos < this.end && this.buf[this.pos] === CH_MINUS) {
      neg = true;
      this.pos++;
    }
    let n = 0;
    let digits = 0;
    while (this.pos < this.end && this.buf[this.pos] !== CH_E) {
      const c = this.buf[this.pos];
      if (c < CH_0 || c > CH_9) throw new DecodeError('bad digit in integer', this.pos);
      n = n * 10 + (c - CH_0);
      if (++digits > 19) throw new DecodeError('integer too large', start);
      this.pos++;
    }
    if (this.pos >= this.end) throw new DecodeError('unterminated integer', start);
    if (digits === 0) throw new DecodeError('empty integer', start);
    // Values past 2^53 would silently lose precision as JS numbers.
    if (!Number.isSafeInteger(n)) throw new DecodeError('integer too large', start);
    this.pos++; // 'e'
    return neg ? -n : n;
  }

  private string(): string {
    const start = this.pos;
    let len = 0;
    let digits = 0;
    while (this.pos < this.end && this.buf[this.pos] !== CH_COLON) {
      const c = this.buf[this.pos];
      if (c < CH_0 || c > CH_9) throw new DecodeError('bad digit in string length', this.pos);
      len = len * 10 + (c - CH_0);
      if (++digits > MAX_STRING_DIGITS) throw new DecodeError('string length too large', start);
      this.pos++;
    }
    if (this.pos >= this.end) throw new DecodeError('unterminated string length', start);
    this.pos++; // ':'
    if (this.pos + len > this.end) throw new DecodeError('string runs past end of input', start);
    const s = this.buf.toString('utf8', this.pos, this.pos + len);
    this.pos += len;
    return s;
  }
}

/** Decodes exactly one value spanning buf[start, end). Trailing bytes are an error. */
export function bdecode(buf: Buffer, start = 0, end = buf.length): DecodeResult {
  const d = new Decoder(buf, start, end);
  try {
    const value = d.value(0);
    if (d.offset !== end) return { ok: false, reason: 'trailing bytes after value', offset: d.offset };
    return { ok: true, value, end: d.offset };
  } catch (e) {
    if (e instanceof DecodeError) return { ok: false, reason: e.reason, offset: e.offset };
    throw e;
  }
}

/** Encodes a value. Dictionary keys are sorted by raw bytes as BEP 3 requires. */
export function bencode(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, parts);
  return Buffer.concat(parts);
}

function encodeInto(value: BencodeValue, parts: Buffer[]): void {
  if (typeof value === 'string') {
    const b = Buffer.from(value, 'utf8');
    parts.push(Buffer.from(`${b.length}:`, 'latin1'), b);
  } else if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('bencode: integer must be finite');
    parts.push(Buffer.from(`i${Math.trunc(value)}e`, 'latin1'));
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l', 'latin1'));
    for (const v of value) encodeInto(v, parts);
    parts.push(Buffer.from('e', 'latin1'));
  } else {
    parts.push(Buffer.from('d', 'latin1'));
    const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    for (const k of keys) {
      const v = value[k];
      if (v === undefined) continue;
      encodeInto(k, parts);
      encodeInto(v, parts);
    }
    parts.push(Buffer.from('e', 'latin1'));
  }
}

/** Narrows a decoded value (or a missing dictionary entry) to a dictionary. */
export function isDict(v: BencodeValue | null | undefined): v is BencodeDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
