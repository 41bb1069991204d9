import { CHAR, C_TOKEN, C_HOST, parseParams, scanToken, skipWs, formatParams } from './chars.js';
import { frozenError, type SipParseError } from './errors.js';

const BAD_VIA = frozenError('SIP_ERR_MALFORMED_HEADER', 'Via');

/** RFC 3261 §8.1.1.7: branch IDs of RFC 3261 elements start with this cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';

/**
 * One Via value (RFC 3261 §20.42, §25.1):
 *   via-parm = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport
 *   sent-by = host [ COLON port ]
 * SLASH, COLON and SEMI allow whitespace around them (RFC 4475 §3.1.1.1, wsinv).
 */
export class Via {
  protocolName: string;
  protocolVersion: string;
  /** Upper-cased: 'UDP', 'TCP', 'TLS', 'SCTP', 'WS', or an unknown token. */
  transport: string;
  host: string;
  port: number | null;
  /** Keys lowercased; insertion order kept. */
  params: Map<string, string | null>;

  constructor(transport: string, host: string, port: number | null = null, params?: Iterable<readonly [string, string | null]>) {
    this.protocolName = 'SIP';
    this.protocolVersion = '2.0';
    this.transport = transport.toUpperCase();
    this.host = host;
    this.port = port;
    this.params = new Map();
    if (params !== undefined) for (const [k, v] of params) this.params.set(k.toLowerCase(), v);
  }

  get branch(): string | null {
    return this.params.get('branch') ?? null;
  }

  get received(): string | null {
    return this.params.get('received') ?? null;
  }

  /** RFC 3581: `true` when present without a value (the client asks for it). */
  get rport(): number | null | true {
    const v = this.params.get('rport');
    if (v === undefined) return null;
    if (v === null) return true;
    return Number(v);
  }

  get maddr(): string | null {
    return this.params.get('maddr') ?? null;
  }

  get ttl(): number | null {
    const v = this.params.get('ttl');
    return v === undefined || v === null ? null : Number(v);
  }

  /** The sent-by host without IPv6 brackets. */
  hostNoBrackets(): string {
    const h = this.host;
    return h.charCodeAt(0) === 0x5b ? h.slice(1, -1) : h;
  }

  static parse(s: string): Via | SipParseError {
    const bad = BAD_VIA;
    const n = s.length;
    let i = skipWs(s, 0);
    let e = scanToken(s, i);
    if (e === i) return bad;
    const name = s.slice(i, e);
    i = skipWs(s, e);
    if (s.charCodeAt(i) !== 0x2f) return bad;
    i = skipWs(s, i + 1);
    e = scanToken(s, i);
    if (e === i) return bad;
    const version = s.slice(i, e);
    i = skipWs(s, e);
    if (s.charCodeAt(i) !== 0x2f) return bad;
    i = skipWs(s, i + 1);
    e = scanToken(s, i);
    if (e === i) return bad;
    const transport = s.slice(i, e);
    i = skipWs(s, e);
    if (i === e || i >= n) return bad; // LWS required before sent-by
    // sent-by host: IPv6 reference or hostname/IPv4
    let hEnd: number;
    if (s.charCodeAt(i) === 0x5b) {
      hEnd = s.indexOf(']', i);
      if (hEnd < 0) return bad;
      hEnd++;
      for (let k = i + 1; k < hEnd - 1; k++) {
        const c = s.charCodeAt(k);
        if (c > 255 || (CHAR[c] & C_HOST) === 0) return bad;
      }
    } else {
      hEnd = i;
      while (hEnd < n) {
        const c = s.charCodeAt(hEnd);
        if (c > 255 || (CHAR[c] & C_HOST) === 0 || c === 0x3a || c === 0x5b || c === 0x5d) break;
        hEnd++;
      }
    }
    if (hEnd === i) return bad;
    const via = new Via(transport, s.slice(i, hEnd));
    via.protocolName = name;
    via.protocolVersion = version;
    i = skipWs(s, hEnd);
    if (i < n && s.charCodeAt(i) === 0x3a) {
      i = skipWs(s, i + 1);
      let port = 0;
      e = i;
      while (e < n) {
        const c = s.charCodeAt(e);
        if (c < 0x30 || c > 0x39) break;
        port = port * 10 + (c - 0x30);
        e++;
      }
      if (e === i || e - i > 5 || port > 65535) return bad;
      via.port = port;
      i = e;
    }
    const end = parseParams(s, i, via.params);
    if (end < 0 || skipWs(s, end) !== n) return bad;
    // via-branch = "branch" EQUAL token
    const branch = via.params.get('branch');
    if (branch !== undefined && (branch === null || !isTokenValue(branch))) return bad;
    // RFC 3581 rport: optional 1*DIGIT port
    const rport = via.params.get('rport');
    if (rport !== undefined && rport !== null && !isPort(rport)) return bad;
    // via-ttl = "ttl" EQUAL ttl (0-255); via-received / via-maddr carry a host
    const ttl = via.params.get('ttl');
    if (ttl !== undefined && (ttl === null || !isTtl(ttl))) return bad;
    const rec = via.params.get('received');
    if (rec !== undefined && (rec === null || rec.charCodeAt(0) === 0x22)) return bad;
    const maddr = via.params.get('maddr');
    if (maddr !== undefined && (maddr === null || maddr.charCodeAt(0) === 0x22)) return bad;
    return via;
  }

  clone(): Via {
    const v = new Via(this.transport, this.host, this.port, this.params);
    v.protocolName = this.protocolName;
    v.protocolVersion = this.protocolVersion;
    return v;
  }

  toString(): string {
    return this.protocolName + '/' + this.protocolVersion + '/' + this.transport + ' ' + this.host +
      (this.port === null ? '' : ':' + this.port) + formatParams(this.params);
  }
}

function isTokenValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c > 255 || (CHAR[c] & C_TOKEN) === 0) return false;
  }
  return v.length > 0;
}

function isPort(v: string): boolean {
  if (v.length === 0 || v.length > 5) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(v) <= 65535;
}

function isTtl(v: string): boolean {
  if (v.length === 0 || v.length > 3) return false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return Number(v) <= 255;
}
