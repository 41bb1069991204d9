/**
 * Bencode (BEP 3), the encoding of rtpengine's ng control protocol. The proxy's own copy: a
 * service never imports another service (STYLE.md §2). Byte strings decode to UTF-8 text (ng
 * carries SDP, tags, flags); the decoder scans bytes, bounds depth and lengths, never throws.
 */
export type BencodeValue = string | number | BencodeValue[] | BencodeDict;
export interface BencodeDict {
  [key: string]: BencodeValue;
}

const MAX_DEPTH = 32;

class Cursor {
  pos: number;
  constructor(
    readonly buf: Buffer,
    start: number,
  ) {
    this.pos = start;
  }
}

function fail(): never {
  throw new BencodeError();
}

class BencodeError extends Error {}

function readValue(c: Cursor, depth: number): BencodeValue {
  if (depth > MAX_DEPTH || c.pos >= c.buf.length) fail();
  const b = c.buf[c.pos]!;
  if (b === 0x64 /* d */) {
    c.pos++;
    const out = Object.create(null) as BencodeDict;
    while (c.buf[c.pos] !== 0x65 /* e */) {
      if (c.pos >= c.buf.length) fail();
      const key = readString(c);
      out[key] = readValue(c, depth + 1);
    }
    c.pos++;
    return out;
  }
  if (b === 0x6c /* l */) {
    c.pos++;
    const out: BencodeValue[] = [];
    while (c.buf[c.pos] !== 0x65) {
      if (c.pos >= c.buf.length) fail();
      out.push(readValue(c, depth + 1));
    }
    c.pos++;
    return out;
  }
  if (b === 0x69 /* i */) {
    c.pos++;
    let neg = false;
    if (c.buf[c.pos] === 0x2d) {
      neg = true;
      c.pos++;
    }
    let n = 0;
    let digits = 0;
    while (c.pos < c.buf.length && c.buf[c.pos] !== 0x65) {
      const d = c.buf[c.pos]! - 0x30;
      if (d < 0 || d > 9 || ++digits > 15) fail();
      n = n * 10 + d;
      c.pos++;
    }
    if (digits === 0 || c.pos >= c.buf.length) fail();
    c.pos++;
    return neg ? -n : n;
  }
  return readString(c);
}

function readString(c: Cursor): string {
  let len = 0;
  let digits = 0;
  while (c.pos < c.buf.length && c.buf[c.pos] !== 0x3a /* : */) {
    const d = c.buf[c.pos]! - 0x30;
    if (d < 0 || d > 9 || ++digits > 9) fail();
    len = len * 10 + d;
    c.pos++;
  }
  if (digits === 0 || c.pos >= c.buf.length) fail();
  c.pos++;
  if (c.pos + len > c.buf.length) fail();
  const s = c.buf.toString('utf8', c.pos, c.pos + len);
  c.pos += len;
  return s;
}

/** Decodes the one value at buf[start..]; null when malformed or followed by trailing bytes. */
export function bdecode(buf: Buffer, start = 0): BencodeValue | null {
  const c = new Cursor(buf, start);
  try {
    const v = readValue(c, 0);
    return c.pos === buf.length ? v : null;
  } catch (e) {
    if (e instanceof BencodeError) return null;
    throw e;
  }
}

/** Encodes a value; dictionary keys sorted by bytes as BEP 3 requires. */
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
    parts.push(Buffer.from(`i${Math.trunc(value)}e`, 'latin1'));
  } else if (Array.isArray(value)) {
    parts.push(Buffer.from('l', 'latin1'));
    for (const v of value) encodeInto(v, parts);
    parts.push(Buffer.from('e', 'latin1'));
  } else {
    parts.push(Buffer.from('d', 'latin1'));
    for (const k of Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))) {
      encodeInto(k, parts);
      encodeInto(value[k]!, parts);
    }
    parts.push(Buffer.from('e', 'latin1'));
  }
}

export function isDict(v: BencodeValue | null | undefined): v is BencodeDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
