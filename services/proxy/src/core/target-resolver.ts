/**
 * Turns a URI into the transport address to send to (RFC 3263 subset, §16.6 step 7).
 * Numeric hosts resolve synchronously (the hot path); names go through the system resolver
 * with a small positive/negative cache.
 * TODO(RFC 3263 §4.1, §4.2): NAPTR and SRV lookups; today A/AAAA with the URI's port or 5060/5061.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SipUri, type Uri, type TransportAddress, type TransportProtocol } from '@voip/sip';

const CACHE_TTL_MS = 60_000;
const NEGATIVE_TTL_MS = 5_000;
const MAX_CACHE = 10_000;

export class UnresolvableError extends Error {
  override readonly name = 'UnresolvableError';
}

interface CacheEntry {
  address: string | null;
  expires: number;
}

function protocolFor(uri: SipUri): TransportProtocol {
  if (uri.scheme === 'sips') return 'TLS';
  const t = uri.transport?.toLowerCase();
  switch (t) {
    case 'tcp':
      return 'TCP';
    case 'tls':
      return 'TLS';
    case 'ws':
      return 'WS';
    case 'wss':
      return 'WSS';
    default:
      return 'UDP';
  }
}

export class TargetResolver {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * The next hop for `uri`: maddr wins over host (RFC 3261 §19.1.1), then the explicit port or
   * the scheme default. Returns a value synchronously when no DNS is needed.
   */
  resolve(uri: Uri): TransportAddress | Promise<TransportAddress> {
    if (!(uri instanceof SipUri)) {
      throw new UnresolvableError(`cannot route to a ${uri.scheme}: URI`);
    }
    const protocol = protocolFor(uri);
    const port = uri.port ?? (protocol === 'TLS' || protocol === 'WSS' ? 5061 : 5060);
    const rawHost = uri.maddr ?? uri.host;
    const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost;
    if (isIP(host)) return { protocol, address: host, port };
    return this.lookupName(host).then((address) => ({ protocol, address, port }));
  }

  private async lookupName(host: string): Promise<string> {
    const key = host.toLowerCase();
    const hit = this.cache.get(key);
    const now = this.now();
    if (hit && hit.expires > now) {
      if (hit.address === null) throw new UnresolvableError(`${host} does not resolve`);
      return hit.address;
    }
    try {
      const r = await lookup(key);
      this.remember(key, { address: r.address, expires: now + CACHE_TTL_MS });
      return r.address;
    } catch (err) {
      this.remember(key, { address: null, expires: now + NEGATIVE_TTL_MS });
      throw new UnresolvableError(`${host} does not resolve: ${(err as Error).message}`);
    }
  }

  private remember(key: string, e: CacheEntry): void {
    if (this.cache.size >= MAX_CACHE) this.cache.clear();
    this.cache.set(key, e);
  }
}
