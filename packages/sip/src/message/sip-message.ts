import { CSeq } from './cseq.js';
import { frozenError, sipError, SipMessageError, type SipParseError } from './errors.js';
import { HeaderList, HEADER_KIND_COUNT } from './header-list.js';
import { formatHeaderName } from './header-name.js';
import { NameAddr, parseContacts } from './name-addr.js';
import { parseUint, splitCommas, CHAR, C_WORD } from './chars.js';
import { parkedCopy, parkedLatin1 } from './parked-bytes.js';
import { GenericUri, SipUri, type Uri } from './uri.js';
import { Via } from './via.js';

export type Contacts = { star: true } | { star: false; contacts: NameAddr[] };

/** RFC 3261 §20.19: malformed (here: overlarge) Expires values count as 3600. */
const DEFAULT_EXPIRES = 3600;
const MAX_EXPIRES = 0xffffffff;

/**
 * Common part of requests and responses (RFC 3261 §7).
 *
 * Header values are parsed lazily on first access and cached against `headers.version`, so
 * a mutation of the header list invalidates them. Parsed objects are copies: to change a
 * header, modify the object and write it back (`msg.headers.set('to', to.toString())`).
 * `parseMessage` validates every header these accessors read; on a message built by hand a
 * missing or malformed header makes the accessor throw `SipMessageError`.
 */
/** The cache versions of a compacted message: nothing cached (frozen: never written). */
const NO_CACHES: number[] = Object.freeze(new Array<number>(HEADER_KIND_COUNT).fill(-1)) as number[];

export abstract class SipMessage {
  /** @internal the header lines; null while parked as `_dry` (see compact) */
  _headers: HeaderList | null;
  /** @internal the parked received start line + header lines (latin1 bytes), or null */
  _dry: Buffer | null;
  /** @internal length of the received start line at the head of `_dry` (-1: none) */
  _dryStart: number;
  /** The body; a view of the receive buffer for parsed messages (never written to). */
  body: Buffer;

  /** @internal received start line incl. terminator (null: built by hand) */
  _rawStart: string | null;
  /** @internal received empty line ending the header section */
  _rawEnd: string;
  /** @internal per-kind header versions the caches below were parsed at (HEADER_KIND) */
  _fv: number[];
  /** @internal the HeaderList the caches belong to (headers may be replaced wholesale) */
  _ch: HeaderList | null;
  /** @internal */ _callId: string | null = null;
  /** @internal */ _cseq: CSeq | null = null;
  /** @internal */ _from: NameAddr | null = null;
  /** @internal */ _to: NameAddr | null = null;
  /** @internal */ _vias: Via[] | null = null;
  /** @internal undefined: not read yet */ _maxForwards: number | null | undefined;
  /** @internal undefined: not read yet */ _contentLength: number | null | undefined;
  /** @internal */ _contacts: Contacts | null = null;
  /** @internal */ _routes: NameAddr[] | null = null;
  /** @internal */ _recordRoutes: NameAddr[] | null = null;
  /** @internal undefined: not read yet */ _expires: number | null | undefined;

  constructor(headers: HeaderList | undefined, body: Buffer | undefined) {
    this._headers = headers ?? new HeaderList();
    this._dry = null;
    this._dryStart = -1;
    this.body = body ?? EMPTY_BODY;
    this._rawStart = null;
    this._rawEnd = '\r\n';
    this._fv = new Array<number>(HEADER_KIND_COUNT).fill(-1);
    this._ch = this.headers;
    this._dropCaches();
  }

  /** The header lines (rebuilt from their parked text after `compact`). */
  get headers(): HeaderList {
    let h = this._headers;
    if (h === null) {
      const text = this._dry === null ? '' : this._dry.toString('latin1');
      const start = Math.max(0, this._dryStart);
      if (this._dryStart >= 0) this._rawStart = text.slice(0, start);
      h = this._headers = HeaderList.fromLines(text.slice(start));
      this._dry = null;
      this._dryStart = -1;
    }
    return h;
  }

  set headers(h: HeaderList) {
    this._headers = h;
    this._dry = null;
  }

  /**
   * @internal true when the cache of header kind `k` was parsed from the current lines; a
   * replaced HeaderList invalidates every cache.
   */
  _fresh(k: number): boolean {
    this._bindCaches();
    return this._fv[k] === this.headers._kv[k];
  }

  /** @internal caches belong to one HeaderList; assigning a new one invalidates them all */
  _bindCaches(): void {
    if (this._ch !== this.headers) {
      this._ch = this.headers;
      // A fresh array: a compacted message shares the frozen NO_CACHES until it is read again.
      this._fv = new Array<number>(HEADER_KIND_COUNT).fill(-1);
    }
  }

  /**
   * Adds a new top Via (a proxy forwarding a request, RFC 3261 §16.6 step 8). The Vias already
   * parsed stay parsed: only the new value is.
   */
  pushVia(value: string): void {
    const old = this._fresh(VIA_KIND) ? this._vias : null;
    this.headers.prepend('Via', value);
    if (old !== null) {
      const v = Via.parse(value);
      if (v instanceof Via) {
        // A new array: clones share the old one.
        this._vias = [v, ...old];
        this._cached(VIA_KIND);
      }
    }
  }

  /** Removes the top Via value (a proxy relaying a response, §16.7 step 3), keeping the rest parsed. */
  popVia(): void {
    const old = this._fresh(VIA_KIND) ? this._vias : null;
    this.headers.removeFirstValue('via');
    if (old !== null) {
      this._vias = old.slice(1);
      this._cached(VIA_KIND);
    }
  }

  /**
   * Writes back the top Via after its parameters were changed on the parsed value
   * (received/rport, §18.2.1, RFC 3581 §4); its other values and lines are untouched.
   */
  replaceTopVia(via: Via): void {
    const old = this._fresh(VIA_KIND) ? this._vias : null;
    this.headers.replaceFirstValue('via', via.toString());
    if (old !== null && old[0] === via) this._cached(VIA_KIND);
  }

  /**
   * Drops every parsed value (they are parsed again on the next access). A transaction that
   * only waits out its timers calls this: the parsed Via/URI/name-addr graphs of the messages
   * it holds are most of their memory, and retaining them for 64*T1 dominated GC under load.
   */
  compact(): void {
    if (this._headers !== null) {
      // Bytes outside the JS heap instead of three arrays of string slices and their parsed
      // views: nothing for the collector to trace or copy while a transaction lingers (64*T1).
      // Rebuilt on the next access.
      // The received start line goes with them: as a slice it would keep the whole received
      // message text alive.
      const start = this._rawStart ?? '';
      this._dryStart = this._rawStart === null ? -1 : start.length;
      this._dry = parkedLatin1(start + this._headers.toLines());
      this._headers = null;
      this._rawStart = null;
      this._ch = null;
      // A parsed body is a view of the receive buffer: it would keep the whole datagram alive
      // next to the parked copy. An empty one becomes the shared empty body, a non-empty one a
      // parked copy (parked-bytes.ts).
      const body = this.body;
      if (body.length === 0) this.body = EMPTY_BODY;
      else if (body.byteLength !== body.buffer.byteLength) this.body = parkedCopy(body);
    }
    this._dropCaches();
    // The per-kind versions go too (an 11-slot array per message, for the 64*T1 it lingers);
    // the next read binds a new one (_bindCaches).
    this._fv = NO_CACHES;
  }

  /** @internal forgets every parsed value (constructor, compact) */
  _dropCaches(): void {
    if (this._fv !== NO_CACHES) this._fv.fill(-1);
    this._callId = null;
    this._cseq = null;
    this._from = null;
    this._to = null;
    this._vias = null;
    this._maxForwards = undefined;
    this._contentLength = undefined;
    this._contacts = null;
    this._routes = null;
    this._recordRoutes = null;
    this._expires = undefined;
  }

  /** @internal marks the cache of kind `k` as parsed from the current lines */
  _cached(k: number): void {
    this._fv[k] = this.headers._kv[k]!;
  }

  get callId(): string {
    if (!this._fresh(0)) {
      this._callId = unwrap(readCallId(this.headers));
      this._cached(0);
    }
    return this._callId!;
  }

  get cseq(): CSeq {
    if (!this._fresh(1)) {
      this._cseq = unwrap(readCSeq(this.headers));
      this._cached(1);
    }
    return this._cseq!;
  }

  get from(): NameAddr {
    if (!this._fresh(2)) {
      this._from = unwrap(readNameAddr(this.headers, 'from'));
      this._cached(2);
    }
    return this._from!;
  }

  get to(): NameAddr {
    if (!this._fresh(3)) {
      this._to = unwrap(readNameAddr(this.headers, 'to'));
      this._cached(3);
    }
    return this._to!;
  }

  /** All Via values in order (over lines and commas). */
  get vias(): Via[] {
    if (!this._fresh(4)) {
      this._vias = unwrap(readVias(this.headers));
      this._cached(4);
    }
    return this._vias!;
  }

  get topVia(): Via {
    const v = this.vias;
    if (v.length === 0) throw new SipMessageError(sipError('SIP_ERR_MISSING_HEADER', 'Via'));
    return v[0];
  }

  /** null when absent (a proxy then adds 70, RFC 3261 §16.6 step 3). */
  get maxForwards(): number | null {
    if (!this._fresh(5)) {
      this._maxForwards = unwrap(readMaxForwards(this.headers));
      this._cached(5);
    }
    return this._maxForwards as number | null;
  }

  /** The Content-Length header's value (null when absent); the body length is `body.length`. */
  get contentLength(): number | null {
    if (!this._fresh(6)) {
      this._contentLength = unwrap(readContentLength(this.headers));
      this._cached(6);
    }
    return this._contentLength as number | null;
  }

  /** Contact values; `{ star: false, contacts: [] }` when there is none. */
  get contacts(): Contacts {
    if (!this._fresh(7)) {
      this._contacts = unwrap(readContacts(this.headers));
      this._cached(7);
    }
    return this._contacts!;
  }

  /** Route values in order (RFC 3261 §20.34). */
  get routes(): NameAddr[] {
    if (!this._fresh(8)) {
      this._routes = unwrap(readRouteSet(this.headers, 'route'));
      this._cached(8);
    }
    return this._routes!;
  }

  /** Record-Route values in order (RFC 3261 §20.30). */
  get recordRoutes(): NameAddr[] {
    if (!this._fresh(9)) {
      this._recordRoutes = unwrap(readRouteSet(this.headers, 'record-route'));
      this._cached(9);
    }
    return this._recordRoutes!;
  }

  /**
   * The Expires header in seconds, null when absent. Values above 2**32-1 are malformed
   * and count as 3600 (RFC 3261 §20.19, RFC 4475 §3.1.2.4).
   */
  get expires(): number | null {
    if (!this._fresh(10)) {
      this._expires = unwrap(readExpires(this.headers));
      this._cached(10);
    }
    return this._expires as number | null;
  }

  /** @internal start line incl. CRLF */
  abstract _startLine(): string;

  /**
   * Start line + headers + empty line + body. Untouched header lines are written exactly as
   * received; set/added ones as `Name: value`. Content-Length always states `body.length`
   * (one line, at the place of the first received one, else at the end).
   */
  toBuffer(): Buffer {
    // Headers first: a parked message gets its received start line back with them.
    const h = this.headers;
    let s = this._startLine();
    const ln = h.lnames;
    const raws = h.raws;
    const vals = h.vals;
    const bodyLen = this.body.length;
    let clDone = false;
    for (let i = 0; i < ln.length; i++) {
      const raw = raws[i];
      if (ln[i] === 'content-length') {
        if (clDone) continue;
        clDone = true;
        if (raw !== null && parseUint(vals[i], 10) === bodyLen) s += raw;
        else s += 'Content-Length: ' + bodyLen + '\r\n';
        continue;
      }
      s += raw !== null ? raw : formatHeaderName(ln[i]) + ': ' + vals[i] + '\r\n';
    }
    if (!clDone) s += 'Content-Length: ' + bodyLen + '\r\n';
    s += this._rawEnd;
    // One buffer for head and body: a separate head buffer then Buffer.concat allocated and
    // copied the message twice.
    const out = Buffer.allocUnsafe(s.length + bodyLen);
    out.write(s, 0, s.length, 'latin1');
    if (bodyLen > 0) out.set(this.body, s.length);
    return out;
  }

  /** @internal copies the common state into `c` */
  _copyInto(c: SipMessage): void {
    c.headers = this.headers.clone();
    c.body = this.body;
    c._rawStart = this._rawStart;
    c._rawEnd = this._rawEnd;
    // The copy's lines are the same text: it shares the parsed values (read-only views) and
    // their versions instead of parsing again.
    c._ch = c.headers;
    for (let k = 0; k < HEADER_KIND_COUNT; k++) c._fv[k] = this._ch === this.headers ? this._fv[k]! : -1;
    c._callId = this._callId;
    c._cseq = this._cseq;
    c._from = this._from;
    c._to = this._to;
    c._vias = this._vias;
    c._maxForwards = this._maxForwards;
    c._contentLength = this._contentLength;
    c._contacts = this._contacts;
    c._routes = this._routes;
    c._recordRoutes = this._recordRoutes;
    c._expires = this._expires;
  }

  abstract clone(): this;
}

const EMPTY_BODY = Buffer.alloc(0);
/** HEADER_KIND of Via. */
const VIA_KIND = 4;

/** Errors from the readers below always carry a `code` (sipError); values never do. */
function isReadError(v: unknown): v is SipParseError {
  return typeof v === 'object' && v !== null && 'code' in v && 'status' in v;
}

function unwrap<T>(v: T | SipParseError): T {
  if (isReadError(v)) throw new SipMessageError(v);
  return v;
}

/** Version text check: "SIP/2.0" (case-insensitive, RFC 3261 §7.1). */
export function isSip20(v: string): boolean {
  return v.length === 7 && (v === 'SIP/2.0' || v.toUpperCase() === 'SIP/2.0');
}

/** SIP request (RFC 3261 §7.1). */
export class SipRequest extends SipMessage {
  method: string;
  version: string;
  /**
   * @internal the Request-URI; its text while parked by `compact` (a parsed SipUri with its two
   * Maps is most of a compacted request), parsed again on the next access
   */
  _uri: Uri | string;
  /** @internal R-URI text when first handed out (null: never; then the raw line is current) */
  _uriSnap: string | null;
  /** @internal */ _rawMethod: string;
  /** @internal */ _rawVersion: string;

  constructor(method: string, uri: Uri, headers?: HeaderList, body?: Buffer) {
    super(headers, body);
    this.method = method;
    this.version = 'SIP/2.0';
    this._uri = uri;
    this._uriSnap = null;
    this._rawMethod = method;
    this._rawVersion = 'SIP/2.0';
  }

  get uri(): Uri {
    const u = this._parsedUri();
    if (this._rawStart !== null && this._uriSnap === null) this._uriSnap = u.toString();
    return u;
  }

  set uri(u: Uri) {
    if (this._rawStart !== null && this._uriSnap === null) this._uriSnap = this._parsedUri().toString();
    this._uri = u;
  }

  /** @internal the Request-URI, parsed again after `compact` parked it as text */
  _parsedUri(): Uri {
    const u = this._uri;
    if (typeof u !== 'string') return u;
    // The text is our own serialisation of a SipUri, so it parses; GenericUri only as a guard.
    const parsed = SipUri.parse(u);
    return (this._uri = parsed instanceof SipUri ? parsed : new GenericUri('', u));
  }

  /**
   * Also parks a SIP Request-URI as its text (tel: and other URIs stay as they are). A caller
   * that kept the Uri object and changes it afterwards no longer changes this message (parsed
   * values are copies, see the class comment; write it back with `uri =`).
   */
  override compact(): void {
    super.compact();
    if (this._uri instanceof SipUri) this._uri = this._uri.toString();
  }

  /** @internal */
  _startLine(): string {
    const raw = this._rawStart;
    if (raw !== null && this.method === this._rawMethod && this.version === this._rawVersion &&
        (this._uriSnap === null || this._uriSnap === this._parsedUri().toString())) return raw;
    return this.method + ' ' + this._parsedUri().toString() + ' ' + this.version + '\r\n';
  }

  clone(): this {
    const c = new SipRequest(this.method, this._parsedUri().clone());
    this._copyInto(c);
    c.version = this.version;
    c._uriSnap = this._rawStart !== null && this._uriSnap === null ? this._parsedUri().toString() : this._uriSnap;
    c._rawMethod = this._rawMethod;
    c._rawVersion = this._rawVersion;
    return c as this;
  }
}

/** SIP response (RFC 3261 §7.2). */
export class SipResponse extends SipMessage {
  status: number;
  reason: string;
  version: string;
  /** @internal */ _rawStatus: number;
  /** @internal */ _rawReason: string;
  /** @internal */ _rawVersion: string;

  constructor(status: number, reason: string, headers?: HeaderList, body?: Buffer) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
    this.version = 'SIP/2.0';
    this._rawStatus = status;
    this._rawReason = reason;
    this._rawVersion = 'SIP/2.0';
  }

  /** @internal */
  _startLine(): string {
    const raw = this._rawStart;
    if (raw !== null && this.status === this._rawStatus && this.reason === this._rawReason &&
        this.version === this._rawVersion) return raw;
    return this.version + ' ' + this.status + ' ' + this.reason + '\r\n';
  }

  clone(): this {
    const c = new SipResponse(this.status, this.reason);
    this._copyInto(c);
    c.version = this.version;
    c._rawStatus = this._rawStatus;
    c._rawReason = this._rawReason;
    c._rawVersion = this._rawVersion;
    return c as this;
  }
}

export function isRequest(m: SipRequest | SipResponse): m is SipRequest {
  return m instanceof SipRequest;
}

// Header readers shared by the accessors and by parseMessage's validation. Each returns
// the parsed value or the SipParseError naming the fault.

function single(h: HeaderList, lname: string, label: string): string | SipParseError | null {
  let found: string | null = null;
  const ln = h.lnames;
  for (let i = 0; i < ln.length; i++) {
    if (ln[i] !== lname) continue;
    if (found !== null) return sipError('SIP_ERR_DUPLICATE_HEADER', label);
    found = h.vals[i];
  }
  return found;
}

/** Call-ID = word [ "@" word ] (RFC 3261 §25.1). */
export function checkCallId(v: string): string | SipParseError {
  let at = 0;
  if (v.length === 0) return BAD_CALL_ID;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x40) {
      if (++at > 1 || i === 0 || i === v.length - 1) return BAD_CALL_ID;
    } else if (c > 255 || (CHAR[c] & C_WORD) === 0) return BAD_CALL_ID;
  }
  return v;
}

export function readCallId(h: HeaderList): string | SipParseError {
  const v = single(h, 'call-id', 'Call-ID');
  if (v === null) return sipError('SIP_ERR_MISSING_HEADER', 'Call-ID');
  if (typeof v !== 'string') return v;
  return checkCallId(v);
}

export function readCSeq(h: HeaderList): CSeq | SipParseError {
  const v = single(h, 'cseq', 'CSeq');
  if (v === null) return sipError('SIP_ERR_MISSING_HEADER', 'CSeq');
  if (typeof v !== 'string') return v;
  return CSeq.parse(v);
}

export function parseFromTo(v: string, lname: 'from' | 'to'): NameAddr | SipParseError {
  const na = NameAddr.parse(v);
  return 'status' in na ? (lname === 'from' ? BAD_FROM : BAD_TO) : na;
}

export function readNameAddr(h: HeaderList, lname: 'from' | 'to'): NameAddr | SipParseError {
  const label = lname === 'from' ? 'From' : 'To';
  const v = single(h, lname, label);
  if (v === null) return sipError('SIP_ERR_MISSING_HEADER', label);
  if (typeof v !== 'string') return v;
  return parseFromTo(v, lname);
}

/** Appends the Via values of one header line to `out`. */
export function parseViaLine(line: string, out: Via[]): SipParseError | null {
  if (line.indexOf(',') < 0) {
    const via = Via.parse(line);
    if ('status' in via) return via;
    out.push(via);
    return null;
  }
  const parts: string[] = [];
  splitCommas(line, parts);
  for (const v of parts) {
    const via = Via.parse(v);
    if ('status' in via) return via;
    out.push(via);
  }
  return null;
}

export function readVias(h: HeaderList): Via[] | SipParseError {
  const out: Via[] = [];
  const ln = h.lnames;
  for (let i = 0; i < ln.length; i++) {
    if (ln[i] !== 'via') continue;
    const err = parseViaLine(h.vals[i], out);
    if (err !== null) return err;
  }
  return out;
}

/** Max-Forwards = 1*DIGIT, 0-255 (RFC 3261 §20.22). */
export function parseMaxForwards(v: string): number | SipParseError {
  const n = parseUint(v, 10);
  return n < 0 || n > 255 ? BAD_MAX_FORWARDS : n;
}

export function readMaxForwards(h: HeaderList): number | null | SipParseError {
  const v = single(h, 'max-forwards', 'Max-Forwards');
  if (v === null || typeof v !== 'string') return v;
  return parseMaxForwards(v);
}

/** Content-Length = 1*DIGIT (RFC 3261 §20.14); one value only (RFC 4475 §3.3.9). */
export function parseContentLength(v: string): number | SipParseError {
  const n = parseUint(v, 10);
  return n < 0 ? BAD_CONTENT_LENGTH : n;
}

export function readContentLength(h: HeaderList): number | null | SipParseError {
  const v = single(h, 'content-length', 'Content-Length');
  if (v === null || typeof v !== 'string') return v;
  return parseContentLength(v);
}

export function readContacts(h: HeaderList): Contacts | SipParseError {
  const values = h.values('contact');
  if (values.length === 0) return { star: false, contacts: [] };
  return parseContacts(values);
}

/** Route / Record-Route: name-addr only (RFC 3261 §20.30, §20.34). */
export function readRouteSet(h: HeaderList, lname: 'route' | 'record-route'): NameAddr[] | SipParseError {
  const values = h.values(lname);
  const out: NameAddr[] = [];
  for (const v of values) {
    const na = NameAddr.parse(v);
    if ('status' in na || !na.angle) return lname === 'route' ? BAD_ROUTE : BAD_RECORD_ROUTE;
    out.push(na);
  }
  return out;
}

/** Expires = delta-seconds (RFC 3261 §20.19). */
export function parseExpires(v: string): number | SipParseError {
  if (v.length === 0) return BAD_EXPIRES;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return BAD_EXPIRES;
  }
  if (v.length > 10) return DEFAULT_EXPIRES;
  const n = Number(v);
  return n > MAX_EXPIRES ? DEFAULT_EXPIRES : n;
}

export function readExpires(h: HeaderList): number | null | SipParseError {
  const v = single(h, 'expires', 'Expires');
  if (v === null || typeof v !== 'string') return v;
  return parseExpires(v);
}

const BAD_CALL_ID = frozenError('SIP_ERR_MALFORMED_HEADER', 'Call-ID');
const BAD_FROM = frozenError('SIP_ERR_MALFORMED_HEADER', 'From');
const BAD_TO = frozenError('SIP_ERR_MALFORMED_HEADER', 'To');
const BAD_MAX_FORWARDS = frozenError('SIP_ERR_MALFORMED_HEADER', 'Max-Forwards');
const BAD_CONTENT_LENGTH = frozenError('SIP_ERR_MALFORMED_HEADER', 'Content-Length');
const BAD_ROUTE = frozenError('SIP_ERR_MALFORMED_HEADER', 'Route');
const BAD_RECORD_ROUTE = frozenError('SIP_ERR_MALFORMED_HEADER', 'Record-Route');
const BAD_EXPIRES = frozenError('SIP_ERR_MALFORMED_HEADER', 'Expires');
