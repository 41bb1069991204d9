/**
 * The client side of rtpengine's ng protocol over a set of relays (Kamailio's `rtpengine_sock`
 * with several entries): each datagram is `<cookie> <bencoded dict>` and the reply repeats the
 * cookie. A request is retransmitted with the same cookie (the relay answers a retransmission
 * from its reply cache, so a late offer is not executed twice) and fails after `tries` timeouts.
 *
 * Health: a relay that times out is marked down; `ping` (ng "ping" → "pong") every interval
 * brings it back. New calls are spread over live relays by a hash of the Call-ID; a relay that
 * does not answer an offer is skipped for the next one (failover).
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { bdecode, bencode, isDict, type BencodeDict } from '@voip/ng';
import type { Logger } from '@voip/sip';
import { fnv1a32 } from '../../util/fnv.js';

export interface NgRelay {
  /** As configured: `udp:127.0.0.1:2223`. */
  readonly url: string;
  readonly address: string;
  readonly port: number;
  up: boolean;
}

/** `udp:IP:PORT` / `udp:[IPv6]:PORT` (Kamailio's rtpengine_sock syntax); null when malformed. */
export function parseRelayUrl(url: string): { address: string; port: number } | null {
  if (!url.startsWith('udp:')) return null;
  const rest = url.slice(4);
  let address: string;
  let port: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0 || rest[close + 1] !== ':') return null;
    address = rest.slice(1, close);
    port = rest.slice(close + 2);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon < 0) return null;
    address = rest.slice(0, colon);
    port = rest.slice(colon + 1);
  }
  const p = Number(port);
  if (isIP(address) === 0 || !Number.isInteger(p) || p < 1 || p > 65_535) return null;
  return { address, port: p };
}

/** The relay did not answer in time (all tries). */
export class NgTimeoutError extends Error {
  override readonly name = 'NgTimeoutError';
}

interface Waiter {
  resolve(d: BencodeDict): void;
  reject(e: Error): void;
  relay: NgRelay;
  datagram: Buffer;
  command: string;
  sent: number;
  timer: NodeJS.Timeout | null;
}

export interface NgRelaySetOptions {
  relays: readonly string[];
  /** Per-try timeout (ms). */
  timeoutMs: number;
  /** Tries per request, the first included. */
  tries: number;
  logger: Logger;
}

export class NgRelaySet {
  readonly relays: readonly NgRelay[];
  private readonly sockets = new Map<4 | 6, Socket>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly prefix = randomBytes(4).toString('hex');
  private seq = 0;
  private readonly log: Logger;
  private closed = false;

  constructor(private readonly o: NgRelaySetOptions) {
    this.log = o.logger;
    const relays: NgRelay[] = [];
    for (const url of o.relays) {
      const a = parseRelayUrl(url);
      if (a === null) throw new Error(`rtpengine relay must look like udp:IP:PORT, got ${url}`);
      relays.push({ url, address: a.address, port: a.port, up: true });
    }
    this.relays = relays;
  }

  private socketFor(address: string): Socket {
    const family = isIP(address) === 6 ? 6 : 4;
    let s = this.sockets.get(family);
    if (s === undefined) {
      s = createSocket(family === 6 ? 'udp6' : 'udp4');
      s.on('message', (msg) => this.onMessage(msg));
      // ICMP port unreachable and the like: the timeout decides, nothing to crash.
      s.on('error', (err) => this.log.warn({ err: err.message }, 'ng socket error'));
      s.unref();
      this.sockets.set(family, s);
    }
    return s;
  }

  private onMessage(msg: Buffer): void {
    const sp = msg.indexOf(0x20);
    if (sp <= 0 || sp > 128) return;
    const cookie = msg.toString('latin1', 0, sp);
    const w = this.waiters.get(cookie);
    if (w === undefined) return;
    this.waiters.delete(cookie);
    if (w.timer !== null) clearTimeout(w.timer);
    const d = bdecode(msg, sp + 1);
    if (!d.ok || !isDict(d.value)) {
      w.reject(new Error(`ng ${w.command}: malformed reply from ${w.relay.url} (${d.ok ? 'not a dictionary' : d.reason})`));
      return;
    }
    this.markUp(w.relay);
    w.resolve(d.value);
  }

  private markUp(r: NgRelay): void {
    if (!r.up) this.log.info({ relay: r.url }, 'media relay answers again');
    r.up = true;
  }

  private markDown(r: NgRelay, why: string): void {
    if (r.up) this.log.warn({ relay: r.url, why }, 'media relay marked down');
    r.up = false;
  }

  /** Sends one command to one relay; rejects with NgTimeoutError after `tries` timeouts. */
  request(relay: NgRelay, command: string, params: BencodeDict): Promise<BencodeDict> {
    if (this.closed) return Promise.reject(new Error('ng client closed'));
    const cookie = `${this.prefix}_${++this.seq}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), bencode({ ...params, command })]);
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, relay, datagram, command, sent: 0, timer: null };
      this.waiters.set(cookie, w);
      this.attempt(cookie, w);
    });
  }

  private attempt(cookie: string, w: Waiter): void {
    if (this.waiters.get(cookie) !== w) return;
    if (w.sent >= this.o.tries) {
      this.waiters.delete(cookie);
      this.markDown(w.relay, `no reply to ${w.command}`);
      w.reject(new NgTimeoutError(`ng ${w.command}: no reply from ${w.relay.url} after ${w.sent} tries`));
      return;
    }
    w.sent++;
    this.socketFor(w.relay.address).send(w.datagram, w.relay.port, w.relay.address);
    w.timer = setTimeout(() => this.attempt(cookie, w), this.o.timeoutMs);
  }

  /**
   * The relays to try for a new call, best first: live relays in Call-ID hash order (the same
   * call always lands on the same relay while the set is unchanged), then the ones marked down.
   */
  candidates(callId: string): NgRelay[] {
    const n = this.relays.length;
    if (n === 0) return [];
    const start = fnv1a32(callId) % n;
    const live: NgRelay[] = [];
    const down: NgRelay[] = [];
    for (let i = 0; i < n; i++) {
      const r = this.relays[(start + i) % n]!;
      (r.up ? live : down).push(r);
    }
    return [...live, ...down];
  }

  /** ng ping to every relay: "pong" marks it up, silence or an error marks it down. */
  async ping(): Promise<void> {
    await Promise.all(
      this.relays.map(async (r) => {
        try {
          const reply = await this.request(r, 'ping', {});
          if (reply['result'] === 'pong') this.markUp(r);
          else this.markDown(r, `ping answered ${String(reply['result'])}`);
        } catch (err) {
          this.markDown(r, (err as Error).message);
        }
      }),
    );
  }

  close(): void {
    this.closed = true;
    for (const w of this.waiters.values()) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(new Error('ng client closed'));
    }
    this.waiters.clear();
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }
}
