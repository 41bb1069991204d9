/**
 * Which addresses cannot be reached from the public side: a UA that writes one of them into its
 * Contact, Via or SDP is behind a NAT (Kamailio nathelper's private-address list, `nat_uac_test`
 * flags 1, 4, 8). Numeric parsing only; no regular expression touches the message text.
 */
import { isIP } from 'node:net';

/** Parses dotted-quad IPv4 into a 32-bit unsigned number; null when not IPv4. */
function ipv4(a: string): number | null {
  if (isIP(a) !== 4) return null;
  let n = 0;
  for (const part of a.split('.')) n = n * 256 + Number(part);
  return n >>> 0;
}

function inV4(n: number, base: string, bits: number): boolean {
  const b = ipv4(base)!;
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  return ((n & mask) >>> 0) === ((b & mask) >>> 0);
}

/** IPv4 ranges a NATed UA may announce. */
const PRIVATE_V4: readonly (readonly [string, number])[] = [
  ['10.0.0.0', 8], // RFC 1918
  ['172.16.0.0', 12], // RFC 1918
  ['192.168.0.0', 16], // RFC 1918
  ['100.64.0.0', 10], // RFC 6598 shared address space (carrier-grade NAT)
  ['169.254.0.0', 16], // RFC 3927 link-local
];

/**
 * True for RFC 1918, RFC 6598 (100.64/10), IPv4 link-local, IPv6 unique-local (RFC 4193
 * fc00::/7) and IPv6 link-local (fe80::/10), including IPv4-mapped IPv6 forms of the former.
 * Host names and loopback are not private in this sense (a lab proxy on 127.0.0.1 is no NAT).
 */
export function isPrivateAddress(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const family = isIP(h);
  if (family === 4) {
    const n = ipv4(h)!;
    return PRIVATE_V4.some(([base, bits]) => inV4(n, base, bits));
  }
  if (family !== 6) return false;
  const lower = h.toLowerCase();
  const mapped = lower.startsWith('::ffff:') ? lower.slice(7) : null;
  if (mapped !== null && isIP(mapped) === 4) return isPrivateAddress(mapped);
  const first = Number.parseInt(lower.split(':')[0] || '0', 16);
  if ((first & 0xfe00) === 0xfc00) return true; // fc00::/7
  if ((first & 0xffc0) === 0xfe80) return true; // fe80::/10
  return false;
}

/** Two textual IP addresses name the same host (IPv6 compared case-insensitively, brackets ignored). */
export function sameIp(a: string, b: string): boolean {
  const x = a.startsWith('[') ? a.slice(1, -1) : a;
  const y = b.startsWith('[') ? b.slice(1, -1) : b;
  return x.toLowerCase() === y.toLowerCase();
}
