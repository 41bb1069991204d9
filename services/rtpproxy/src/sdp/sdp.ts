// SDP (RFC 4566) parsing for media anchoring: only what a relay needs to read is
// interpreted (o=, c=, m=, a=rtcp, a=rtcp-mux, ICE attributes); every other line is kept
// verbatim so the rewritten body differs from the original only where we anchor media.

export type AddrType = 'IP4' | 'IP6';

export interface SdpConnection {
  readonly addrType: AddrType;
  readonly address: string;
}

export interface SdpOrigin {
  readonly username: string;
  readonly sessId: string;
  readonly sessVersion: string;
  readonly addrType: AddrType;
  readonly address: string;
}

export interface SdpRtcp {
  readonly port: number;
  readonly connection: SdpConnection | null;
}

export interface SdpMedia {
  readonly type: string;
  readonly port: number;
  /** "m=audio 49170/2 ..." (RFC 4566 §5.14): number of ports, 1 when absent. */
  readonly portCount: number;
  readonly proto: string;
  readonly formats: string;
  readonly connection: SdpConnection | null;
  readonly rtcp: SdpRtcp | null;
  readonly rtcpMux: boolean;
  /** Attribute and other lines after the m= line, in order, without the m= itself. */
  readonly lines: readonly string[];
}

export interface SessionDescription {
  readonly origin: SdpOrigin;
  readonly connection: SdpConnection | null;
  /** Session-level lines (v=, o=, s=, c=, t=, a=, ...) in order. */
  readonly sessionLines: readonly string[];
  readonly media: readonly SdpMedia[];
}

export type SdpParseResult = { ok: true; sdp: SessionDescription } | { ok: false; reason: string };

export const SDP_MAX_BYTES = 65_535;
const MAX_LINES = 2_000;
const MAX_MEDIA = 64;

/** Media transports whose payload we forward unchanged (RFC 3551, 4585, 3711, 5124). */
export const RTP_PROTOS: ReadonlySet<string> = new Set(['RTP/AVP', 'RTP/AVPF', 'RTP/SAVP', 'RTP/SAVPF']);

export function parseSdp(text: string): SdpParseResult {
  if (text.length > SDP_MAX_BYTES) return { ok: false, reason: 'SDP too large' };
  // RFC 4566 §5: lines end in CRLF, but parsers should also accept a bare LF.
  const raw = text.split('\n');
  if (raw.length > MAX_LINES) return { ok: false, reason: 'too many SDP lines' };
  const sessionLines: string[] = [];
  const media: SdpMedia[] = [];
  let origin: SdpOrigin | null = null;
  let sessionConn: SdpConnection | null = null;
  let cur: MediaBuilder | null = null;
  let sawVersion = false;

  for (let i = 0; i < raw.length; i++) {
    let line = raw[i];
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.length === 0) continue; // trailing empty line after the final CRLF
    if (line.length < 2 || line.charCodeAt(1) !== 0x3d /* = */) {
      return { ok: false, reason: `malformed SDP line ${i + 1}` };
    }
    const type = line[0];
    const value = line.slice(2);
    if (!sawVersion) {
      // RFC 4566 §5: the description starts with v=0.
      if (type !== 'v' || value !== '0') return { ok: false, reason: 'SDP must start with v=0' };
      sawVersion = true;
    }
    if (type === 'm') {
      if (cur !== null) media.push(cur.build());
      if (media.length >= MAX_MEDIA) return { ok: false, reason: 'too many media sections' };
      const m = parseMediaLine(value);
      if (m === null) return { ok: false, reason: `malformed m= line ${i + 1}` };
      cur = m;
      continue;
    }
    if (cur !== null) {
      if (type === 'c') {
        const c = parseConnection(value);
        if (c === null) return { ok: false, reason: `malformed c= line ${i + 1}` };
        cur.connection = c;
      } else if (type === 'a') {
        if (value.startsWith('rtcp:')) {
          const r = parseRtcp(value.slice(5));
          if (r === null) return { ok: false, reason: `malformed a=rtcp line ${i + 1}` };
          cur.rtcp = r;
        } else if (value === 'rtcp-mux') {
          cur.rtcpMux = true;
        }
      }
      cur.lines.push(line);
      continue;
    }
    if (type === 'o') {
      origin = parseOrigin(value);
      if (origin === null) return { ok: false, reason: `malformed o= line ${i + 1}` };
    } else if (type === 'c') {
      sessionConn = parseConnection(value);
      if (sessionConn === null) return { ok: false, reason: `malformed c= line ${i + 1}` };
    }
    sessionLines.push(line);
  }
  if (!sawVersion) return { ok: false, reason: 'empty SDP' };
  if (cur !== null) media.push(cur.build());
  if (origin === null) return { ok: false, reason: 'SDP has no o= line' };
  return { ok: true, sdp: { origin, connection: sessionConn, sessionLines, media } };
}

class MediaBuilder {
  type: string;
  port: number;
  portCount: number;
  proto: string;
  formats: string;
  connection: SdpConnection | null;
  rtcp: SdpRtcp | null;
  rtcpMux: boolean;
  lines: string[];

  constructor(type: string, port: number, portCount: number, proto: string, formats: string) {
    this.type = type;
    this.port = port;
    this.portCount = portCount;
    this.proto = proto;
    this.formats = formats;
    this.connection = null;
    this.rtcp = null;
    this.rtcpMux = false;
    this.lines = [];
  }

  build(): SdpMedia {
    return {
      type: this.type,
      port: this.port,
      portCount: this.portCount,
      proto: this.proto,
      formats: this.formats,
      connection: this.connection,
      rtcp: this.rtcp,
      rtcpMux: this.rtcpMux,
      lines: this.lines,
    };
  }
}

function parsePort(s: string): number | null {
  if (s.length === 0 || s.length > 5) return null;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    n = n * 10 + c;
  }
  return n <= 65535 ? n : null;
}

// RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
function parseMediaLine(v: string): MediaBuilder | null {
  const parts = v.split(' ');
  if (parts.length < 3) return null;
  const [type, portSpec, proto] = parts;
  const slash = portSpec.indexOf('/');
  const port = parsePort(slash < 0 ? portSpec : portSpec.slice(0, slash));
  const count = slash < 0 ? 1 : parsePort(portSpec.slice(slash + 1));
  if (port === null || count === null || count < 1 || type.length === 0 || proto.length === 0) return null;
  return new MediaBuilder(type, port, count, proto, parts.slice(3).join(' '));
}

function parseAddrType(s: string): AddrType | null {
  return s === 'IP4' || s === 'IP6' ? s : null;
}

// RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address>; a multicast TTL/count
// suffix ("/127") is kept out of the address.
function parseConnection(v: string): SdpConnection | null {
  const parts = v.split(' ');
  if (parts.length !== 3 || parts[0] !== 'IN') return null;
  const addrType = parseAddrType(parts[1]);
  if (addrType === null || parts[2].length === 0) return null;
  const slash = parts[2].indexOf('/');
  return { addrType, address: slash < 0 ? parts[2] : parts[2].slice(0, slash) };
}

// RFC 4566 §5.2: o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>
function parseOrigin(v: string): SdpOrigin | null {
  const parts = v.split(' ');
  if (parts.length !== 6 || parts[3] !== 'IN') return null;
  const addrType = parseAddrType(parts[4]);
  if (addrType === null) return null;
  return { username: parts[0], sessId: parts[1], sessVersion: parts[2], addrType, address: parts[5] };
}

// RFC 3605 §2.1: a=rtcp:<port> [<nettype> <addrtype> <connection-address>]
function parseRtcp(v: string): SdpRtcp | null {
  const sp = v.indexOf(' ');
  const port = parsePort(sp < 0 ? v : v.slice(0, sp));
  if (port === null) return null;
  if (sp < 0) return { port, connection: null };
  const connection = parseConnection(v.slice(sp + 1));
  if (connection === null) return null;
  return { port, connection };
}

/** The address a media section's RTP goes to: media-level c= wins over session-level (§5.7). */
export function mediaConnection(sdp: SessionDescription, m: SdpMedia): SdpConnection | null {
  return m.connection ?? sdp.connection;
}
