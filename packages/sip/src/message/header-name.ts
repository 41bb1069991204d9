import { buildInternTable, internLower } from './chars.js';

/**
 * Header field names: compact forms and canonical spelling.
 * RFC 3261 §7.3.3 (compact forms i m f t v l c e k s; o u r b x y from RFC 3265, 3515,
 * 3892, 4028, 8224, and a j d from RFC 3841) — a compact name is exactly equivalent to
 * the long one. RFC 3261 §7.3.1: names are case-insensitive.
 */

const COMPACT: Readonly<Record<string, string>> = {
  i: 'call-id',
  m: 'contact',
  f: 'from',
  t: 'to',
  v: 'via',
  l: 'content-length',
  c: 'content-type',
  e: 'content-encoding',
  k: 'supported',
  s: 'subject',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
};

/** Header names seen in nearly every message, for `canonicalHeaderNameAt`. */
const KNOWN = buildInternTable([
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length', 'content-type',
  'route', 'record-route', 'expires', 'allow', 'supported', 'require', 'proxy-require', 'user-agent',
  'server', 'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate', 'date',
  'event', 'subject', 'accept', 'allow-events', 'session-expires', 'min-se', 'p-asserted-identity',
  'content-disposition', 'timestamp', 'warning', 'organization', 'rseq', 'rack', 'refer-to', 'referred-by',
]);

/** canonicalHeaderName of s[a, b) without slicing for the common names (parser fast path). */
export function canonicalHeaderNameAt(s: string, a: number, b: number): string {
  if (b - a === 1) {
    const lc = String.fromCharCode(s.charCodeAt(a) | 0x20);
    return COMPACT[lc] ?? lc;
  }
  return internLower(s, a, b, KNOWN);
}

/** 'v' | 'VIA' | 'Via' -> 'via' (lowercase full name). */
export function canonicalHeaderName(name: string): string {
  if (name.length === 1) {
    const lc = name.toLowerCase();
    return COMPACT[lc] ?? lc;
  }
  return name.toLowerCase();
}

// Names whose usual spelling is not plain Title-Case of the dash-separated words.
const SPECIAL: Readonly<Record<string, string>> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
  'p-asserted-identity': 'P-Asserted-Identity',
};

/** Common headers pre-formatted, so serialization of new lines allocates nothing. */
const FORMATTED = new Map<string, string>();

function titleCase(lname: string): string {
  let out = '';
  let up = true;
  for (let i = 0; i < lname.length; i++) {
    const ch = lname[i];
    out += up ? ch.toUpperCase() : ch;
    up = ch === '-';
  }
  return out;
}

for (const n of [
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length', 'content-type',
  'route', 'record-route', 'expires', 'allow', 'supported', 'require', 'proxy-require', 'unsupported',
  'user-agent', 'server', 'authorization', 'proxy-authorization', 'www-authenticate',
  'proxy-authenticate', 'warning', 'retry-after', 'date', 'event', 'subject', 'accept',
]) FORMATTED.set(n, SPECIAL[n] ?? titleCase(n));

/** 'call-id' -> 'Call-ID', 'www-authenticate' -> 'WWW-Authenticate', 'x-foo' -> 'X-Foo'. */
export function formatHeaderName(lname: string): string {
  const f = FORMATTED.get(lname);
  if (f !== undefined) return f;
  const lc = canonicalHeaderName(lname);
  return SPECIAL[lc] ?? titleCase(lc);
}
