/**
 * Values of the provider route's tables (permissions, lcr, speeddial, dialplan) as Kamailio 5.6
 * stores them, and the checks both writers apply before a row reaches a table: the provisioning
 * file and sipctl. Column limits are the VARCHAR sizes of sql/schema-mysql.sql.
 */
import { isIP } from 'node:net';
import { compileSafeRegex } from './safe-regex.js';

/** lcr_gw.transport codes (lcr module: 1 = UDP, 2 = TCP, 3 = TLS, 4 = SCTP; NULL = UDP). */
export const LCR_TRANSPORTS = { udp: 1, tcp: 2, tls: 3, sctp: 4 } as const;
export type LcrTransportName = keyof typeof LCR_TRANSPORTS;

/** The transport name of an lcr_gw.transport code; NULL and unknown codes are UDP, as in the lcr module. */
export function lcrTransportName(code: number | null): LcrTransportName {
  for (const [name, c] of Object.entries(LCR_TRANSPORTS)) if (c === code) return name as LcrTransportName;
  return 'udp';
}

/** trusted.proto values allow_trusted() knows (lower case; "any" matches every transport). */
export const TRUSTED_PROTOS = ['any', 'udp', 'tcp', 'tls', 'sctp', 'ws', 'wss', 'none'] as const;

/**
 * lcr_gw.defunct holds the UNIX time until which the gateway is out of service; the largest
 * INT UNSIGNED means "until further notice" (what an operator's `defunct: true` stands for).
 */
export const LCR_DEFUNCT_FOREVER = 4_294_967_295;

/** lcr_rule_target.priority is TINYINT UNSIGNED; lower is tried first. */
export const LCR_MAX_PRIORITY = 255;
/** Weights are drawn among targets of equal priority; the lcr module accepts 1..254. */
export const LCR_MAX_WEIGHT = 254;

/** Gateway names are referred to as NAME[:PRIORITY[:WEIGHT]], so no ':' (lcr_gw.gw_name VARCHAR(128)). */
export const GATEWAY_NAME = /^[A-Za-z0-9_.-]{1,128}$/;
/** Number prefixes of lcr_rule.prefix / lcr_gw.prefix (VARCHAR(16)): dialable characters only. */
export const NUMBER_PREFIX = /^[0-9+*#]{1,16}$/;
/** Speed-dial short numbers: two digits, as the book's speeddial examples. */
export const SHORT_NUMBER = /^[0-9]{2}$/;
/** Hostnames of lcr_gw.hostname (VARCHAR(64)). */
const HOSTNAME = /^(?=.{1,64}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** SIP/SIPS/tel URIs an operator may store as a speed-dial or forwarding target. */
const TARGET_URI = /^(?:sips?:[^\s<>"]{1,250}|tel:\+?[0-9*#().-]{1,32}(?:;[^\s<>"]{0,200})?)$/i;

/**
 * Why `pattern` cannot be stored, or null: it must fit `maxLength` (the column size) and pass
 * the screening the proxy applies when it loads the table (safe-regex.ts: compiles, no
 * backreferences, no nested quantifiers), so sipctl refuses what the route would skip. The lcr
 * and permissions modules compile POSIX extended expressions and dialplan PCRE; JavaScript's
 * syntax accepts the patterns those tables are written with (anchors, classes, groups,
 * alternation, counts).
 */
export function regexProblem(pattern: string, maxLength: number): string | null {
  if (pattern.length === 0) return 'is empty';
  if (pattern.length > maxLength) return `is longer than ${maxLength} characters`;
  const r = compileSafeRegex(pattern);
  return r.ok ? null : `is not a usable regular expression (${r.reason.replace(/^Invalid regular expression: /, '')})`;
}

/** An IP address as stored in src_ip / ip_addr: IPv4 dotted or IPv6 without brackets. */
export function normalizeIp(text: string): string | null {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return isIP(t) === 0 ? null : t.toLowerCase();
}

/** The host-length prefix of one address: address.mask default (32 for IPv4, 128 for IPv6). */
export function hostMask(ip: string): number {
  return isIP(ip) === 6 ? 128 : 32;
}

export type GatewayHost =
  | { ok: true; ipAddr: string | null; hostname: string | null; port: number | null }
  | { ok: false; reason: string };

/**
 * HOST[:PORT] of a gateway: an IP address goes to lcr_gw.ip_addr, a name to lcr_gw.hostname
 * (resolved by the route at load time, as the lcr module does). IPv6 with a port is bracketed
 * (RFC 3261 §19.1.1 hostport); a bare IPv6 address has no port.
 */
export function parseGatewayHost(text: string): GatewayHost {
  let host = text.trim();
  let portText: string | null = null;
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    if (close < 0) return { ok: false, reason: `unterminated IPv6 reference "${text.slice(0, 80)}"` };
    const rest = host.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return { ok: false, reason: `invalid gateway address "${text.slice(0, 80)}"` };
    portText = rest === '' ? null : rest.slice(1);
    host = host.slice(1, close);
    if (isIP(host) !== 6) return { ok: false, reason: `invalid IPv6 address "${host.slice(0, 80)}"` };
  } else if (isIP(host) !== 6) {
    const colon = host.lastIndexOf(':');
    if (colon >= 0) {
      portText = host.slice(colon + 1);
      host = host.slice(0, colon);
    }
  }
  let port: number | null = null;
  if (portText !== null) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return { ok: false, reason: `invalid port "${portText.slice(0, 20)}" (1..65535)` };
  }
  if (isIP(host) !== 0) return { ok: true, ipAddr: host.toLowerCase(), hostname: null, port };
  if (/^[0-9.]+$/.test(host) || !HOSTNAME.test(host)) return { ok: false, reason: `invalid gateway host "${host.slice(0, 80)}"` };
  return { ok: true, ipAddr: null, hostname: host.toLowerCase(), port };
}

/**
 * Longest no-answer forwarding timer (usr_preferences `fwdnoanswer_timeout`, seconds) the provider
 * route honours; sipctl and the portal refuse more, so a stored value is never silently ignored.
 */
export const MAX_NOANSWER_SECONDS = 600;

/** Whether `uri` is a SIP, SIPS or tel URI short enough for speed_dial.new_uri / usr_preferences.value. */
export function isTargetUri(uri: string, maxLength: number): boolean {
  return uri.length <= maxLength && TARGET_URI.test(uri);
}
