import { CHAR, C_TOKEN, parseParams, quote, scanQuoted, skipWs, unquote, formatParams } from './chars.js';
import { frozenError, sipError, type SipParseError } from './errors.js';

const BAD_NAME_ADDR = frozenError('SIP_ERR_MALFORMED_URI');
import { parseUri, type Uri } from './uri.js';

/**
 * name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route,
 * Reply-To, Refer-To... (RFC 3261 §20, §25.1):
 *
 *   ( name-addr / addr-spec ) *( SEMI generic-param )
 *   name-addr = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *(token LWS) / quoted-string
 *
 * RFC 3261 §20.10: without <>, the URI ends at the first ";" (what follows are header
 * parameters) and may not contain "," "?" or ";" — RFC 4475 §3.1.2.13 (regbadct).
 */
export class NameAddr {
  /** Unquoted display name (quoted-pairs resolved); null when absent. */
  displayName: string | null;
  uri: Uri;
  /**
   * The header parameters, created on first use (`params`): a To without a tag, a Contact,
   * Route or Record-Route rarely has any. @internal (null: none yet)
   */
  _params: Map<string, string | null> | null;
  /** True when the value was written with <...> (Route/Record-Route require it). */
  angle: boolean;

  constructor(uri: Uri, displayName: string | null = null, params?: Iterable<readonly [string, string | null]>) {
    this.uri = uri;
    this.displayName = displayName;
    this._params = null;
    if (params !== undefined) for (const [k, v] of params) this.params.set(k.toLowerCase(), v);
    this.angle = true;
  }

  /** Header parameters; keys lowercased, values as received (quoted values keep quotes). */
  get params(): Map<string, string | null> {
    return (this._params ??= new Map());
  }

  set params(m: Map<string, string | null>) {
    this._params = m;
  }

  get tag(): string | null {
    return this._params === null ? null : (this._params.get('tag') ?? null);
  }

  set tag(v: string | null) {
    if (v === null) this._params?.delete('tag');
    else this.params.set('tag', v);
  }

  static parse(s: string): NameAddr | SipParseError {
    const bad = BAD_NAME_ADDR;
    const n = s.length;
    let i = skipWs(s, 0);
    let display: string | null = null;
    let uriText: string;
    let angle = false;
    if (i < n && s.charCodeAt(i) === 0x22) {
      // quoted-string display name; must be followed by <addr-spec>
      const e = scanQuoted(s, i);
      if (e < 0) return bad;
      display = unquote(s.slice(i, e));
      i = skipWs(s, e);
      if (i >= n || s.charCodeAt(i) !== 0x3c) return bad;
    } else {
      // *(token LWS) followed by "<", or the scheme of an addr-spec followed by ":"
      let j = i;
      while (j < n) {
        const c = s.charCodeAt(j);
        if (c === 0x3c || c === 0x3a) break;
        if (c > 255 || (CHAR[c] & C_TOKEN) === 0) {
          if (c !== 0x20 && c !== 0x09) return bad;
        }
        j++;
      }
      if (j >= n) return bad;
      if (s.charCodeAt(j) === 0x3c) {
        const name = s.slice(i, j).trim();
        display = name.length > 0 ? name : null;
        i = j;
      }
    }
    if (s.charCodeAt(i) === 0x3c) {
      // LAQUOT addr-spec RAQUOT: no whitespace inside (RFC 4475 §3.1.2.14, badaspec)
      const close = s.indexOf('>', i + 1);
      if (close < 0) return bad;
      uriText = s.slice(i + 1, close);
      i = close + 1;
      angle = true;
    } else {
      // addr-spec: up to ";" or whitespace; "?" and "," need name-addr form
      let e = i;
      while (e < n) {
        const c = s.charCodeAt(e);
        if (c === 0x3b || c === 0x20 || c === 0x09) break;
        if (c === 0x3f || c === 0x2c) return bad;
        e++;
      }
      uriText = s.slice(i, e);
      i = e;
    }
    const uri = parseUri(uriText);
    if ('status' in uri) return uri;
    const na = new NameAddr(uri, display);
    na.angle = angle;
    const j = skipWs(s, i);
    const end = j < n && s.charCodeAt(j) === 0x3b ? parseParams(s, j, na.params) : j;
    if (end < 0 || skipWs(s, end) !== n) return bad;
    return na;
  }

  clone(): NameAddr {
    const c = new NameAddr(this.uri.clone(), this.displayName, this._params ?? undefined);
    c.angle = this.angle;
    return c;
  }

  /** Always the name-addr form `"Display" <uri>;params` — never ambiguous. */
  toString(): string {
    const dn = this.displayName === null ? '' : quote(this.displayName) + ' ';
    return dn + '<' + this.uri.toString() + '>' + (this._params === null ? '' : formatParams(this._params));
  }
}

/**
 * Contact values (RFC 3261 §20.10): "*" alone, or a list of name-addr/addr-spec with
 * params (expires, q). `values` are the comma-split values (`headers.values('contact')`).
 */
export function parseContacts(
  values: string[],
): { star: true } | { star: false; contacts: NameAddr[] } | SipParseError {
  if (values.length === 1 && values[0] === '*') return { star: true };
  const contacts: NameAddr[] = [];
  for (const v of values) {
    if (v === '*') return sipError('SIP_ERR_MALFORMED_HEADER', 'Contact');
    const na = NameAddr.parse(v);
    if ('status' in na) return sipError('SIP_ERR_MALFORMED_HEADER', 'Contact');
    contacts.push(na);
  }
  return { star: false, contacts };
}
