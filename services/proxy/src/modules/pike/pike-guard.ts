/**
 * pike: flood detection per source address, like Kamailio's pike module. Requests from each
 * source IP are counted over a sliding window (two fixed windows, the previous one weighted
 * by how much of it still overlaps: O(1) state per address); a source past `maxRequests`
 * within `windowMs` is blocked for `blockSeconds`: every request from it is dropped without
 * an answer, and one log line says so (not one per packet). Trusted sources are neither
 * counted nor blocked: the static `trusted` networks and, through `trustedPeer`, the peers the
 * routing tables already trust (Kamailio's pike has no such link; its config runs
 * `allow_trusted()` before `pike_check_req()` for the same effect). Memory is bounded: `maxTracked` addresses at most, least recently seen
 * evicted first, and `sweep()` forgets idle ones.
 *
 * Runs before the transaction layer (core/request-filter.ts), so a flood creates no
 * transactions. With worker threads each worker counts the requests steered to it.
 */
import { BlockList, isIPv6 } from 'node:net';
import type { Logger, MessageSource, SipRequest } from '@voip/sip';
import type { RequestFilter } from '../../core/request-filter.js';

export const name = 'pike';

/**
 * Whether a source is a peer the provider's in-memory tables trust (permissions trusted and
 * address rows, LCR gateway addresses): a busy gateway sends more than any phone and must not
 * be blocked for it. Called once per request from an untrusted network, so it must be a
 * lookup in memory, never a database query.
 */
export type TrustedPeer = (ip: string, port: number) => boolean;

export interface PikeSettings {
  enabled: boolean;
  windowMs: number;
  maxRequests: number;
  blockSeconds: number;
  trusted: readonly string[];
  maxTracked: number;
}

interface SourceState {
  windowStart: number;
  current: number;
  previous: number;
  blockedUntil: number;
  lastSeen: number;
}

/** A BlockList of `IP` / `IP/len` entries (IPv4 and IPv6). Throws on a malformed entry. */
export function networkList(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const e of entries) {
    const slash = e.indexOf('/');
    const addr = slash < 0 ? e : e.slice(0, slash);
    const type = isIPv6(addr) ? 'ipv6' : 'ipv4';
    const prefix = slash < 0 ? (type === 'ipv6' ? 128 : 32) : Number(e.slice(slash + 1));
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (type === 'ipv6' ? 128 : 32)) throw new Error(`bad network ${e}`);
    list.addSubnet(addr, prefix, type);
  }
  return list;
}

/** Whether `ip` (as the socket reports it; IPv4-mapped IPv6 included) is in `list`. */
export function inNetworks(list: BlockList, ip: string): boolean {
  if (isIPv6(ip)) {
    if (ip.startsWith('::ffff:') && ip.includes('.')) return list.check(ip.slice(7), 'ipv4');
    return list.check(ip, 'ipv6');
  }
  return list.check(ip, 'ipv4');
}

export class PikeGuard implements RequestFilter {
  private readonly sources = new Map<string, SourceState>();
  private readonly trusted: BlockList;
  private readonly blockMs: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly trustedPeer: TrustedPeer | null;
  /**
   * `pike.trusted` answers per source address: the list is fixed for the guard's life, and a
   * BlockList check parses the address again each time (its IPv6 regular expression showed in
   * profiles of every request). Bounded: cleared when full.
   */
  private readonly trustedNetworkCache = new Map<string, boolean>();
  private sweepTimer: NodeJS.Timeout | null = null;
  /** Metrics. */
  blocks = 0;
  dropped = 0;

  constructor(private readonly s: PikeSettings, logger: Logger, now: () => number = Date.now, trustedPeer: TrustedPeer | null = null) {
    this.trusted = networkList(s.trusted);
    this.blockMs = s.blockSeconds * 1000;
    this.log = logger.child({ layer: 'proxy.pike' });
    this.now = now;
    this.trustedPeer = trustedPeer;
  }

  /** Starts the periodic sweep of idle addresses (stopped by close()). */
  start(): void {
    if (this.sweepTimer !== null) return;
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(1_000, this.s.windowMs * 2));
    this.sweepTimer.unref();
  }

  close(): void {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  admitRequest(req: SipRequest, source: MessageSource): boolean {
    void req;
    return this.admit(source.address, source.port);
  }

  /** Unparsable input counts like a request: a flood of garbage is a flood. */
  admitSource(source: MessageSource): boolean {
    return this.admit(source.address, source.port);
  }

  private isTrustedNetwork(ip: string): boolean {
    let hit = this.trustedNetworkCache.get(ip);
    if (hit === undefined) {
      hit = inNetworks(this.trusted, ip);
      if (this.trustedNetworkCache.size >= 4096) this.trustedNetworkCache.clear();
      this.trustedNetworkCache.set(ip, hit);
    }
    return hit;
  }

  /**
   * Counts one request from `ip` (`port`: its source port, for address rows bound to a port);
   * false when the source is (or just became) blocked.
   */
  admit(ip: string, port = 0): boolean {
    if (this.isTrustedNetwork(ip)) return true;
    if (this.trustedPeer !== null && this.trustedPeer(ip, port)) return true;
    const now = this.now();
    let st = this.sources.get(ip);
    if (st === undefined) {
      if (this.sources.size >= this.s.maxTracked) this.evictOldest(now);
      st = { windowStart: now, current: 0, previous: 0, blockedUntil: 0, lastSeen: now };
    } else {
      // Re-inserted so the Map stays ordered least recently seen first.
      this.sources.delete(ip);
    }
    this.sources.set(ip, st);
    st.lastSeen = now;
    if (st.blockedUntil > now) {
      this.dropped++;
      return false;
    }
    if (st.blockedUntil !== 0) {
      // The block is over: the source starts afresh.
      st.blockedUntil = 0;
      st.current = 0;
      st.previous = 0;
      st.windowStart = now;
    }
    const w = this.s.windowMs;
    const elapsed = now - st.windowStart;
    if (elapsed >= 2 * w) {
      st.previous = 0;
      st.current = 0;
      st.windowStart = now;
    } else if (elapsed >= w) {
      st.previous = st.current;
      st.current = 0;
      st.windowStart += w;
    }
    st.current++;
    const estimate = st.current + st.previous * (1 - (now - st.windowStart) / w);
    if (estimate <= this.s.maxRequests) return true;
    st.blockedUntil = now + this.blockMs;
    this.blocks++;
    this.dropped++;
    this.log.warn({ event: 'pike-blocked', ip, requests: Math.round(estimate), windowMs: w, until: new Date(st.blockedUntil).toISOString() }, 'flood: source blocked');
    return false;
  }

  /** Forgets addresses idle for two windows and not blocked. */
  sweep(): void {
    const now = this.now();
    for (const [ip, st] of this.sources) if (this.idle(st, now)) this.sources.delete(ip);
  }

  get tracked(): number {
    return this.sources.size;
  }

  get blockedNow(): number {
    const now = this.now();
    let n = 0;
    for (const st of this.sources.values()) if (st.blockedUntil > now) n++;
    return n;
  }

  metrics(): Record<string, number> {
    return { pike_blocks: this.blocks, pike_dropped: this.dropped, pike_blocked_now: this.blockedNow, pike_tracked: this.tracked };
  }

  private idle(st: SourceState, now: number): boolean {
    return st.blockedUntil <= now && now - st.lastSeen >= 2 * this.s.windowMs;
  }

  private evictOldest(now: number): void {
    for (const [ip, st] of this.sources) {
      if (this.idle(st, now)) this.sources.delete(ip);
      else break;
    }
    if (this.sources.size < this.s.maxTracked) return;
    const oldest = this.sources.keys().next();
    if (!oldest.done) this.sources.delete(oldest.value);
  }
}

export function init(deps: { settings: PikeSettings; logger: Logger; now?: () => number; trustedPeer?: TrustedPeer | null }): PikeGuard {
  const g = new PikeGuard(deps.settings, deps.logger, deps.now, deps.trustedPeer ?? null);
  g.start();
  return g;
}
