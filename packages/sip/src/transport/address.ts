import net from 'node:net';
import os from 'node:os';

/** True for the any-address binds ("0.0.0.0", "::"). */
export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '0:0:0:0:0:0:0:0';
}

/**
 * The host to advertise for a socket bound to `address`: the address itself, or for a
 * wildcard bind the first non-internal interface address of the family (loopback if none).
 */
export function advertisedHost(address: string, family: 4 | 6): string {
  if (!isWildcard(address)) return stripBrackets(address);
  const want = family === 6 ? 'IPv6' : 'IPv4';
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ifa of list ?? []) {
      // Link-local IPv6 needs a zone and is useless in Via.
      if (!ifa.internal && ifa.family === want && !(family === 6 && ifa.address.startsWith('fe80:'))) return ifa.address;
    }
  }
  return family === 6 ? '::1' : '127.0.0.1';
}

/** "[::1]" → "::1"; anything else unchanged. */
export function stripBrackets(host: string): string {
  return host.length > 1 && host.charCodeAt(0) === 0x5b && host.charCodeAt(host.length - 1) === 0x5d ? host.slice(1, -1) : host;
}

/** Host as it appears in a hostport (RFC 3261 §25.1): IPv6 references in brackets. */
export function formatHost(host: string): string {
  return host.includes(':') && host.charCodeAt(0) !== 0x5b ? `[${host}]` : host;
}

/** Address equality for sent-by vs packet source (brackets and case ignored). */
export function sameAddress(a: string, b: string): boolean {
  const x = stripBrackets(a);
  const y = stripBrackets(b);
  return x === y || x.toLowerCase() === y.toLowerCase();
}

/** 4, 6, or 0 when not an IP literal (brackets allowed). */
export function ipFamily(host: string): 0 | 4 | 6 {
  return net.isIP(stripBrackets(host)) as 0 | 4 | 6;
}

/** Default port of a transport (RFC 3261 §18.1.1 / §19.1.2). */
export function defaultPort(protocol: string): number {
  return protocol === 'TLS' || protocol === 'WSS' ? 5061 : 5060;
}
