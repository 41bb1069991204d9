// Reads the ng dictionary keys and flags that Kamailio's and OpenSIPS's rtpengine modules
// send (rtpengine_offer/answer/manage/delete) into typed requests. rtpengine treats
// "call-id", "call id" and "call_id" alike; so do we, by normalising keys and flag names.
import { isIP } from 'node:net';
import { isDict, type BencodeDict, type BencodeValue } from '@voip/ng';
import { RtpError } from '../errors.js';
import type { MediaFlags, SignalRequest } from '../media/rtp-session-table.js';

export function normalizeKey(k: string): string {
  return k.toLowerCase().replace(/[ _]/g, '-');
}

/** A copy of the request with normalised keys (first occurrence wins). */
export function normalizeDict(d: BencodeDict): BencodeDict {
  const out = Object.create(null) as BencodeDict;
  for (const k of Object.keys(d)) {
    const n = normalizeKey(k);
    if (!(n in out)) out[n] = d[k];
  }
  return out;
}

export function str(d: BencodeDict, key: string): string | null {
  const v = d[key];
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return String(v);
  return null;
}

export function requireStr(d: BencodeDict, key: string): string {
  const v = str(d, key);
  if (v === null || v === '') throw new RtpError('RTP_ERR_MISSING_PARAM', key);
  return v;
}

function list(v: BencodeValue | undefined): string[] {
  if (v === undefined) return [];
  if (typeof v === 'string') return v.split(/[ ,]/).filter((x) => x.length > 0);
  if (typeof v === 'number') return [String(v)];
  if (Array.isArray(v)) return v.filter((x): x is string | number => typeof x === 'string' || typeof x === 'number').map(String);
  return [];
}

export interface ParsedFlags {
  readonly media: MediaFlags;
  /** Flags we accept but do not act on (logged, not an error: rtpengine ignores them too). */
  readonly ignored: readonly string[];
}

// Flags that only matter for features this relay does not have (recording, transcoding,
// kernel forwarding) or that are the behaviour we have anyway.
const ACCEPTED_NOOP = new Set([
  'port-latching',
  'no-port-latching',
  'record-call',
  'no-rtcp-attribute',
  'loop-protect',
  'strict-source',
  'media-handover',
  'reset',
  'generate-mid',
  'all',
  'fatal',
  'early-media',
  'full-rtcp-attribute',
  'unidirectional',
]);

/** Parses the media-affecting parameters of an offer/answer request. */
export function parseMediaFlags(d: BencodeDict): ParsedFlags {
  const flags = new Set(list(d['flags']).map(normalizeKey));
  const replace = new Set(list(d['replace']).map(normalizeKey));
  const ignored: string[] = [];
  let ice: MediaFlags['ice'] = null;
  let transportProtocol = str(d, 'transport-protocol');
  let direction: [string, string] | null = null;
  let addressFamily: 4 | 6 | null = null;

  // Older module versions put everything in "flags": accept those spellings too.
  for (const f of flags) {
    if (f === 'replace-origin') replace.add('origin');
    else if (f === 'replace-session-connection') replace.add('session-connection');
    else if (f.startsWith('ice=')) d['ice'] ??= f.slice(4);
    else if (f.startsWith('rtp/')) transportProtocol ??= f.toUpperCase();
  }
  const iceVal = str(d, 'ice');
  if (iceVal !== null) {
    const v = iceVal.toLowerCase();
    if (v === 'remove') ice = 'remove';
    else if (v === 'force' || v === 'force-relay') ice = 'force';
    else if (v !== 'default') ignored.push(`ICE=${iceVal}`);
  }
  if (transportProtocol !== null) transportProtocol = transportProtocol.toUpperCase();

  const dir = list(d['direction']);
  if (dir.length === 2) direction = [dir[0], dir[1]];
  else if (dir.length !== 0) throw new RtpError('RTP_ERR_NO_INTERFACE', `direction needs two interface names, got ${dir.length}`);

  const af = str(d, 'address-family');
  if (af !== null) {
    const v = af.toUpperCase();
    if (v === 'IP4') addressFamily = 4;
    else if (v === 'IP6') addressFamily = 6;
    else throw new RtpError('RTP_ERR_NO_INTERFACE', `address family ${af}`);
  }

  // received-from: ["IP4", "192.0.2.1"] — the source address of the SIP message.
  let receivedFrom: MediaFlags['receivedFrom'] = null;
  const rf = list(d['received-from']);
  if (rf.length === 2 && isIP(rf[1]) !== 0) {
    receivedFrom = { family: rf[0].toUpperCase() === 'IP6' ? 6 : 4, address: rf[1] };
  }

  for (const f of flags) {
    if (
      f === 'trust-address' ||
      f === 'sip-source-address' ||
      f === 'symmetric' ||
      f === 'asymmetric' ||
      f === 'replace-origin' ||
      f === 'replace-session-connection' ||
      f.startsWith('ice=') ||
      f.startsWith('rtp/')
    ) {
      continue;
    }
    if (!ACCEPTED_NOOP.has(f)) ignored.push(f);
  }
  return {
    media: {
      replaceOrigin: replace.has('origin'),
      replaceSessionConnection: replace.has('session-connection'),
      trustAddress: flags.has('trust-address'),
      sipSourceAddress: flags.has('sip-source-address'),
      symmetric: !flags.has('asymmetric'),
      ice,
      transportProtocol,
      receivedFrom,
      direction,
      addressFamily,
    },
    ignored,
  };
}

export function parseSignalRequest(d: BencodeDict): { req: SignalRequest; ignored: readonly string[] } {
  const sdp = str(d, 'sdp');
  if (sdp === null || sdp.length === 0) throw new RtpError('RTP_ERR_NO_SDP');
  const callId = requireStr(d, 'call-id');
  const fromTag = requireStr(d, 'from-tag');
  const f = parseMediaFlags(d);
  return {
    req: {
      callId,
      fromTag,
      toTag: str(d, 'to-tag'),
      viaBranch: str(d, 'via-branch'),
      sdp,
      flags: f.media,
    },
    ignored: f.ignored,
  };
}

export function isBencodeDict(v: BencodeValue): v is BencodeDict {
  return isDict(v);
}
