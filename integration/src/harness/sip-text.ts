/**
 * A deliberately small, independent SIP message reader for assertions. The suite judges our
 * proxy, so it does not borrow the proxy's own parser: it splits a message captured on the
 * wire (SIPp trace, raw UDP) into start line, header lines and body, and offers the few
 * header-value helpers tests need (RFC 3261 §7.3, §20 compact forms, §25 comma lists).
 */

/** RFC 3261 §7.3.3 compact forms (plus RFC 3515 r, RFC 3841 j/d/a, RFC 4028 x). */
const COMPACT: Record<string, string> = {
  i: 'call-id', m: 'contact', e: 'content-encoding', l: 'content-length', c: 'content-type',
  f: 'from', s: 'subject', k: 'supported', t: 'to', v: 'via', r: 'refer-to', o: 'event',
  u: 'allow-events', x: 'session-expires', j: 'reject-contact', d: 'request-disposition', a: 'accept-contact',
};

export function canonicalName(name: string): string {
  const l = name.trim().toLowerCase();
  return COMPACT[l] ?? l;
}

export interface HeaderLine {
  name: string;
  /** Lowercase full name (compact forms expanded). */
  key: string;
  value: string;
}

export class SipText {
  readonly raw: string;
  readonly startLine: string;
  readonly headers: readonly HeaderLine[];
  readonly body: string;
  /** Request method, or null for a response. */
  readonly method: string | null;
  readonly requestUri: string | null;
  /** Response status, or null for a request. */
  readonly status: number | null;
  readonly reason: string | null;

  constructor(raw: string) {
    this.raw = raw;
    const sep = raw.search(/\r?\n\r?\n/);
    const head = sep >= 0 ? raw.slice(0, sep) : raw;
    this.body = sep >= 0 ? raw.slice(sep).replace(/^\r?\n\r?\n/, '') : '';
    // RFC 3261 §7.3.1: a line starting with whitespace continues the previous header.
    const lines = head.split(/\r?\n/);
    this.startLine = lines.shift() ?? '';
    const headers: HeaderLine[] = [];
    for (const line of lines) {
      if (/^[ \t]/.test(line) && headers.length > 0) {
        headers[headers.length - 1]!.value += ' ' + line.trim();
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim();
      headers.push({ name, key: canonicalName(name), value: line.slice(colon + 1).trim() });
    }
    this.headers = headers;
    const resp = /^SIP\/2\.0\s+(\d{3})\s*(.*)$/.exec(this.startLine);
    if (resp) {
      this.status = Number(resp[1]);
      this.reason = resp[2] ?? '';
      this.method = null;
      this.requestUri = null;
    } else {
      const req = /^([A-Za-z!%*_+`'~.-]+)\s+(\S+)\s+SIP\/2\.0$/.exec(this.startLine);
      this.method = req ? req[1]! : null;
      this.requestUri = req ? req[2]! : null;
      this.status = null;
      this.reason = null;
    }
  }

  get isRequest(): boolean {
    return this.method !== null;
  }

  /** First header line's value, any case or compact form. */
  header(name: string): string | undefined {
    const key = canonicalName(name);
    return this.headers.find((h) => h.key === key)?.value;
  }

  /** Every line of that header, in order. */
  headerLines(name: string): string[] {
    const key = canonicalName(name);
    return this.headers.filter((h) => h.key === key).map((h) => h.value);
  }

  /** Every comma-separated value over all lines (RFC 3261 §7.3.1), quotes and <> respected. */
  values(name: string): string[] {
    return this.headerLines(name).flatMap(splitCommaList);
  }

  /** The CSeq method (for matching responses to requests). */
  get cseqMethod(): string | undefined {
    return this.header('cseq')?.split(/\s+/)[1];
  }

  get cseqNumber(): number | undefined {
    const n = this.header('cseq')?.split(/\s+/)[0];
    return n === undefined ? undefined : Number(n);
  }

  get callId(): string | undefined {
    return this.header('call-id');
  }

  /** Top Via's branch parameter. */
  get topBranch(): string | undefined {
    const via = this.values('via')[0];
    return via === undefined ? undefined : param(via, 'branch') ?? undefined;
  }

  /** "INVITE", "200 INVITE", ... : a short label for message-flow descriptions. */
  get label(): string {
    return this.isRequest ? `${this.method}` : `${this.status} (${this.cseqMethod ?? '?'})`;
  }
}

/** Splits `a, "b,c" <sip:x>;p=1, <sip:y,z>` at top-level commas. */
export function splitCommaList(value: string): string[] {
  const out: string[] = [];
  let depthAngle = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '<') depthAngle++;
    else if (ch === '>') depthAngle = Math.max(0, depthAngle - 1);
    else if (ch === ',' && depthAngle === 0) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = value.slice(start).trim();
  if (last !== '') out.push(last);
  return out;
}

/** The URI inside `<...>` of a name-addr, or the addr-spec up to its first ';'. */
export function uriOf(nameAddr: string): string {
  const m = /<([^>]*)>/.exec(nameAddr);
  if (m) return m[1]!;
  return nameAddr.split(';')[0]!.trim();
}

/**
 * A header parameter (after the URI for name-addr values), lowercase name match.
 * Returns null when the parameter is present without a value, undefined when absent.
 */
export function param(value: string, name: string): string | null | undefined {
  const close = value.lastIndexOf('>');
  const tail = close >= 0 ? value.slice(close + 1) : value.slice(value.indexOf(';') >= 0 ? value.indexOf(';') : value.length);
  for (const part of tail.split(';').slice(1)) {
    const eq = part.indexOf('=');
    const k = (eq >= 0 ? part.slice(0, eq) : part).trim().toLowerCase();
    if (k === name.toLowerCase()) return eq >= 0 ? part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1') : null;
  }
  return undefined;
}

/** A URI parameter (`;lr`, `;transport=tcp`) of a SIP URI string. */
export function uriParam(uri: string, name: string): string | null | undefined {
  const noHeaders = uri.split('?')[0]!;
  for (const part of noHeaders.split(';').slice(1)) {
    const eq = part.indexOf('=');
    const k = (eq >= 0 ? part.slice(0, eq) : part).trim().toLowerCase();
    if (k === name.toLowerCase()) return eq >= 0 ? part.slice(eq + 1) : null;
  }
  return undefined;
}

/** host:port of a SIP URI (port defaulted to 5060), lowercase host. */
export function uriHostPort(uri: string): { host: string; port: number } {
  const m = /^sips?:(?:[^@]*@)?(\[[^\]]+\]|[^:;?>]+)(?::(\d+))?/i.exec(uri.trim());
  if (!m) return { host: '', port: 0 };
  return { host: m[1]!.toLowerCase(), port: m[2] ? Number(m[2]) : 5060 };
}
