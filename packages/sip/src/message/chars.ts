/**
 * Character classes of the RFC 3261 §25.1 grammar as one 256-entry table, and the small
 * scanning helpers every header parser shares. Text is held as latin1 strings (one char per
 * octet, see docs/design/sip-package-api.md), so `charCodeAt` is the octet.
 */

export const C_TOKEN = 1; // token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
export const C_WS = 2; // SP / HTAB
export const C_DIGIT = 4;
export const C_ALPHA = 8;
export const C_HEX = 16;
export const C_UNRESERVED = 32; // alphanum / mark: "-" "_" "." "!" "~" "*" "'" "(" ")"
export const C_WORD = 64; // Call-ID word (token plus "()<>:\"/[]?{}")
export const C_HOST = 128; // hostname / IPv4 / bracketed IPv6 characters

function buildTable(): Uint8Array {
  const t = new Uint8Array(256);
  const set = (chars: string, flag: number): void => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] |= flag;
  };
  for (let c = 0x30; c <= 0x39; c++) t[c] |= C_DIGIT | C_HEX | C_TOKEN | C_UNRESERVED | C_WORD | C_HOST;
  for (let c = 0x41; c <= 0x5a; c++) t[c] |= C_ALPHA | C_TOKEN | C_UNRESERVED | C_WORD | C_HOST;
  for (let c = 0x61; c <= 0x7a; c++) t[c] |= C_ALPHA | C_TOKEN | C_UNRESERVED | C_WORD | C_HOST;
  set('ABCDEFabcdef', C_HEX);
  set('-.!%*_+`\'~', C_TOKEN | C_WORD);
  set('-_.!~*\'()', C_UNRESERVED);
  set('()<>:\\"/[]?{}', C_WORD);
  set('-.[]:_', C_HOST);
  set(' \t', C_WS);
  return t;
}

/** Octet -> C_* flags. */
export const CHAR = buildTable();

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || (CHAR[c] & C_TOKEN) === 0) return false;
  }
  return true;
}

export function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Index of the first non-SP/HTAB at or after `i`. */
export function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

/** End of the token starting at `i` (== i when none). */
export function scanToken(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c > 255 || (CHAR[c] & C_TOKEN) === 0) break;
    i++;
  }
  return i;
}

/**
 * End (index after the closing DQUOTE) of the quoted-string opening at `i` (s[i] === '"'),
 * or -1 when unterminated. RFC 3261 §25.1: quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F);
 * qdtext allows UTF8-NONASCII, so any octet other than an unescaped DQUOTE continues it.
 */
export function scanQuoted(s: string, i: number): number {
  i++;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1;
    if (c === 0x5c) {
      if (i + 1 >= s.length) return -1;
      const n = s.charCodeAt(i + 1);
      if (n === 0x0a || n === 0x0d) return -1;
      i += 2;
      continue;
    }
    if (c === 0x0a || c === 0x0d) return -1;
    i++;
  }
  return -1;
}

/** The content of a quoted-string `"..."` with quoted-pairs resolved. */
export function unquote(q: string): string {
  const inner = q.slice(1, -1);
  if (inner.indexOf('\\') < 0) return inner;
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '\\' && i + 1 < inner.length) {
      out += inner[i + 1];
      i++;
    } else out += c;
  }
  return out;
}

/** Quotes `s` as a quoted-string, escaping "\" and DQUOTE. */
export function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"' || c === '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

/**
 * Splits a header value on top-level commas (RFC 3261 §7.3.1), keeping commas inside
 * quoted strings and <...> intact. Elements are trimmed; empty elements are kept (so that
 * "a,,b" can be rejected by the header's own parser).
 */
export function splitCommas(v: string, out: string[]): void {
  if (v.indexOf(',') < 0) {
    out.push(v.trim());
    return;
  }
  let start = 0;
  let angle = false;
  let i = 0;
  while (i < v.length) {
    const c = v.charCodeAt(i);
    if (c === 0x22) {
      const e = scanQuoted(v, i);
      if (e < 0) break; // unterminated: the rest is one element, its parser will reject it
      i = e;
      continue;
    }
    if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) {
      out.push(v.slice(start, i).trim());
      start = i + 1;
    }
    i++;
  }
  out.push(v.slice(start).trim());
}

/** True when `v` has a comma outside quotes and <...> (i.e. more than one list element). */
export function hasTopLevelComma(v: string): boolean {
  if (v.indexOf(',') < 0) return false;
  let angle = false;
  let i = 0;
  while (i < v.length) {
    const c = v.charCodeAt(i);
    if (c === 0x22) {
      const e = scanQuoted(v, i);
      if (e < 0) return false;
      i = e;
      continue;
    }
    if (c === 0x3c) angle = true;
    else if (c === 0x3e) angle = false;
    else if (c === 0x2c && !angle) return true;
    i++;
  }
  return false;
}

/**
 * Parses `*( SWS ";" SWS generic-param )` from `s` at `i` into `params` (keys lowercased).
 * generic-param = token [ EQUAL gen-value ]; gen-value = token / host / quoted-string
 * (RFC 3261 §25.1). Values keep their quotes so serialization reproduces them.
 * Returns the index after the last parameter, or -1 when malformed.
 */
export function parseParams(s: string, i: number, params: Map<string, string | null>): number {
  const n = s.length;
  for (;;) {
    const j = skipWs(s, i);
    if (j >= n || s.charCodeAt(j) !== 0x3b) return j;
    i = skipWs(s, j + 1);
    const ke = scanToken(s, i);
    if (ke === i) return -1;
    const key = internLower(s, i, ke, PARAM_NAMES);
    i = skipWs(s, ke);
    if (i < n && s.charCodeAt(i) === 0x3d) {
      i = skipWs(s, i + 1);
      if (i >= n) return -1;
      let ve: number;
      if (s.charCodeAt(i) === 0x22) {
        ve = scanQuoted(s, i);
        if (ve < 0) return -1;
      } else {
        ve = i;
        while (ve < n) {
          const c = s.charCodeAt(ve);
          if (c > 255 || (CHAR[c] & (C_TOKEN | C_HOST)) === 0) break;
          ve++;
        }
        if (ve === i) return -1;
      }
      params.set(key, s.slice(i, ve));
      i = ve;
    } else {
      params.set(key, null);
    }
  }
}

/**
 * Lookup table for `internLower`: known lowercase names bucketed by length. Returning the
 * constant string avoids a slice + toLowerCase, and a constant (internalized) Map key or
 * switch label compares and hashes faster than a fresh slice.
 */
export function buildInternTable(names: readonly string[]): (readonly string[] | undefined)[] {
  const t: string[][] = [];
  for (const n of names) (t[n.length] ??= []).push(n);
  return t;
}

/**
 * s[a, b) lowercased, as the constant from `table` when it is a known name. Only for
 * token text: `c | 0x20` folds ASCII case and leaves token punctuation unchanged.
 */
export function internLower(s: string, a: number, b: number, table: (readonly string[] | undefined)[]): string {
  const cands = table[b - a];
  if (cands !== undefined) {
    outer: for (const k of cands) {
      for (let i = 0; i < k.length; i++) {
        if ((s.charCodeAt(a + i) | 0x20) !== k.charCodeAt(i)) continue outer;
      }
      return k;
    }
  }
  const out = s.slice(a, b);
  for (let i = 0; i < out.length; i++) {
    const c = out.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return out.toLowerCase();
  }
  return out;
}

/** Parameter names the stack reads (Via, URI, name-addr, Contact). */
export const PARAM_NAMES = buildInternTable([
  'branch', 'received', 'rport', 'maddr', 'ttl', 'tag', 'lr', 'transport', 'user', 'method', 'expires', 'q',
  'ob', 'reg-id', '+sip.instance', 'alias', 'nat', 'ftag', 'did', 'phone-context', 'isub', 'ext',
]);

/** `;k=v;flag` form of a parameter map. */
export function formatParams(params: Map<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? ';' + k : ';' + k + '=' + v;
  return out;
}

/** Reads an unsigned decimal of at most `maxDigits` digits; -1 when not digits or too long. */
export function parseUint(s: string, maxDigits: number): number {
  if (s.length === 0 || s.length > maxDigits) return -1;
  let v = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** Converts a latin1-held string (one char per octet) to real text, decoding UTF-8. */
export function decodeUtf8(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'latin1').toString('utf8');
  }
  return s;
}

/** Converts real text to the latin1-held form (UTF-8 octets, one char each). */
export function encodeUtf8(s: string): string {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 0x7f) return Buffer.from(s, 'utf8').toString('latin1');
  }
  return s;
}
