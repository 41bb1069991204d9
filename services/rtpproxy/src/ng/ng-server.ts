// rtpengine "ng" control protocol over UDP: each datagram is "<cookie> <bencoded dict>",
// and the reply repeats the cookie. The SIP proxy retransmits a request with the same
// cookie when a reply is late, so replies are cached by cookie and a retransmission is
// answered from the cache instead of being executed twice (an offer twice would leak ports).
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { bdecode, bencode, isDict, type BencodeDict } from '@voip/ng';
import type { Logger } from 'pino';
import { RtpError } from '../errors.js';
import type { RtpSessionTable } from '../media/rtp-session-table.js';
import { NG_COMMANDS, type NgContext } from './commands/index.js';
import { normalizeDict, str } from './ng-params.js';

const MAX_COOKIE = 128;
const MAX_DATAGRAM = 65_535;

export interface NgObserver {
  onCommand(command: string, result: 'ok' | 'error', seconds: number): void;
}

export interface NgServerOptions {
  readonly address: string;
  readonly port: number;
  readonly table: RtpSessionTable;
  readonly log: Logger;
  readonly replyCacheSeconds: number;
  readonly observer: NgObserver | null;
}

interface CachedReply {
  readonly reply: Buffer;
  readonly expires: number;
}

export class NgServer {
  private readonly opts: NgServerOptions;
  private readonly socket: Socket;
  private readonly cache: Map<string, CachedReply>;
  private readonly inFlight: Set<string>;
  private readonly counts: Map<string, number>;
  private readonly ctx: NgContext;
  private sweepTimer: NodeJS.Timeout | null;

  constructor(opts: NgServerOptions) {
    this.opts = opts;
    this.socket = createSocket({ type: isIP(opts.address) === 6 ? 'udp6' : 'udp4', ipv6Only: isIP(opts.address) === 6 });
    this.cache = new Map();
    this.inFlight = new Set();
    this.counts = new Map();
    this.ctx = { table: opts.table, log: opts.log, startedAt: Date.now(), commandCounts: this.counts };
    this.sweepTimer = null;
    this.onMessage = this.onMessage.bind(this);
  }

  async start(): Promise<{ address: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.socket.once('error', reject);
      this.socket.bind(this.opts.port, this.opts.address, () => {
        this.socket.off('error', reject);
        resolve();
      });
    });
    this.socket.on('message', this.onMessage);
    this.socket.on('error', (e) => this.opts.log.error({ err: e }, 'ng socket error'));
    this.sweepTimer = setInterval(() => this.sweepCache(Date.now()), 1000);
    this.sweepTimer.unref();
    const a = this.socket.address();
    return { address: a.address, port: a.port };
  }

  stop(): Promise<void> {
    if (this.sweepTimer !== null) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length > MAX_DATAGRAM) return;
    const sp = msg.indexOf(0x20);
    if (sp <= 0 || sp > MAX_COOKIE) {
      this.opts.log.debug({ src: `${rinfo.address}:${rinfo.port}` }, 'ng datagram without cookie dropped');
      return;
    }
    const cookie = msg.toString('latin1', 0, sp);
    const key = `${rinfo.address}|${rinfo.port}|${cookie}`;
    const cached = this.cache.get(key);
    if (cached !== undefined) {
      this.send(cached.reply, rinfo);
      return;
    }
    if (this.inFlight.has(key)) return; // retransmission of a request still being handled
    this.inFlight.add(key);
    void this.handle(cookie, key, msg.subarray(sp + 1), rinfo);
  }

  private async handle(cookie: string, key: string, body: Buffer, rinfo: RemoteInfo): Promise<void> {
    const started = process.hrtime.bigint();
    let command = 'invalid';
    let reply: BencodeDict;
    try {
      const decoded = bdecode(body);
      if (!decoded.ok || !isDict(decoded.value)) {
        throw new RtpError('RTP_ERR_BAD_MESSAGE', decoded.ok ? 'not a dictionary' : decoded.reason);
      }
      const d = normalizeDict(decoded.value);
      const name = str(d, 'command');
      if (name === null) throw new RtpError('RTP_ERR_MISSING_PARAM', 'command');
      const handler = NG_COMMANDS.get(name.toLowerCase());
      if (handler === undefined) throw new RtpError('RTP_ERR_UNKNOWN_COMMAND', name);
      command = name.toLowerCase();
      reply = await handler(d, this.ctx);
      this.opts.log.debug({ command, callId: str(d, 'call-id'), src: `${rinfo.address}:${rinfo.port}` }, 'ng command');
    } catch (e) {
      if (e instanceof RtpError) {
        this.opts.log.info({ command, code: e.code, err: e.message, src: `${rinfo.address}:${rinfo.port}` }, 'ng command failed');
        reply = { result: 'error', 'error-reason': e.message };
      } else {
        this.opts.log.error({ command, err: e }, 'ng command crashed');
        reply = { result: 'error', 'error-reason': 'Internal error' };
      }
    }
    this.counts.set(command, (this.counts.get(command) ?? 0) + 1);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.opts.observer?.onCommand(command, reply['result'] === 'error' ? 'error' : 'ok', seconds);
    const out = Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), bencode(reply)]);
    this.inFlight.delete(key);
    this.cache.set(key, { reply: out, expires: Date.now() + this.opts.replyCacheSeconds * 1000 });
    this.send(out, rinfo);
  }

  private send(buf: Buffer, rinfo: RemoteInfo): void {
    this.socket.send(buf, rinfo.port, rinfo.address, (err) => {
      if (err) this.opts.log.warn({ err, dst: `${rinfo.address}:${rinfo.port}` }, 'ng reply not sent');
    });
  }

  private sweepCache(now: number): void {
    // Insertion order is expiry order (constant TTL): stop at the first live entry.
    for (const [k, v] of this.cache) {
      if (v.expires > now) break;
      this.cache.delete(k);
    }
  }
}
