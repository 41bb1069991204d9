// Rewrites an SDP body so that every active media stream points at the relay.
// RFC 3264 §5/§6: the port in m= (and the c= address) is where the author wants to
// receive; by putting the relay's address and port there, the other party sends its
// media to us. RFC 3605: a=rtcp names the RTCP port explicitly, so RTCP follows too.
import type { AddrType, SessionDescription } from './sdp.js';

/** Where the relay receives one media stream for the party that will read this SDP. */
export interface MediaAnchor {
  readonly address: string;
  readonly addrType: AddrType;
  readonly rtpPort: number;
  readonly rtcpPort: number;
}

export interface IceCredentials {
  readonly ufrag: string;
  readonly pwd: string;
}

export interface RewriteOptions {
  /** One entry per m= section; null leaves a disabled stream (port 0) untouched. */
  readonly anchors: readonly (MediaAnchor | null)[];
  readonly replaceOrigin: boolean;
  readonly replaceSessionConnection: boolean;
  /** 'remove' strips ICE; 'force' strips the peer's and makes the relay the only (ICE-lite) candidate. */
  readonly ice: 'remove' | 'force' | null;
  readonly iceCredentials: IceCredentials | null;
  readonly transportProtocol: string | null;
}

// RFC 8839 §5 (ICE SDP attributes). These describe the author's own candidates, which
// are meaningless once the relay is in the path and break when left behind.
const ICE_ATTRS = [
  'candidate:',
  'ice-ufrag:',
  'ice-pwd:',
  'ice-options:',
  'ice-lite',
  'ice-mismatch',
  'remote-candidates:',
  'end-of-candidates',
  'ice-pacing:',
];

function isIceLine(line: string): boolean {
  if (!line.startsWith('a=')) return false;
  for (const p of ICE_ATTRS) if (line.startsWith(p, 2)) return true;
  return false;
}

export function rewriteSdp(sdp: SessionDescription, opts: RewriteOptions): string {
  if (opts.anchors.length !== sdp.media.length) {
    throw new RangeError('rewriteSdp: one anchor entry per media section is required');
  }
  const first = opts.anchors.find((a): a is MediaAnchor => a !== null) ?? null;
  const stripIce = opts.ice !== null;
  // Session-level c= is what every media section without its own c= uses (RFC 4566 §5.7),
  // so it must move to the relay whenever an anchored stream inherits it.
  let inheritsSessionConn = false;
  for (let i = 0; i < sdp.media.length; i++) {
    if (opts.anchors[i] !== null && sdp.media[i].connection === null) inheritsSessionConn = true;
  }
  const replaceSessionConn = first !== null && (opts.replaceSessionConnection || inheritsSessionConn);

  const out: string[] = [];
  for (const line of sdp.sessionLines) {
    if (line.startsWith('o=') && opts.replaceOrigin && first !== null) {
      const o = sdp.origin;
      out.push(`o=${o.username} ${o.sessId} ${o.sessVersion} IN ${first.addrType} ${first.address}`);
    } else if (line.startsWith('c=') && replaceSessionConn && first !== null) {
      out.push(`c=IN ${first.addrType} ${first.address}`);
    } else if (stripIce && isIceLine(line)) {
      continue;
    } else {
      out.push(line);
    }
  }
  if (opts.ice === 'force' && first !== null) {
    // RFC 8445 §2.5: a lite agent only answers checks; it says so at session level.
    out.push('a=ice-lite');
  }

  for (let i = 0; i < sdp.media.length; i++) {
    const m = sdp.media[i];
    const a = opts.anchors[i];
    const proto = opts.transportProtocol ?? m.proto;
    if (a === null) {
      out.push(`m=${m.type} ${m.port}${m.portCount > 1 ? `/${m.portCount}` : ''} ${m.proto}${m.formats ? ` ${m.formats}` : ''}`);
      for (const l of m.lines) out.push(l);
      continue;
    }
    out.push(`m=${m.type} ${a.rtpPort} ${proto}${m.formats ? ` ${m.formats}` : ''}`);
    let wroteConn = false;
    for (const l of m.lines) {
      if (l.startsWith('c=')) {
        if (!wroteConn) out.push(`c=IN ${a.addrType} ${a.address}`);
        wroteConn = true;
      } else if (l.startsWith('a=rtcp:')) {
        continue; // re-added below with the relay's RTCP port
      } else if (stripIce && isIceLine(l)) {
        continue;
      } else {
        out.push(l);
      }
    }
    if (!wroteConn && m.connection === null && !replaceSessionConn) {
      out.push(`c=IN ${a.addrType} ${a.address}`);
    }
    if (opts.ice === 'force' && opts.iceCredentials !== null) {
      const c = opts.iceCredentials;
      out.push(`a=ice-ufrag:${c.ufrag}`, `a=ice-pwd:${c.pwd}`);
      // RFC 8445 §5.1.2.1: priority = 2^24*type-pref + 2^8*local-pref + (256 - component);
      // a host candidate (type preference 126) with the single local preference 65535.
      const prio = (c2: number): number => 126 * 2 ** 24 + 65535 * 2 ** 8 + (256 - c2);
      out.push(`a=candidate:1 1 UDP ${prio(1)} ${a.address} ${a.rtpPort} typ host`);
      if (!m.rtcpMux) out.push(`a=candidate:1 2 UDP ${prio(2)} ${a.address} ${a.rtcpPort} typ host`);
    }
    // RFC 3605 §2.1: always state the RTCP port, it is not necessarily RTP + 1 elsewhere.
    out.push(`a=rtcp:${a.rtcpPort}`);
  }
  return out.join('\r\n') + '\r\n';
}
