import { CHAR, C_ALPHA, C_DIGIT, C_HEX, C_UNRESERVED, internLower, PARAM_NAMES } from './chars.js';
import { frozenError, type SipParseError } from './errors.js';

const BAD_URI = frozenError('SIP_ERR_MALFORMED_URI');

/**
 * URIs of RFC 3261 §19.1 / §25.1 (sip, sips), RFC 3966 (tel) and any other absoluteURI
 * (RFC 3261 §25.1 absoluteURI: kept opaque). Parsing is a single left-to-right scan with
 * per-part character sets; no regex touches the untrusted text.
 */

// Extra characters (besides unreserved and escaped) each URI part allows, RFC 3261 §25.1.
const U_USER = 1; // user-unreserved: "&" "=" "+" "$" "," ";" "?" "/"
const U_PASS = 2; // "&" "=" "+" "$" ","
const U_PARAM = 4; // param-unreserved: "[" "]" "/" ":" "&" "+" "$"
const U_HDR = 8; // hnv-unreserved: "[" "]" "/" "?" ":" "+" "$"
const U_TEL = 16; // RFC 3966 phonedigit-hex / global prefix: HEXDIG "*" "#" "+" "-" "." "(" ")"

const UCHAR = (() => {
  const t = new Uint8Array(256);
  const set = (chars: string, flag: number): void => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] |= flag;
  };
  set('&=+$,;?/', U_USER);
  set('&=+$,', U_PASS);
  set('[]/:&+$', U_PARAM);
  set('[]/?:+$', U_HDR);
  set('0123456789abcdefABCDEF*#+-.()', U_TEL);
  return t;
})();

/** True when s[start, end) has only unreserved / escaped / `extra` characters. */
function validPart(s: string, start: number, end: number, extra: number): boolean {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) return false;
    if ((CHAR[c] & C_UNRESERVED) !== 0 || (UCHAR[c] & extra) !== 0) continue;
    if (c === 0x25) {
      // escaped = "%" HEXDIG HEXDIG
      if (i + 2 >= end) return false;
      const h1 = s.charCodeAt(i + 1);
      const h2 = s.charCodeAt(i + 2);
      if (h1 > 255 || h2 > 255 || (CHAR[h1] & C_HEX) === 0 || (CHAR[h2] & C_HEX) === 0) return false;
      i += 2;
      continue;
    }
    return false;
  }
  return true;
}

/** Every "%" in s[start, end) is followed by two hex digits. */
function checkEscapes(s: string, start: number, end: number): boolean {
  let i = s.indexOf('%', start);
  while (i >= 0 && i < end) {
    if (i + 2 >= end) return false;
    const h1 = s.charCodeAt(i + 1);
    const h2 = s.charCodeAt(i + 2);
    if (h1 > 255 || h2 > 255 || (CHAR[h1] & C_HEX) === 0 || (CHAR[h2] & C_HEX) === 0) return false;
    i = s.indexOf('%', i + 3);
  }
  return true;
}

/** hostname / IPv4address / IPv6reference (brackets included). */
function validHost(h: string): boolean {
  if (h.length === 0 || h.length > 255) return false;
  if (h.charCodeAt(0) === 0x5b) {
    if (h.charCodeAt(h.length - 1) !== 0x5d || h.length < 4) return false;
    let colons = 0;
    for (let i = 1; i < h.length - 1; i++) {
      const c = h.charCodeAt(i);
      if (c === 0x3a) colons++;
      else if (c !== 0x2e && (c > 255 || (CHAR[c] & C_HEX) === 0)) return false;
    }
    return colons >= 2;
  }
  for (let i = 0; i < h.length; i++) {
    const c = h.charCodeAt(i);
    // RFC 3261 hostname is alphanum "-" "."; "_" is accepted because real DNS names use it.
    if (c > 255 || !((CHAR[c] & (C_ALPHA | C_DIGIT)) !== 0 || c === 0x2d || c === 0x2e || c === 0x5f)) return false;
  }
  return h.charCodeAt(0) !== 0x2e && h.charCodeAt(0) !== 0x2d;
}

export interface SipUriInit {
  scheme?: 'sip' | 'sips';
  user?: string | null;
  password?: string | null;
  host: string;
  port?: number | null;
  params?: Iterable<readonly [string, string | null]>;
  headers?: Iterable<readonly [string, string]>;
}

/** sip: / sips: URI (RFC 3261 §19.1.1). Parts are held escaped, as on the wire. */
export class SipUri {
  scheme: 'sip' | 'sips';
  user: string | null;
  password: string | null;
  /** IPv6 in brackets, as in the URI. */
  host: string;
  port: number | null;
  /**
   * The parameter and header maps, created on first use (`params` / `headers`): most URIs a
   * proxy parses carry no headers and many no parameters, and two Maps per URI, mostly empty,
   * were 7 % of what relaying a call allocated (bench/README.md). @internal (null: none yet)
   */
  _params: Map<string, string | null> | null;
  /** @internal */
  _headers: Map<string, string> | null;

  constructor(init: SipUriInit) {
    this.scheme = init.scheme ?? 'sip';
    this.user = init.user ?? null;
    this.password = init.password ?? null;
    this.host = init.host;
    this.port = init.port ?? null;
    this._params = null;
    this._headers = null;
    if (init.params !== undefined) for (const [k, v] of init.params) this.params.set(k.toLowerCase(), v);
    if (init.headers !== undefined) for (const [k, v] of init.headers) this.headers.set(k, v);
  }

  /** URI parameters; keys lowercased, insertion order kept. */
  get params(): Map<string, string | null> {
    return (this._params ??= new Map());
  }

  set params(m: Map<string, string | null>) {
    this._params = m;
  }

  /** URI headers (`?name=value&...`), in order. */
  get headers(): Map<string, string> {
    return (this._headers ??= new Map());
  }

  set headers(m: Map<string, string>) {
    this._headers = m;
  }

  /** One parameter (key lowercased): its value, null when present without one, undefined when absent. */
  param(name: string): string | null | undefined {
    return this._params === null ? undefined : this._params.get(name);
  }

  /** True when the URI has a headers component. */
  get hasHeaders(): boolean {
    return this._headers !== null && this._headers.size > 0;
  }

  /**
   * SIP-URI = "sip:" [ userinfo ] hostport uri-parameters [ headers ] (RFC 3261 §25.1).
   */
  static parse(s: string): SipUri | SipParseError {
    const bad = BAD_URI;
    let p: number;
    let scheme: 'sip' | 'sips';
    // "sip:" / "sips:" case-insensitively (| 0x20 lowercases ASCII letters)
    if ((s.charCodeAt(0) | 0x20) !== 0x73 || (s.charCodeAt(1) | 0x20) !== 0x69 || (s.charCodeAt(2) | 0x20) !== 0x70) return bad;
    const c3 = s.charCodeAt(3);
    if (c3 === 0x3a && s.length > 4) {
      scheme = 'sip';
      p = 4;
    } else if ((c3 | 0x20) === 0x73 && s.charCodeAt(4) === 0x3a && s.length > 5) {
      scheme = 'sips';
      p = 5;
    } else return bad;
    const n = s.length;
    const uri = new SipUri({ scheme, host: '' });

    // userinfo: everything up to "@" (no "@" can occur unescaped after it, §25.1).
    const at = s.indexOf('@', p);
    if (at >= 0) {
      const colon = s.indexOf(':', p);
      const userEnd = colon >= 0 && colon < at ? colon : at;
      if (userEnd === p || !validPart(s, p, userEnd, U_USER)) return bad;
      uri.user = s.slice(p, userEnd);
      if (userEnd < at) {
        if (!validPart(s, userEnd + 1, at, U_PASS)) return bad;
        uri.password = s.slice(userEnd + 1, at);
      }
      p = at + 1;
    }

    // hostport: one scan that finds the end of the host and checks its characters
    let hEnd: number;
    let host: string;
    if (s.charCodeAt(p) === 0x5b) {
      hEnd = s.indexOf(']', p);
      if (hEnd < 0) return bad;
      hEnd++;
      host = s.slice(p, hEnd);
      if (!validHost(host)) return bad;
    } else {
      hEnd = p;
      while (hEnd < n) {
        const c = s.charCodeAt(hEnd);
        if (c === 0x3a || c === 0x3b || c === 0x3f) break;
        // RFC 3261 hostname is alphanum "-" "."; "_" is accepted because real DNS names use it.
        if (c > 255 || !((CHAR[c] & (C_ALPHA | C_DIGIT)) !== 0 || c === 0x2d || c === 0x2e || c === 0x5f)) return bad;
        hEnd++;
      }
      const h0 = s.charCodeAt(p);
      if (hEnd === p || hEnd - p > 255 || h0 === 0x2e || h0 === 0x2d) return bad;
      host = s.slice(p, hEnd);
    }
    uri.host = host;
    p = hEnd;
    if (p < n && s.charCodeAt(p) === 0x3a) {
      let e = ++p;
      let port = 0;
      while (e < n) {
        const c = s.charCodeAt(e);
        if (c < 0x30 || c > 0x39) break;
        port = port * 10 + (c - 0x30);
        e++;
      }
      if (e === p || e - p > 5 || port > 65535) return bad;
      uri.port = port;
      p = e;
    }

    // uri-parameters: *( ";" pname [ "=" pvalue ] ), pname/pvalue = 1*paramchar
    while (p < n && s.charCodeAt(p) === 0x3b) {
      p++;
      let e = p;
      let eq = -1;
      while (e < n) {
        const c = s.charCodeAt(e);
        if (c === 0x3b || c === 0x3f) break;
        if (c === 0x3d && eq < 0) eq = e;
        else if (c > 255 || ((CHAR[c] & C_UNRESERVED) === 0 && (UCHAR[c] & U_PARAM) === 0 && c !== 0x25)) return bad;
        e++;
      }
      if (eq >= 0) {
        if (eq === p || eq + 1 === e) return bad;
        if (!checkEscapes(s, p, e)) return bad;
        uri.params.set(internLower(s, p, eq, PARAM_NAMES), s.slice(eq + 1, e));
      } else {
        if (e === p || !checkEscapes(s, p, e)) return bad;
        uri.params.set(internLower(s, p, e, PARAM_NAMES), null);
      }
      p = e;
    }

    // headers = "?" header *( "&" header ); header = hname "=" hvalue
    if (p < n) {
      if (s.charCodeAt(p) !== 0x3f) return bad;
      p++;
      while (p <= n) {
        let e = s.indexOf('&', p);
        if (e < 0) e = n;
        const eq = s.indexOf('=', p);
        if (eq < 0 || eq >= e || eq === p) return bad;
        if (!validPart(s, p, eq, U_HDR) || !validPart(s, eq + 1, e, U_HDR)) return bad;
        uri.headers.set(s.slice(p, eq), s.slice(eq + 1, e));
        p = e + 1;
      }
    }
    return uri;
  }

  get transport(): string | null {
    const t = this.param('transport');
    return t === undefined || t === null ? null : t.toLowerCase();
  }

  get lr(): boolean {
    return this.param('lr') !== undefined;
  }

  get maddr(): string | null {
    return this.param('maddr') ?? null;
  }

  /** The host without IPv6 brackets (for sockets and DNS). */
  hostNoBrackets(): string {
    const h = this.host;
    return h.charCodeAt(0) === 0x5b ? h.slice(1, -1) : h;
  }

  clone(): SipUri {
    const c = new SipUri({ scheme: this.scheme, user: this.user, password: this.password, host: this.host, port: this.port });
    if (this._params !== null && this._params.size > 0) c._params = new Map(this._params);
    if (this._headers !== null && this._headers.size > 0) c._headers = new Map(this._headers);
    return c;
  }

  toString(): string {
    let out = this.scheme + ':';
    if (this.user !== null) {
      out += this.user;
      if (this.password !== null) out += ':' + this.password;
      out += '@';
    }
    out += this.host;
    if (this.port !== null) out += ':' + this.port;
    if (this._params !== null) for (const [k, v] of this._params) out += v === null ? ';' + k : ';' + k + '=' + v;
    if (this._headers === null) return out;
    let first = true;
    for (const [k, v] of this._headers) {
      out += (first ? '?' : '&') + k + '=' + v;
      first = false;
    }
    return out;
  }
}

/** tel: URI (RFC 3966). */
export class TelUri {
  readonly scheme = 'tel' as const;
  /** global ("+..." ) or local number, visual separators kept. */
  number: string;
  /** Keys lowercased. */
  params: Map<string, string | null>;

  constructor(number: string, params?: Iterable<readonly [string, string | null]>) {
    this.number = number;
    this.params = new Map();
    if (params !== undefined) for (const [k, v] of params) this.params.set(k.toLowerCase(), v);
  }

  static parse(s: string): TelUri | SipParseError {
    const bad = BAD_URI;
    if (s.length < 5 || s.charCodeAt(3) !== 0x3a || s.slice(0, 3).toLowerCase() !== 'tel') return bad;
    const parts = s.slice(4).split(';');
    const num = parts[0];
    let hasDigit = false;
    for (let i = 0; i < num.length; i++) {
      const c = num.charCodeAt(i);
      if (c > 255 || (UCHAR[c] & U_TEL) === 0 || (c === 0x2b && i !== 0)) return bad;
      if ((CHAR[c] & C_HEX) !== 0 || c === 0x2a || c === 0x23) hasDigit = true;
    }
    if (!hasDigit) return bad;
    const uri = new TelUri(num);
    for (let i = 1; i < parts.length; i++) {
      const p = parts[i];
      const eq = p.indexOf('=');
      const name = eq < 0 ? p : p.slice(0, eq);
      if (name.length === 0 || !validPart(name, 0, name.length, 0)) return bad;
      if (eq >= 0) {
        if (eq + 1 === p.length || !validPart(p, eq + 1, p.length, U_PARAM)) return bad;
        uri.params.set(name.toLowerCase(), p.slice(eq + 1));
      } else uri.params.set(name.toLowerCase(), null);
    }
    return uri;
  }

  clone(): TelUri {
    return new TelUri(this.number, this.params);
  }

  toString(): string {
    let out = 'tel:' + this.number;
    for (const [k, v] of this.params) out += v === null ? ';' + k : ';' + k + '=' + v;
    return out;
  }
}

/** Any other absoluteURI (mailto:, http:, urn:, an unknown scheme): kept opaque. */
export class GenericUri {
  /** Lowercase scheme; '' only for the placeholder of an unparsable Request-URI. */
  scheme: string;
  /** The whole URI text as received. */
  raw: string;

  constructor(scheme: string, raw: string) {
    this.scheme = scheme;
    this.raw = raw;
  }

  clone(): GenericUri {
    return new GenericUri(this.scheme, this.raw);
  }

  toString(): string {
    return this.raw;
  }
}

export type Uri = SipUri | TelUri | GenericUri;

/** Length of the scheme at the start of `s` (scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )), 0 if none. */
function schemeLength(s: string): number {
  const c0 = s.charCodeAt(0);
  if (!(c0 < 256 && (CHAR[c0] & C_ALPHA) !== 0)) return 0;
  let i = 1;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 256 && ((CHAR[c] & (C_ALPHA | C_DIGIT)) !== 0 || c === 0x2b || c === 0x2d || c === 0x2e)) i++;
    else break;
  }
  return i < s.length && s.charCodeAt(i) === 0x3a ? i : 0;
}

/** Parses any URI: sip/sips -> SipUri, tel -> TelUri, other schemes -> GenericUri. */
export function parseUri(s: string): Uri | SipParseError {
  // fast path for sip: and sips:
  if ((s.charCodeAt(0) | 0x20) === 0x73 && (s.charCodeAt(1) | 0x20) === 0x69 && (s.charCodeAt(2) | 0x20) === 0x70) {
    const c3 = s.charCodeAt(3);
    if (c3 === 0x3a || ((c3 | 0x20) === 0x73 && s.charCodeAt(4) === 0x3a)) return SipUri.parse(s);
  }
  const sl = schemeLength(s);
  if (sl === 0 || sl + 1 >= s.length || s.length > 8192) return BAD_URI;
  const scheme = s.slice(0, sl).toLowerCase();
  if (scheme === 'sip' || scheme === 'sips') return SipUri.parse(s);
  if (scheme === 'tel') return TelUri.parse(s);
  // absoluteURI: no whitespace, controls, or delimiters that end a URI in a header.
  for (let i = sl + 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x3c || c === 0x3e || c === 0x22 || c > 0xff) {
      return BAD_URI;
    }
  }
  return new GenericUri(scheme, s);
}

// RFC 3261 §19.1.4 comparison helpers.

const RESERVED = ';/?:@&=+$,';

/**
 * Resolves %HH escapes of non-reserved characters (RFC 3261 §19.1.4: "characters other than
 * those in the reserved set are equivalent to their % HEX HEX encoding") and upper-cases the
 * hex of the escapes that stay, so equal URIs compare equal as strings.
 */
function normalizeEscapes(s: string): string {
  if (s.indexOf('%') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '%' && i + 2 < s.length) {
      const code = parseInt(s.slice(i + 1, i + 3), 16);
      if (!Number.isNaN(code)) {
        const ch = String.fromCharCode(code);
        out += RESERVED.includes(ch) || code < 0x21 || code > 0x7e ? '%' + s.slice(i + 1, i + 3).toUpperCase() : ch;
        i += 2;
        continue;
      }
    }
    out += c;
  }
  return out;
}

function eqCi(a: string | null | undefined, b: string | null | undefined): boolean {
  if (a === b) return true;
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return normalizeEscapes(a).toLowerCase() === normalizeEscapes(b).toLowerCase();
}

/** Parameters that must appear in both URIs when present in either (§19.1.4). */
const STRICT_PARAMS = ['user', 'ttl', 'method', 'maddr', 'transport'];

const NO_HEADERS: ReadonlyMap<string, string> = new Map();

function sipEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  // Userinfo is compared case-sensitively; everything else case-insensitively.
  if ((a.user === null) !== (b.user === null)) return false;
  if (a.user !== null && normalizeEscapes(a.user) !== normalizeEscapes(b.user as string)) return false;
  if ((a.password === null) !== (b.password === null)) return false;
  if (a.password !== null && normalizeEscapes(a.password) !== normalizeEscapes(b.password as string)) return false;
  if (!eqCi(a.host, b.host)) return false;
  // An omitted port is not the same as an explicit default port (§19.1.4).
  if (a.port !== b.port) return false;
  for (const p of STRICT_PARAMS) {
    const av = a.param(p);
    const bv = b.param(p);
    if (av === undefined && bv === undefined) continue;
    if (av === undefined || bv === undefined || !eqCi(av, bv)) return false;
  }
  // Other parameters present in both must match; those in only one are ignored.
  if (a._params !== null) {
    for (const [k, av] of a._params) {
      const bv = b.param(k);
      if (bv !== undefined && !eqCi(av, bv)) return false;
    }
  }
  // Header components are never ignored: each must be present in both and match.
  const ah = a._headers ?? NO_HEADERS;
  const bh = b._headers ?? NO_HEADERS;
  if (ah.size !== bh.size) return false;
  for (const [k, av] of ah) {
    let found = false;
    for (const [bk, bv] of bh) {
      if (eqCi(k, bk)) {
        if (!eqCi(av, bv)) return false;
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  return true;
}

function telNumber(n: string): string {
  let out = '';
  for (let i = 0; i < n.length; i++) {
    const c = n[i];
    if (c !== '-' && c !== '.' && c !== '(' && c !== ')') out += c;
  }
  return out.toLowerCase();
}

/** RFC 3261 §19.1.4 (sip/sips) and RFC 3966 §4 (tel) URI equivalence. */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a instanceof SipUri) return b instanceof SipUri && sipEquals(a, b);
  if (a instanceof TelUri) {
    if (!(b instanceof TelUri)) return false;
    if (telNumber(a.number) !== telNumber(b.number) || a.params.size !== b.params.size) return false;
    for (const [k, v] of a.params) {
      if (!b.params.has(k) || !eqCi(v, b.params.get(k))) return false;
    }
    return true;
  }
  if (b instanceof SipUri || b instanceof TelUri) return false;
  if (a.scheme !== b.scheme) return false;
  return a.raw.slice(a.scheme.length) === b.raw.slice(b.scheme.length);
}
