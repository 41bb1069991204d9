/**
 * SDP (RFC 4566) as far as an answering media endpoint needs it, and the answerer's side of
 * RFC 3264 offer/answer: pick one audio stream we can serve with G.711 (PCMU/PCMA) and
 * RFC 4733 telephone-event, reject every other stream with port 0, reflect the direction.
 * The parser scans lines once, caps sizes first and never throws: a malformed body is a
 * discriminated failure the caller answers with 400.
 */

export const MAX_SDP_SIZE = 16 * 1024;

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export interface SdpCodec {
  payloadType: number;
  /** Encoding name, upper-cased (`PCMU`, `TELEPHONE-EVENT`). */
  name: string;
  clockRate: number;
  fmtp: string | null;
}

export interface SdpMediaOffer {
  kind: string;
  port: number;
  proto: string;
  /** Format tokens as offered (payload types for RTP/AVP). */
  formats: string[];
  codecs: SdpCodec[];
  /** Connection address for this stream (media-level c= or the session's). */
  address: string | null;
  direction: Direction;
  ptime: number | null;
}

export interface SessionDescription {
  origin: { username: string; sessionId: string; version: string; addrType: string; address: string };
  address: string | null;
  media: SdpMediaOffer[];
}

export type SdpParseResult = { ok: true; sdp: SessionDescription } | { ok: false; reason: string };

// RFC 3551 Table 4: the static payload types we can name without an rtpmap.
const STATIC_PT: Readonly<Record<number, { name: string; clockRate: number }>> = {
  0: { name: 'PCMU', clockRate: 8000 },
  3: { name: 'GSM', clockRate: 8000 },
  4: { name: 'G723', clockRate: 8000 },
  8: { name: 'PCMA', clockRate: 8000 },
  9: { name: 'G722', clockRate: 8000 },
  18: { name: 'G729', clockRate: 8000 },
};

const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

export function parseSdp(body: Buffer | string): SdpParseResult {
  if (body.length === 0) return { ok: false, reason: 'empty body' };
  if (body.length > MAX_SDP_SIZE) return { ok: false, reason: 'SDP too large' };
  const text = typeof body === 'string' ? body : body.toString('latin1');
  const lines = text.split(/\r?\n/);
  let origin: SessionDescription['origin'] | null = null;
  let sessionAddress: string | null = null;
  let sessionDirection: Direction = 'sendrecv';
  const media: SdpMediaOffer[] = [];
  let cur: (SdpMediaOffer & { dirSet: boolean; rtpmaps: Map<number, SdpCodec> }) | null = null;
  let sawVersion = false;
  for (const raw of lines) {
    if (raw.length === 0) continue;
    if (raw.length < 2 || raw[1] !== '=') return { ok: false, reason: `malformed line "${raw.slice(0, 40)}"` };
    const type = raw[0];
    const value = raw.slice(2);
    switch (type) {
      case 'v':
        if (value.trim() !== '0') return { ok: false, reason: 'v= must be 0' };
        sawVersion = true;
        break;
      case 'o': {
        const f = value.trim().split(/\s+/);
        if (f.length !== 6) return { ok: false, reason: 'malformed o= line' };
        origin = { username: f[0]!, sessionId: f[1]!, version: f[2]!, addrType: f[4]!, address: f[5]! };
        break;
      }
      case 'c': {
        // RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address>[/ttl][/n]
        const f = value.trim().split(/\s+/);
        if (f.length !== 3 || f[0] !== 'IN' || (f[1] !== 'IP4' && f[1] !== 'IP6')) return { ok: false, reason: 'malformed c= line' };
        const addr = f[2]!.split('/')[0]!;
        if (cur === null) sessionAddress = addr;
        else cur.address = addr;
        break;
      }
      case 'm': {
        // RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ...
        const f = value.trim().split(/\s+/);
        if (f.length < 4) return { ok: false, reason: 'malformed m= line' };
        const port = Number(f[1]!.split('/')[0]);
        if (!Number.isInteger(port) || port < 0 || port > 65535) return { ok: false, reason: 'bad media port' };
        if (cur !== null) media.push(finishMedia(cur, sessionDirection));
        cur = { kind: f[0]!, port, proto: f[2]!, formats: f.slice(3), codecs: [], address: null, direction: 'sendrecv', ptime: null, dirSet: false, rtpmaps: new Map() };
        break;
      }
      case 'a': {
        const colon = value.indexOf(':');
        const name = colon < 0 ? value.trim() : value.slice(0, colon);
        const arg = colon < 0 ? '' : value.slice(colon + 1).trim();
        if (DIRECTIONS.has(name)) {
          if (cur === null) sessionDirection = name as Direction;
          else {
            cur.direction = name as Direction;
            cur.dirSet = true;
          }
        } else if (cur !== null && name === 'rtpmap') {
          // RFC 4566 §6: a=rtpmap:<payload type> <encoding name>/<clock rate>[/<params>]
          const m = /^(\d{1,3}) ([A-Za-z0-9_.-]{1,32})\/(\d{1,6})(?:\/\d{1,2})?$/.exec(arg);
          if (m === null) return { ok: false, reason: 'malformed rtpmap' };
          const pt = Number(m[1]);
          cur.rtpmaps.set(pt, { payloadType: pt, name: m[2]!.toUpperCase(), clockRate: Number(m[3]), fmtp: cur.rtpmaps.get(pt)?.fmtp ?? null });
        } else if (cur !== null && name === 'fmtp') {
          const sp = arg.indexOf(' ');
          const pt = Number(sp < 0 ? arg : arg.slice(0, sp));
          const c = cur.rtpmaps.get(pt);
          if (c !== undefined) c.fmtp = sp < 0 ? '' : arg.slice(sp + 1);
        } else if (cur !== null && name === 'ptime') {
          const n = Number(arg);
          if (Number.isInteger(n) && n > 0 && n <= 1000) cur.ptime = n;
        }
        break;
      }
      default:
        break;
    }
  }
  if (cur !== null) media.push(finishMedia(cur, sessionDirection));
  if (!sawVersion) return { ok: false, reason: 'missing v= line' };
  if (origin === null) return { ok: false, reason: 'missing o= line' };
  return { ok: true, sdp: { origin, address: sessionAddress, media } };
}

function finishMedia(m: SdpMediaOffer & { dirSet: boolean; rtpmaps: Map<number, SdpCodec> }, sessionDirection: Direction): SdpMediaOffer {
  const codecs: SdpCodec[] = [];
  if (m.proto === 'RTP/AVP' || m.proto === 'RTP/AVPF') {
    for (const f of m.formats) {
      const pt = Number(f);
      if (!Number.isInteger(pt) || pt < 0 || pt > 127) continue;
      const mapped = m.rtpmaps.get(pt);
      if (mapped !== undefined) codecs.push(mapped);
      else if (STATIC_PT[pt] !== undefined) codecs.push({ payloadType: pt, name: STATIC_PT[pt].name, clockRate: STATIC_PT[pt].clockRate, fmtp: null });
    }
  }
  return {
    kind: m.kind,
    port: m.port,
    proto: m.proto,
    formats: m.formats,
    codecs,
    address: m.address,
    direction: m.dirSet ? m.direction : sessionDirection,
    ptime: m.ptime,
  };
}

export type AudioCodecName = 'PCMU' | 'PCMA';

/** What the answerer agreed to for the one audio stream it serves. */
export interface NegotiatedMedia {
  /** Index of the accepted m= line in the offer. */
  index: number;
  codec: { name: AudioCodecName; payloadType: number };
  /** RFC 4733 telephone-event payload type, when the offer had one at 8000 Hz. */
  telephoneEvent: number | null;
  /** Where to send RTP (null address or port 0: on hold / not sending). */
  remoteAddress: string;
  remotePort: number;
  /** Our direction in the answer (RFC 3264 §6.1). */
  direction: Direction;
}

export type NegotiationResult = { ok: true; media: NegotiatedMedia } | { ok: false; reason: string };

/**
 * RFC 3264 §6: accept the first audio RTP/AVP stream offering PCMU or PCMA (in the
 * offerer's preference order); every other stream is declined in the answer with port 0.
 */
export function negotiate(offer: SessionDescription): NegotiationResult {
  for (let i = 0; i < offer.media.length; i++) {
    const m = offer.media[i]!;
    if (m.kind !== 'audio' || m.port === 0 || (m.proto !== 'RTP/AVP' && m.proto !== 'RTP/AVPF')) continue;
    const audio = m.codecs.find((c) => (c.name === 'PCMU' || c.name === 'PCMA') && c.clockRate === 8000);
    if (audio === undefined) continue;
    const te = m.codecs.find((c) => c.name === 'TELEPHONE-EVENT' && c.clockRate === 8000);
    const address = m.address ?? offer.address;
    if (address === null) return { ok: false, reason: 'no connection address for the audio stream' };
    // RFC 3264 §6.1: the answer's direction mirrors the offer's.
    const direction: Direction =
      m.direction === 'sendonly' ? 'recvonly' : m.direction === 'recvonly' ? 'sendonly' : m.direction === 'inactive' ? 'inactive' : 'sendrecv';
    return {
      ok: true,
      media: {
        index: i,
        codec: { name: audio.name as AudioCodecName, payloadType: audio.payloadType },
        telephoneEvent: te?.payloadType ?? null,
        remoteAddress: address,
        remotePort: m.port,
        direction,
      },
    };
  }
  const offered = offer.media.map((m) => `${m.kind} ${m.proto} ${m.codecs.map((c) => c.name).join('/') || m.formats.join(' ')}`).join('; ');
  return { ok: false, reason: `no audio stream with PCMU or PCMA (offered: ${offered || 'nothing'})` };
}

export interface AnswerParams {
  sessionId: string;
  version: number;
  /** Our media address (advertised). */
  address: string;
  port: number;
}

/**
 * The answer (RFC 3264 §6): one m= line per offered stream, in order; the accepted audio
 * stream carries exactly the chosen codec and telephone-event, everything else port 0.
 */
export function buildAnswer(offer: SessionDescription, chosen: NegotiatedMedia, p: AnswerParams): Buffer {
  const ip = p.address.includes(':') ? 'IP6' : 'IP4';
  const out = [
    'v=0',
    `o=voicemail ${p.sessionId} ${p.version} IN ${ip} ${p.address}`,
    's=voicemail',
    `c=IN ${ip} ${p.address}`,
    't=0 0',
  ];
  for (let i = 0; i < offer.media.length; i++) {
    const m = offer.media[i]!;
    if (i !== chosen.index) {
      // RFC 3264 §6: a declined stream keeps its formats with port 0.
      out.push(`m=${m.kind} 0 ${m.proto} ${m.formats.join(' ')}`);
      continue;
    }
    const pts = [chosen.codec.payloadType];
    if (chosen.telephoneEvent !== null) pts.push(chosen.telephoneEvent);
    out.push(`m=audio ${p.port} ${m.proto} ${pts.join(' ')}`);
    out.push(`a=rtpmap:${chosen.codec.payloadType} ${chosen.codec.name}/8000`);
    if (chosen.telephoneEvent !== null) {
      out.push(`a=rtpmap:${chosen.telephoneEvent} telephone-event/8000`);
      out.push(`a=fmtp:${chosen.telephoneEvent} 0-15`);
    }
    out.push('a=ptime:20');
    out.push(`a=${chosen.direction}`);
  }
  return Buffer.from(out.join('\r\n') + '\r\n', 'latin1');
}
