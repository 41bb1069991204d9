/**
 * A small SIP phone on TLS for the TLS suite. Debian's SIPp 3.6 is built without OpenSSL
 * ("To use a TLS transport you must compile SIPp with OpenSSL"), so `-t l1` is not available:
 * this phone plays the TLS side with node:tls. Like the rest of the suite it does not borrow
 * the proxy's parser: frames are cut by Content-Length (RFC 3261 §18.3) here and read with
 * SipText.
 */
import tls from 'node:tls';
import { SipText } from '../harness/index.js';

export interface TlsPhoneOptions {
  host: string;
  port: number;
  /** Trust anchors for the proxy's certificate; with it the phone verifies the proxy. */
  ca?: string;
  /** Client certificate and key (mutual TLS). */
  cert?: string;
  key?: string;
}

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const CONTENT_LENGTH_RE = /^(?:content-length|l)[ \t]*:[ \t]*(\d{1,9})[ \t]*$/im;

export class TlsPhone {
  readonly received: SipText[] = [];
  private buffered: Buffer = Buffer.alloc(0);
  private waiters: { pred: (m: SipText) => boolean; resolve: (m: SipText) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private closedWith: Error | null = null;

  private constructor(readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.onClosed(err));
    socket.on('close', () => this.onClosed(new Error('connection closed by the proxy')));
  }

  /** Connects and completes the handshake; rejects when the proxy refuses it. */
  static connect(o: TlsPhoneOptions): Promise<TlsPhone> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: o.host,
        port: o.port,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        rejectUnauthorized: o.ca !== undefined,
      }, () => {
        socket.off('error', reject);
        resolve(new TlsPhone(socket));
      });
      socket.once('error', reject);
    });
  }

  /** Local port of the connection (ephemeral: not the port the phone's Contact names). */
  get connectionPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(text: string): void {
    this.socket.write(Buffer.from(text, 'latin1'));
  }

  /** The first message (already received or arriving) that matches. */
  next(pred: (m: SipText) => boolean, what: string, timeoutMs = 10_000): Promise<SipText> {
    const i = this.received.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.received.splice(i, 1)[0]!);
    if (this.closedWith !== null) return Promise.reject(new Error(`${what}: ${this.closedWith.message}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`TLS phone: no ${what} within ${timeoutMs} ms; got: ${this.received.map((m) => m.startLine).join(' | ')}`));
      }, timeoutMs);
      this.waiters.push({ pred, resolve, reject: (e) => reject(new Error(`${what}: ${e.message}`)), timer });
    });
  }

  request(method: string, what = method): Promise<SipText> {
    return this.next((m) => m.method === method, what);
  }

  response(status: number, cseqMethod: string): Promise<SipText> {
    return this.next((m) => m.status === status && m.cseqMethod === cseqMethod, `${status} to ${cseqMethod}`);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      // RFC 5626 §3.5.1 pongs and stray CRLFs between messages.
      let start = 0;
      while (start < this.buffered.length && (this.buffered[start] === 0x0d || this.buffered[start] === 0x0a)) start++;
      if (start > 0) this.buffered = this.buffered.subarray(start);
      const end = this.buffered.indexOf(HEADER_END);
      if (end < 0) return;
      const head = this.buffered.toString('latin1', 0, end);
      const m = CONTENT_LENGTH_RE.exec(head);
      const length = m === null ? 0 : Number(m[1]);
      const total = end + HEADER_END.length + length;
      if (this.buffered.length < total) return;
      const text = this.buffered.toString('latin1', 0, total);
      this.buffered = this.buffered.subarray(total);
      this.deliver(new SipText(text));
    }
  }

  private deliver(msg: SipText): void {
    const i = this.waiters.findIndex((w) => w.pred(msg));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(msg);
    } else {
      this.received.push(msg);
    }
  }

  private onClosed(err: Error): void {
    if (this.closedWith !== null) return;
    this.closedWith = err;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
