import { C_TOKEN, CHAR } from './chars.js';
import { sipError, type SipParseError } from './errors.js';
import { HeaderList } from './header-list.js';
import { canonicalHeaderNameAt } from './header-name.js';
import { CSeq } from './cseq.js';
import {
  checkCallId, isSip20, parseContentLength, parseExpires, parseFromTo, parseMaxForwards, parseViaLine,
  readContacts, readRouteSet, readVias, SipRequest, SipResponse, type SipMessage,
} from './sip-message.js';
import { GenericUri, parseUri, SipUri, type Uri } from './uri.js';
import { MAGIC_COOKIE, type Via } from './via.js';

export type ParseResult =
  | { ok: true; message: SipRequest | SipResponse }
  // message: a best-effort message when the start line and headers could be split and the
  // top Via parses, so a server can answer the error to it; null when nothing is usable.
  | { ok: false; error: SipParseError; message: SipRequest | SipResponse | null };

export interface ParseOptions {
  /** Largest message accepted, in octets (RFC 3261 §18.1.1 / §21.5.14: larger -> 513). */
  maxSize?: number;
}

/** Default size cap: the largest UDP payload. */
export const DEFAULT_MAX_MESSAGE_SIZE = 65535;
/** However large the input, at most this much is scanned for a header section. */
const HEADER_SCAN_CAP = 65536;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/**
 * Parses one SIP message from a datagram or a framed stream message (RFC 3261 §7).
 *
 * The size cap is checked first. The header section is converted to a latin1 string once and
 * cut into lines (folded continuation lines joined, RFC 3261 §7.3.1); each line keeps its
 * exact text for byte-exact forwarding. Then the headers a proxy must interpret are parsed
 * and validated (Via, From, To, Call-ID, CSeq, Max-Forwards, Content-Length, Contact,
 * Route, Record-Route, Expires) and the results cached on the message; all other header
 * values stay unparsed text.
 *
 * Body (RFC 3261 §18.3, datagram rules): exactly Content-Length octets, trailing octets
 * ignored (RFC 4475 §3.1.1.8); fewer -> 400; no Content-Length -> the rest of the buffer.
 * `body` is a view of `buf`: callers that reuse receive buffers must copy.
 *
 * Never throws.
 */
export function parseMessage(buf: Buffer, opts?: ParseOptions): ParseResult {
  try {
    return parse(buf, opts?.maxSize ?? DEFAULT_MAX_MESSAGE_SIZE);
  } catch {
    // Defensive: every path above returns; a throw here is a bug, never a crash.
    return { ok: false, error: sipError('SIP_ERR_EMPTY'), message: null };
  }
}

function fail(error: SipParseError, message: SipRequest | SipResponse | null): ParseResult {
  // Only hand out a message a server can answer: its top Via must parse.
  if (message !== null) {
    const vias = readVias(message.headers);
    if ('status' in vias || vias.length === 0) message = null;
  }
  return { ok: false, error, message };
}

function parse(buf: Buffer, maxSize: number): ParseResult {
  const len = buf.length;
  let error: SipParseError | null = len > maxSize ? sipError('SIP_ERR_TOO_LARGE') : null;
  const scanEnd = len > HEADER_SCAN_CAP ? HEADER_SCAN_CAP : len;

  // RFC 3261 §7.5: ignore CRLFs before the start line.
  let start = 0;
  while (start < scanEnd && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start >= scanEnd) return { ok: false, error: error ?? sipError('SIP_ERR_EMPTY'), message: null };

  // End of the header section: the empty line. Fast path CRLF CRLF; else tolerate bare LFs.
  let headEnd: number; // end of the last header line (after its terminator)
  let bodyStart: number;
  let rawEnd = '\r\n';
  const idx = buf.indexOf(CRLFCRLF, start);
  if (idx >= 0 && idx + 4 <= scanEnd) {
    headEnd = idx + 2;
    bodyStart = idx + 4;
  } else {
    headEnd = -1;
    bodyStart = -1;
    for (let i = start; i < scanEnd; i++) {
      if (buf[i] !== 0x0a) continue;
      if (i + 1 < scanEnd && buf[i + 1] === 0x0a) {
        headEnd = i + 1;
        bodyStart = i + 2;
        rawEnd = '\n';
        break;
      }
      if (i + 2 < scanEnd && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
        headEnd = i + 1;
        bodyStart = i + 3;
        break;
      }
    }
    if (headEnd < 0) {
      // No empty line: the header section is incomplete (a truncated datagram or a
      // stream head handed over for an error answer). Parse what is there.
      if (error === null) error = sipError('SIP_ERR_HEADER_END');
      headEnd = scanEnd;
      bodyStart = scanEnd;
    }
  }
  const s = buf.toString('latin1', start, headEnd);

  // Start line.
  let lineEnd = s.indexOf('\n');
  if (lineEnd < 0) lineEnd = s.length;
  const startLine = s.slice(0, lineEnd > 0 && s.charCodeAt(lineEnd - 1) === 0x0d ? lineEnd - 1 : lineEnd);
  const rawStart = s.slice(0, lineEnd + 1);

  // Header lines.
  const headers = new HeaderList();
  let p = lineEnd + 1;
  const n = s.length;
  while (p < n) {
    let e = s.indexOf('\n', p);
    if (e < 0) e = n - 1;
    if (e === p || (e === p + 1 && s.charCodeAt(p) === 0x0d)) {
      // An empty line ended by a bare LF before the CRLF CRLF: the header section ends here.
      rawEnd = intern(s.slice(p, e + 1));
      bodyStart = start + e + 1;
      if (error !== null && error.code === 'SIP_ERR_HEADER_END') error = len > maxSize ? sipError('SIP_ERR_TOO_LARGE') : null;
      break;
    }
    let folded = false;
    // RFC 3261 §7.3.1: a line starting with SP/HTAB continues the previous one.
    while (e + 1 < n) {
      const c = s.charCodeAt(e + 1);
      if (c !== 0x20 && c !== 0x09) break;
      folded = true;
      const f = s.indexOf('\n', e + 1);
      e = f < 0 ? n - 1 : f;
    }
    // field-name = token; then HCOLON = *( SP / HTAB ) ":" SWS
    let q = p;
    while (q < e) {
      const c = s.charCodeAt(q);
      if ((CHAR[c] & C_TOKEN) === 0) break;
      q++;
    }
    const nameEnd = q;
    while (q < e && (s.charCodeAt(q) === 0x20 || s.charCodeAt(q) === 0x09)) q++;
    if (nameEnd === p || q >= e + 1 || s.charCodeAt(q) !== 0x3a) {
      if (error === null) error = sipError('SIP_ERR_HEADER_LINE');
      p = e + 1;
      continue;
    }
    let vs = q + 1;
    let ve = e + 1;
    // trim the line terminator and surrounding whitespace (LWS is not part of the value)
    while (ve > vs) {
      const c = s.charCodeAt(ve - 1);
      if (c !== 0x0a && c !== 0x0d && c !== 0x20 && c !== 0x09) break;
      ve--;
    }
    while (vs < ve) {
      const c = s.charCodeAt(vs);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0d && c !== 0x0a) break;
      vs++;
    }
    const value = folded ? unfold(s, vs, ve) : s.slice(vs, ve);
    headers.pushRaw(canonicalHeaderNameAt(s, p, nameEnd), value, s.slice(p, e + 1));
    p = e + 1;
  }

  // Request or response: a Status-Line starts with the SIP-Version (RFC 3261 §7.2).
  let msg: SipRequest | SipResponse | null;
  let method: string | null = null;
  if (startLine.length >= 4 && startLine.slice(0, 4).toUpperCase() === 'SIP/') {
    const sr = parseStatusLine(startLine);
    if ('version' in sr) {
      msg = new SipResponse(sr.status, sr.reason, headers);
      msg.version = sr.version;
      msg._rawVersion = sr.version;
      if (!isSip20(sr.version) && error === null) error = sipError('SIP_ERR_VERSION');
    } else {
      msg = null;
      if (error === null) error = sr as SipParseError;
    }
  } else {
    const rl = parseRequestLine(startLine);
    if (rl.error !== null && error === null) error = rl.error;
    if (rl.method === null) msg = null;
    else {
      method = rl.method;
      msg = new SipRequest(rl.method, rl.uri, headers);
      msg.version = rl.version;
      msg._rawVersion = rl.version;
    }
  }
  if (msg === null) return fail(error as SipParseError, null);
  msg._rawStart = rawStart;
  msg._rawEnd = rawEnd;
  if (error !== null) return fail(error, msg);

  const v = validate(msg, method);
  if (v !== null) return fail(v, msg);

  // Body (RFC 3261 §18.3 for datagrams; stream framing already cut the message).
  const cl = msg._contentLength as number | null;
  if (cl !== null) {
    if (bodyStart + cl > len) return fail(sipError('SIP_ERR_BODY_TRUNCATED'), msg);
    if (cl > 0) msg.body = buf.subarray(bodyStart, bodyStart + cl);
  } else if (bodyStart < len) {
    msg.body = buf.subarray(bodyStart, len);
  }
  return { ok: true, message: msg };
}

/** Joins folded lines: each line break plus the whitespace around it becomes one SP. */
function unfold(s: string, vs: number, ve: number): string {
  let out = '';
  let i = vs;
  while (i < ve) {
    const c = s.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) {
      // drop whitespace already emitted before the break
      let k = out.length;
      while (k > 0 && (out.charCodeAt(k - 1) === 0x20 || out.charCodeAt(k - 1) === 0x09)) k--;
      out = out.slice(0, k) + ' ';
      i++;
      while (i < ve) {
        const d = s.charCodeAt(i);
        if (d !== 0x0d && d !== 0x0a && d !== 0x20 && d !== 0x09) break;
        i++;
      }
      continue;
    }
    out += s[i];
    i++;
  }
  return out;
}

interface RequestLine {
  method: string | null;
  uri: Uri;
  version: string;
  error: SipParseError | null;
}

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (case-insensitive "SIP"). */
function isVersionSyntax(v: string): boolean {
  if (v.length < 7 || v.length > 16 || v.slice(0, 4).toUpperCase() !== 'SIP/') return false;
  const dot = v.indexOf('.', 4);
  if (dot <= 4 || dot === v.length - 1) return false;
  for (let i = 4; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (i !== dot && (c < 0x30 || c > 0x39)) return false;
  }
  return true;
}

/**
 * Request-Line = Method SP Request-URI SP SIP-Version (RFC 3261 §7.1): exactly two single
 * SPs (RFC 4475 §3.1.2.8-10: embedded LWS, multiple SP, trailing SP are errors).
 */
function parseRequestLine(line: string): RequestLine {
  const sp1 = line.indexOf(' ');
  const placeholder = new GenericUri('', '');
  if (sp1 <= 0) return { method: null, uri: placeholder, version: '', error: sipError('SIP_ERR_REQUEST_LINE') };
  const method = intern(line.slice(0, sp1));
  for (let i = 0; i < method.length; i++) {
    const c = method.charCodeAt(i);
    if ((CHAR[c] & C_TOKEN) === 0) return { method: null, uri: placeholder, version: '', error: sipError('SIP_ERR_REQUEST_LINE') };
  }
  // The method is sound: from here on a (best-effort) request exists.
  const sp2 = line.indexOf(' ', sp1 + 1);
  const uriText = sp2 < 0 ? line.slice(sp1 + 1) : line.slice(sp1 + 1, sp2);
  const version = sp2 < 0 ? '' : intern(line.slice(sp2 + 1));
  let error: SipParseError | null = null;
  if (!isVersionSyntax(version) || uriText.length === 0) error = sipError('SIP_ERR_REQUEST_LINE');
  else if (!isSip20(version)) error = sipError('SIP_ERR_VERSION');
  let uri = parseUri(uriText);
  if ('status' in uri) {
    if (error === null) error = sipError('SIP_ERR_REQUEST_URI');
    uri = new GenericUri('', uriText);
  } else if (uri instanceof SipUri && uri.hasHeaders && error === null) {
    // RFC 3261 §19.1.1 table 1: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11).
    error = sipError('SIP_ERR_REQUEST_URI');
  }
  return { method, uri, version, error };
}

/**
 * The start-line words nearly every message repeats, as one shared string each. A proxy keeps
 * every message of a finished transaction for 64*T1; a fresh copy of "SIP/2.0", "INVITE", "OK"
 * and the empty line per message was a third of the strings a lingering call retained, each one
 * copied again by every scavenge.
 */
const COMMON_WORDS = new Map<string, string>(
  [
    'SIP/2.0', '\r\n', '\n',
    'INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE',
    'Trying', 'Ringing', 'Session Progress', 'OK', 'Accepted', 'Unauthorized', 'Proxy Authentication Required', 'Not Found',
    'Busy Here', 'Request Terminated', 'Call/Transaction Does Not Exist', 'Request Timeout', 'Temporarily Unavailable',
    'Service Unavailable', 'Server Internal Error', 'Decline', 'Forbidden',
  ].map((w) => [w, w]),
);

function intern(word: string): string {
  return COMMON_WORDS.get(word) ?? word;
}

/** Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2). */
function parseStatusLine(line: string): { status: number; reason: string; version: string } | SipParseError {
  const sp1 = line.indexOf(' ');
  if (sp1 < 0) return sipError('SIP_ERR_STATUS_LINE');
  const version = intern(line.slice(0, sp1));
  if (!isVersionSyntax(version)) return sipError('SIP_ERR_STATUS_LINE');
  // Status-Code = 3DIGIT, 100-699 (RFC 4475 §3.1.2.19: larger codes are dropped).
  let status = 0;
  let i = sp1 + 1;
  for (; i < line.length && i < sp1 + 5; i++) {
    const c = line.charCodeAt(i);
    if (c < 0x30 || c > 0x39) break;
    status = status * 10 + (c - 0x30);
  }
  if (i - sp1 - 1 !== 3 || status < 100 || status > 699) return sipError('SIP_ERR_STATUS_LINE');
  // The SP before an empty reason is required (RFC 4475 §3.1.1.13); be liberal about its absence.
  if (i < line.length && line.charCodeAt(i) !== 0x20) return sipError('SIP_ERR_STATUS_LINE');
  return { status, reason: intern(line.slice(i + 1)), version };
}

/**
 * RFC 3261 §8.2.2 / §16.3 step 1 (reasonable syntax) for what the proxy interprets, caching
 * each parsed value on the message. One pass finds the lines; the order of the checks below
 * decides which fault a 400 names.
 */
function validate(msg: SipMessage, method: string | null): SipParseError | null {
  const h = msg.headers;
  const ln = h.lnames;
  const vals = h.vals;
  msg._bindCaches();
  let from = -1, to = -1, callId = -1, cseq = -1, mf = -1, cl = -1, expires = -1;
  let hasContact = false, hasRoute = false, hasRecordRoute = false;
  const vias: Via[] = [];
  for (let i = 0; i < ln.length; i++) {
    switch (ln[i]) {
      case 'via': {
        const err = parseViaLine(vals[i], vias);
        if (err !== null) return err;
        break;
      }
      case 'from':
        if (from >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'From');
        from = i;
        break;
      case 'to':
        if (to >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'To');
        to = i;
        break;
      case 'call-id':
        if (callId >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'Call-ID');
        callId = i;
        break;
      case 'cseq':
        if (cseq >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'CSeq');
        cseq = i;
        break;
      case 'max-forwards':
        if (mf >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'Max-Forwards');
        mf = i;
        break;
      case 'content-length':
        if (cl >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'Content-Length');
        cl = i;
        break;
      case 'expires':
        if (expires >= 0) return sipError('SIP_ERR_DUPLICATE_HEADER', 'Expires');
        expires = i;
        break;
      case 'contact':
        hasContact = true;
        break;
      case 'route':
        hasRoute = true;
        break;
      case 'record-route':
        hasRecordRoute = true;
        break;
    }
  }
  if (vias.length === 0) return sipError('SIP_ERR_MISSING_HEADER', 'Via');
  msg._vias = vias;
  msg._cached(4);
  // A branch that is only the magic cookie carries no transaction id; RFC 4475 §3.2.1
  // (badbranch) allows a stateless 400, which the transaction layer can send since the
  // rest of the Via is sound.
  if (vias[0].branch === MAGIC_COOKIE) return sipError('SIP_ERR_MALFORMED_HEADER', 'Via branch');
  if (from < 0) return sipError('SIP_ERR_MISSING_HEADER', 'From');
  const f = parseFromTo(vals[from], 'from');
  if ('status' in f) return f;
  msg._from = f;
  msg._cached(2);
  if (to < 0) return sipError('SIP_ERR_MISSING_HEADER', 'To');
  const t = parseFromTo(vals[to], 'to');
  if ('status' in t) return t;
  msg._to = t;
  msg._cached(3);
  if (callId < 0) return sipError('SIP_ERR_MISSING_HEADER', 'Call-ID');
  const id = checkCallId(vals[callId]);
  if (typeof id !== 'string') return id;
  msg._callId = id;
  msg._cached(0);
  if (cseq < 0) return sipError('SIP_ERR_MISSING_HEADER', 'CSeq');
  const cs = CSeq.parse(vals[cseq]);
  if ('status' in cs) return cs;
  msg._cseq = cs;
  msg._cached(1);
  // RFC 3261 §8.1.1.5 / RFC 4475 §3.1.2.17-18: CSeq method equals the request method.
  if (method !== null && cs.method !== method) return sipError('SIP_ERR_CSEQ_METHOD');
  if (mf >= 0) {
    const v = parseMaxForwards(vals[mf]);
    if (typeof v !== 'number') return v;
    msg._maxForwards = v;
    msg._cached(5);
  } else {
    msg._maxForwards = null;
    msg._cached(5);
  }
  if (cl >= 0) {
    const v = parseContentLength(vals[cl]);
    if (typeof v !== 'number') return v;
    msg._contentLength = v;
    msg._cached(6);
  } else {
    msg._contentLength = null;
    msg._cached(6);
  }
  // A response's Contact, Route, Record-Route and Expires are for the UAs (a proxy relays them,
  // RFC 3261 §16.7): they are parsed on first access instead of on every response relayed.
  if (method === null) return null;
  if (hasContact) {
    const c = readContacts(h);
    if ('status' in c) return c;
    msg._contacts = c;
    msg._cached(7);
  }
  if (hasRoute) {
    const r = readRouteSet(h, 'route');
    if ('status' in r) return r;
    msg._routes = r;
    msg._cached(8);
  } else {
    msg._routes = [];
    msg._cached(8);
  }
  if (hasRecordRoute) {
    const r = readRouteSet(h, 'record-route');
    if ('status' in r) return r;
    msg._recordRoutes = r;
    msg._cached(9);
  } else {
    msg._recordRoutes = [];
    msg._cached(9);
  }
  if (expires >= 0) {
    const v = parseExpires(vals[expires]);
    if (typeof v !== 'number') return v;
    msg._expires = v;
    msg._cached(10);
  } else {
    msg._expires = null;
    msg._cached(10);
  }
  return null;
}
