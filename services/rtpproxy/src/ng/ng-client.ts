// Client side of rtpengine's ng protocol: what a SIP proxy uses to drive rtp-relay or a
// real rtpengine. Retransmits with the same cookie like Kamailio's rtpengine module does,
// so the server's reply cache makes a retried offer idempotent.
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { bdecode, bencode, isDict, type BencodeDict } from '@voip/ng';

export interface NgClientOptions {
  /** Per-try timeout in ms (default 1000). */
  readonly timeoutMs?: number;
  /** Tries in all, including the first (default 3). */
  readonly tries?: number;
}

interface Waiter {
  resolve(d: BencodeDict): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | null;
}

export class NgClient {
  private readonly host: string;
  private readonly port: number;
  private readonly socket: Socket;
  private readonly waiters: Map<string, Waiter>;
  private readonly timeoutMs: number;
  private readonly tries: number;
  private seq: number;
  private readonly prefix: string;

  constructor(host: string, port: number, opts: NgClientOptions = {}) {
    this.host = host;
    this.port = port;
    this.socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    this.waiters = new Map();
    this.timeoutMs = opts.timeoutMs ?? 1000;
    this.tries = opts.tries ?? 3;
    this.seq = 0;
    this.prefix = randomBytes(4).toString('hex');
    this.socket.on('message', (msg) => this.onMessage(msg));
    this.socket.unref();
  }

  private onMessage(msg: Buffer): void {
    const sp = msg.indexOf(0x20);
    if (sp <= 0) return;
    const cookie = msg.toString('latin1', 0, sp);
    const w = this.waiters.get(cookie);
    if (w === undefined) return;
    this.waiters.delete(cookie);
    if (w.timer !== null) clearTimeout(w.timer);
    const d = bdecode(msg, sp + 1);
    if (!d.ok || !isDict(d.value)) w.reject(new Error(`bad ng reply: ${d.ok ? 'not a dictionary' : d.reason}`));
    else w.resolve(d.value);
  }

  /** Sends one command and resolves with the reply dictionary (result may be "error"). */
  request(command: string, params: BencodeDict = {}): Promise<BencodeDict> {
    const cookie = `${this.prefix}_${++this.seq}`;
    const datagram = Buffer.concat([Buffer.from(`${cookie} `, 'latin1'), bencode({ ...params, command })]);
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: null };
      this.waiters.set(cookie, w);
      let sent = 0;
      const attempt = (): void => {
        if (!this.waiters.has(cookie)) return;
        if (sent >= this.tries) {
          this.waiters.delete(cookie);
          reject(new Error(`ng ${command}: no reply from ${this.host}:${this.port} after ${sent} tries`));
          return;
        }
        sent++;
        this.socket.send(datagram, this.port, this.host);
        w.timer = setTimeout(attempt, this.timeoutMs);
      };
      attempt();
    });
  }

  /** Like request() but rejects when the reply's result is "error". */
  async ok(command: string, params: BencodeDict = {}): Promise<BencodeDict> {
    const r = await this.request(command, params);
    if (r['result'] === 'error') throw new Error(`ng ${command} failed: ${String(r['error-reason'])}`);
    return r;
  }

  close(): void {
    for (const w of this.waiters.values()) {
      if (w.timer !== null) clearTimeout(w.timer);
      w.reject(new Error('ng client closed'));
    }
    this.waiters.clear();
    this.socket.close();
  }
}
