/**
 * NAT keepalives (nathelper's `natping_interval` / `sipping_*`): every interval the proxy sends
 * an OPTIONS (UDP) or a CRLFCRLF (RFC 5626 §4.4.1, TCP/TLS) to each binding registered from
 * behind a NAT, to its `received` address and from our socket that got the REGISTER, so the
 * NAT keeps the mapping open and calls to the phone reach it.
 *
 * UDP flow failure (RFC 5626 §4.4 in spirit): a binding that leaves `maxMisses` OPTIONS in a
 * row unanswered is removed; any response counts as an answer (a phone may reply 405 or 481).
 * Stream bindings are kept open by CRLF only; their pongs are not counted (the transport layer
 * swallows them), so a dead TCP flow ends when its connection closes or the binding expires.
 *
 * State: one entry per pinged binding (by ruid) and one per outstanding OPTIONS (by branch),
 * both owned here; the timer is one interval for all bindings.
 */
import { randomBytes } from 'node:crypto';
import type { Logger, SipResponse, Transport, TransportAddress } from '@voip/sip';
import { BINDING_FLAG_NAT_PING, type Binding } from '../location/binding.js';
import type { LocationStore } from '../location/location-store.js';

/** What the pinger needs from the transport layer (TransportLayer satisfies it). */
export interface KeepaliveTransports {
  readonly transports: readonly Transport[];
  viaFor(transport: Transport, branch: string): string;
}

export interface NatKeepaliveOptions {
  location: LocationStore;
  transports: KeepaliveTransports;
  /** Seconds between keepalives; 0 disables them. */
  intervalSeconds: number;
  /** Unanswered OPTIONS in a row after which a UDP binding is removed; 0 = never removed. */
  maxMisses: number;
  /** From URI of the OPTIONS (nathelper's sipping_from). */
  fromUri: string;
  logger: Logger;
}

/** Branch prefix of our keepalive OPTIONS: replies with it end here, not in the proxy core. */
const BRANCH_PREFIX = 'z9hG4bK-nk-';
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

interface PingState {
  misses: number;
  /** Branch of the OPTIONS still unanswered, or null. */
  outstanding: string | null;
}

/** `udp:127.0.0.1:5060` (Binding.socket) → the listening transport, or null. */
function transportOf(list: readonly Transport[], socket: string | null): Transport | null {
  if (socket === null) return null;
  for (const t of list) {
    const l = t.local;
    const host = l.address.includes(':') ? `[${l.address}]` : l.address;
    if (socket === `${t.protocol.toLowerCase()}:${l.address}:${l.port}` || socket === `${t.protocol.toLowerCase()}:${host}:${l.port}`) return t;
  }
  return null;
}

/** `sip:IP:PORT;transport=x` (Binding.received) → address, port; null when unusable. */
export function parseReceived(received: string): { address: string; port: number } | null {
  if (!received.startsWith('sip:')) return null;
  let rest = received.slice(4);
  const semi = rest.indexOf(';');
  if (semi >= 0) rest = rest.slice(0, semi);
  let address: string;
  let portText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return null;
    address = rest.slice(1, close);
    portText = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return null;
    address = rest.slice(0, colon);
    portText = rest.slice(colon + 1);
  }
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535 || address.length === 0) return null;
  return { address, port };
}

export class NatKeepalive {
  private readonly o: NatKeepaliveOptions;
  private readonly log: Logger;
  private readonly states = new Map<string, PingState>();
  /** Outstanding OPTIONS: branch → ruid. */
  private readonly branches = new Map<string, string>();
  private timer: NodeJS.Timeout | null = null;
  private seq = 0;
  private readonly callIdBase = randomBytes(6).toString('hex');
  private readonly fromTag = randomBytes(6).toString('hex');
  /** Counters for the admin API and tests. */
  readonly stats = { sent: 0, answered: 0, removed: 0 };

  constructor(o: NatKeepaliveOptions) {
    this.o = o;
    this.log = o.logger.child({ layer: 'proxy.nat.keepalive' });
  }

  start(): void {
    if (this.timer !== null || this.o.intervalSeconds === 0) return;
    this.timer = setInterval(() => this.tick(), this.o.intervalSeconds * 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round: count misses, remove dead UDP bindings, ping the others. */
  tick(): void {
    const live = new Set<string>();
    for (const b of [...this.o.location.all()]) {
      if ((b.cflags & BINDING_FLAG_NAT_PING) === 0 || b.received === null) continue;
      live.add(b.ruid);
      let st = this.states.get(b.ruid);
      if (st === undefined) this.states.set(b.ruid, (st = { misses: 0, outstanding: null }));
      if (st.outstanding !== null) {
        this.branches.delete(st.outstanding);
        st.outstanding = null;
        st.misses++;
        if (this.o.maxMisses > 0 && st.misses >= this.o.maxMisses) {
          this.log.info({ aor: b.aor, contact: b.contact, received: b.received, misses: st.misses }, 'NATed contact stopped answering keepalives; binding removed');
          this.o.location.remove(b);
          this.states.delete(b.ruid);
          this.stats.removed++;
          live.delete(b.ruid);
          continue;
        }
      }
      this.ping(b, st);
    }
    // Bindings gone (expired, unregistered) leave no state behind.
    for (const [ruid, st] of this.states) {
      if (live.has(ruid)) continue;
      if (st.outstanding !== null) this.branches.delete(st.outstanding);
      this.states.delete(ruid);
    }
  }

  private ping(b: Binding, st: PingState): void {
    const dest = parseReceived(b.received!);
    const t = transportOf(this.o.transports.transports, b.socket);
    if (dest === null || t === null) return;
    if (t.reliable) {
      // RFC 5626 §4.4.1: a double CRLF on the flow; the connection to the phone is reused.
      t.send(CRLFCRLF, dest.address, dest.port);
      this.stats.sent++;
      return;
    }
    const branch = `${BRANCH_PREFIX}${this.callIdBase}-${++this.seq}`;
    st.outstanding = branch;
    this.branches.set(branch, b.ruid);
    t.send(this.options(b, t, branch, dest), dest.address, dest.port);
    this.stats.sent++;
  }

  /** An OPTIONS to the contact as registered, sent to its NAT binding (RFC 3261 §11). */
  private options(b: Binding, t: Transport, branch: string, dest: TransportAddress | { address: string; port: number }): Buffer {
    const text =
      `OPTIONS ${b.contact} SIP/2.0\r\n` +
      `Via: ${this.o.transports.viaFor(t, branch)}\r\n` +
      `From: <${this.o.fromUri}>;tag=${this.fromTag}\r\n` +
      `To: <${b.contact}>\r\n` +
      `Call-ID: ${this.callIdBase}-${this.seq}@${dest.address.includes(':') ? `[${dest.address}]` : dest.address}\r\n` +
      `CSeq: 1 OPTIONS\r\n` +
      `Max-Forwards: 70\r\n` +
      `Content-Length: 0\r\n\r\n`;
    return Buffer.from(text, 'latin1');
  }

  /** True when `res` answers one of our keepalives (it is consumed here). */
  onResponse(res: SipResponse): boolean {
    const branch = res.vias[0]?.branch;
    if (branch === undefined || branch === null || !branch.startsWith(BRANCH_PREFIX)) return false;
    const ruid = this.branches.get(branch);
    this.branches.delete(branch);
    if (ruid !== undefined) {
      const st = this.states.get(ruid);
      if (st !== undefined && st.outstanding === branch) {
        st.outstanding = null;
        st.misses = 0;
      }
      this.stats.answered++;
    }
    return true;
  }
}
