/**
 * What "myself" is (the book's `uri==myself`): the configured domains (`alias=` lines) and the
 * addresses we listen on. One instance per proxy, built at start-up; later issues make the
 * domain set reloadable from the `domain` table through `setDomains`.
 */
import { SipUri, type Uri, type TransportAddress } from '@voip/sip';

function normalizeHost(host: string): string {
  // URIs carry IPv6 references in brackets (RFC 3261 §19.1.1); compare without them.
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return h.toLowerCase();
}

function defaultPort(scheme: string, transport: string | null): number {
  return scheme === 'sips' || transport?.toLowerCase() === 'tls' ? 5061 : 5060;
}

export class LocalIdentity {
  private domains = new Set<string>();
  /** host -> ports we listen on at that host */
  private readonly addresses = new Map<string, Set<number>>();
  /** The address written into Via/Record-Route when a listen address is a wildcard. */
  readonly advertised: string | null;

  constructor(listen: readonly TransportAddress[], domains: readonly string[], advertised?: string) {
    this.advertised = advertised ?? null;
    for (const l of listen) this.addAddress(l.address, l.port);
    if (advertised) for (const l of listen) this.addAddress(advertised, l.port);
    this.setDomains(domains);
  }

  addAddress(address: string, port: number): void {
    const h = normalizeHost(address);
    let ports = this.addresses.get(h);
    if (!ports) this.addresses.set(h, (ports = new Set()));
    ports.add(port);
  }

  /** Replaces the configured domain set (reload without restart). */
  setDomains(domains: readonly string[]): void {
    this.domains = new Set(domains.map(normalizeHost));
  }

  /** `is_uri_host_local`: the host alone is one of our domains or addresses. */
  isLocalHost(host: string): boolean {
    const h = normalizeHost(host);
    return this.domains.has(h) || this.addresses.has(h);
  }

  /**
   * `uri==myself`: a domain we serve (any port, unless the domain is one of our listen addresses
   * and the URI names another port), or one of our listen addresses on a port we listen on
   * (absent port = the scheme's default, RFC 3261 §19.1.2).
   */
  isMyself(uri: Uri): boolean {
    if (!(uri instanceof SipUri)) return false;
    const h = normalizeHost(uri.host);
    const ports = this.addresses.get(h);
    if (this.domains.has(h)) {
      // A domain name is ours at any port. A domain that is also one of our listen addresses
      // (a lab whose domain is its IP) names another host when its explicit port is not one we
      // listen on: a phone, gateway or voicemail on the same address must not be taken for us.
      if (ports === undefined || uri.port === null) return true;
      return ports.has(uri.port);
    }
    if (!ports) return false;
    return ports.has(uri.port ?? defaultPort(uri.scheme, uri.transport));
  }

  /** A Via sent-by (host, port) that is ours: used for loop detection and stray responses. */
  isOwnSentBy(host: string, port: number | null, transport: string): boolean {
    const ports = this.addresses.get(normalizeHost(host));
    return ports !== undefined && ports.has(port ?? defaultPort('sip', transport));
  }

  get domainList(): string[] {
    return [...this.domains];
  }
}
