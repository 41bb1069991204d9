/**
 * A scripted SIP peer over a real UDP socket for in-process proxy tests: sends raw text,
 * waits for the next message matching a predicate. (Test support only; not shipped in routes.)
 */
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { parseMessage, type SipRequest, type SipResponse, isRequest } from '@voip/sip';

export type Received = SipRequest | SipResponse;

export class UdpPeer {
  readonly inbox: Received[] = [];
  private waiters: { pred: (m: Received) => boolean; resolve: (m: Received) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
    /** The loopback address the peer is bound to: 127.0.0.1 or ::1. */
    readonly host: string,
  ) {
    socket.on('message', (buf) => {
      const r = parseMessage(buf);
      if (!r.ok) return;
      const m = r.message;
      const i = this.waiters.findIndex((w) => w.pred(m));
      if (i >= 0) {
        const [w] = this.waiters.splice(i, 1);
        clearTimeout(w!.timer);
        w!.resolve(m);
      } else this.inbox.push(m);
    });
  }

  static async open(host = '127.0.0.1'): Promise<UdpPeer> {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.bind(0, host);
    await once(s, 'listening');
    return new UdpPeer(s, s.address().port, host);
  }

  /** host:port as written in SIP (IPv6 in brackets, RFC 3261 §19.1.1). */
  get uri(): string {
    return `${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** To `port` on `to` (default: the peer's own loopback address, where the proxy listens). */
  send(text: string, port: number, to: string = this.host): void {
    // Scenario text uses \n; SIP needs CRLF and the body length is recomputed by the caller.
    this.socket.send(Buffer.from(text.replace(/\r?\n/g, '\r\n'), 'latin1'), port, to);
  }

  sendMessage(m: Received, port: number, to: string = this.host): void {
    this.socket.send(m.toBuffer(), port, to);
  }

  /** Resolves with the first message (already queued or arriving) that matches. */
  next(pred: (m: Received) => boolean = () => true, timeoutMs = 5_000): Promise<Received> {
    const i = this.inbox.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`UdpPeer ${this.port}: no matching message within ${timeoutMs} ms; inbox: ${this.inbox.map(describe).join(' | ')}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject, timer });
    });
  }

  nextRequest(method: string, timeoutMs?: number): Promise<SipRequest> {
    return this.next((m) => isRequest(m) && m.method === method, timeoutMs) as Promise<SipRequest>;
  }

  nextResponse(pred: (r: SipResponse) => boolean = () => true, timeoutMs?: number): Promise<SipResponse> {
    return this.next((m) => !isRequest(m) && pred(m), timeoutMs) as Promise<SipResponse>;
  }

  close(): void {
    for (const w of this.waiters) clearTimeout(w.timer);
    this.socket.close();
  }
}

function describe(m: Received): string {
  return isRequest(m) ? m.method : `${m.status} ${m.cseq.method}`;
}

let seq = 0;
/** A request text from `from` (a peer) with a fresh branch/Call-ID unless given. */
export function request(opts: {
  method: string;
  ruri: string;
  from: UdpPeer;
  fromUser?: string;
  toUri?: string;
  callId?: string;
  cseq?: number;
  branch?: string;
  headers?: string[];
  body?: string;
}): string {
  seq++;
  const body = opts.body ?? '';
  const lines = [
    `${opts.method} ${opts.ruri} SIP/2.0`,
    `Via: SIP/2.0/UDP ${opts.from.uri};branch=${opts.branch ?? `z9hG4bK-t${seq}-${Math.random().toString(36).slice(2)}`};rport`,
    `From: <sip:${opts.fromUser ?? 'caller'}@${opts.from.host.includes(':') ? `[${opts.from.host}]` : opts.from.host}>;tag=from${seq}`,
    `To: <${opts.toUri ?? opts.ruri}>`,
    `Call-ID: ${opts.callId ?? `call-${seq}-${Math.random().toString(36).slice(2)}`}`,
    `CSeq: ${opts.cseq ?? 1} ${opts.method}`,
    `Contact: <sip:${opts.fromUser ?? 'caller'}@${opts.from.uri}>`,
    ...(opts.headers ?? []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ];
  return lines.join('\n');
}
