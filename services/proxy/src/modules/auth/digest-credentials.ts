/**
 * Parser of Digest credentials: the value of an Authorization or Proxy-Authorization header
 * (RFC 3261 §25.1 `credentials`, RFC 2617 §3.2.2, RFC 7616 §3.4). A byte scanner over a
 * length-capped string — no regex on untrusted input (STYLE.md §12). Returns a discriminated
 * result, never throws.
 *
 *   credentials     = "Digest" LWS digest-response
 *   digest-response = dig-resp *(COMMA dig-resp)
 *   dig-resp        = username / realm / nonce / digest-uri / dresponse / algorithm
 *                     / cnonce / opaque / message-qop / nonce-count / auth-param
 */

export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  /** As sent, upper-cased; 'MD5' when absent (RFC 2617 §3.2.1 default). */
  algorithm: string;
  cnonce: string | null;
  opaque: string | null;
  /** 'auth' | 'auth-int' | null (RFC 2069 compatibility: no qop). */
  qop: string | null;
  /** nonce-count as sent (8 hex digits) and its value. */
  ncText: string | null;
  nc: number | null;
  /** RFC 7616 §3.4.4: the username is a hash; not supported here (answered with a new challenge). */
  userhash: boolean;
}

export type CredentialsResult = { ok: true; credentials: DigestCredentials } | { ok: false; reason: string };

/** Longest header value we look at; real credentials are a few hundred bytes. */
export const MAX_CREDENTIALS_LENGTH = 4096;
const MAX_PARAMS = 32;

function isTokenChar(c: number): boolean {
  // RFC 3261 §25.1 token: alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || c === 0x5f || c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e
  );
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

class Scanner {
  i = 0;
  constructor(readonly s: string) {}

  skipWs(): void {
    while (this.i < this.s.length && isWs(this.s.charCodeAt(this.i))) this.i++;
  }

  token(): string {
    const start = this.i;
    while (this.i < this.s.length && isTokenChar(this.s.charCodeAt(this.i))) this.i++;
    return this.s.slice(start, this.i);
  }

  /** quoted-string (RFC 3261 §25.1) with quoted-pair; null when unterminated. */
  quoted(): string | null {
    this.i++; // opening quote
    // Almost every value (nonce, uri, response, cnonce) has no quoted-pair: one slice instead of
    // a string grown a character at a time.
    const end = this.s.indexOf('"', this.i);
    if (end < 0) return null;
    const bs = this.s.indexOf('\\', this.i);
    if (bs < 0 || bs > end) {
      const v = this.s.slice(this.i, end);
      this.i = end + 1;
      return v;
    }
    let out = '';
    while (this.i < this.s.length) {
      const c = this.s.charCodeAt(this.i);
      if (c === 0x22) {
        this.i++;
        return out;
      }
      if (c === 0x5c && this.i + 1 < this.s.length) {
        out += this.s[this.i + 1];
        this.i += 2;
        continue;
      }
      out += this.s[this.i];
      this.i++;
    }
    return null;
  }
}

/** Parses one header line's value. */
export function parseDigestCredentials(value: string): CredentialsResult {
  if (value.length > MAX_CREDENTIALS_LENGTH) return { ok: false, reason: 'credentials too long' };
  const sc = new Scanner(value);
  sc.skipWs();
  const scheme = sc.token();
  if (scheme.toLowerCase() !== 'digest') return { ok: false, reason: `unsupported scheme ${scheme.slice(0, 20) || '(none)'}` };
  const params = new Map<string, string>();
  const quotedParams = new Set<string>();
  for (let n = 0; ; n++) {
    sc.skipWs();
    if (sc.i >= value.length) break;
    if (n >= MAX_PARAMS) return { ok: false, reason: 'too many parameters' };
    const name = sc.token().toLowerCase();
    if (name.length === 0) return { ok: false, reason: 'parameter name expected' };
    sc.skipWs();
    if (value.charCodeAt(sc.i) !== 0x3d) return { ok: false, reason: `"=" expected after ${name}` };
    sc.i++;
    sc.skipWs();
    let v: string | null;
    if (value.charCodeAt(sc.i) === 0x22) {
      v = sc.quoted();
      if (v === null) return { ok: false, reason: `unterminated quoted value of ${name}` };
      quotedParams.add(name);
    } else {
      v = sc.token();
      if (v.length === 0) return { ok: false, reason: `value expected for ${name}` };
    }
    if (params.has(name)) return { ok: false, reason: `duplicate parameter ${name}` };
    params.set(name, v);
    sc.skipWs();
    if (sc.i >= value.length) break;
    if (value.charCodeAt(sc.i) !== 0x2c) return { ok: false, reason: `"," expected after ${name}` };
    sc.i++;
  }
  const username = params.get('username');
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  const uri = params.get('uri');
  const response = params.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) {
    return { ok: false, reason: 'missing username, realm, nonce, uri or response' };
  }
  const qop = params.get('qop')?.toLowerCase() ?? null;
  const cnonce = params.get('cnonce') ?? null;
  const ncText = params.get('nc') ?? null;
  let nc: number | null = null;
  if (qop !== null) {
    // RFC 2617 §3.2.2: with qop, cnonce and nc MUST be present; nc is 8LHEX.
    if (cnonce === null || ncText === null) return { ok: false, reason: 'qop without cnonce or nc' };
    if (ncText.length !== 8) return { ok: false, reason: 'nc must be 8 hex digits' };
    for (let k = 0; k < 8; k++) {
      const c = ncText.charCodeAt(k) | 0x20;
      if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return { ok: false, reason: 'nc must be 8 hex digits' };
    }
    nc = parseInt(ncText, 16);
  }
  return {
    ok: true,
    credentials: {
      username,
      realm,
      nonce,
      uri,
      response: response.toLowerCase(),
      algorithm: (params.get('algorithm') ?? 'MD5').toUpperCase(),
      cnonce,
      opaque: params.get('opaque') ?? null,
      qop,
      ncText,
      nc,
      userhash: params.get('userhash')?.toLowerCase() === 'true',
    },
  };
}
