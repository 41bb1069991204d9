import { isIPv4 } from 'node:net';

/**
 * A source address as the provider's tables compare it: IPv4-mapped IPv6 sources
 * (::ffff:192.0.2.1, dual-stack sockets) as IPv4, brackets dropped, IPv6 in lower case.
 */
export function canonicalIp(address: string): string {
  const a = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const lower = a.toLowerCase();
  if (lower.startsWith('::ffff:') && isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}
