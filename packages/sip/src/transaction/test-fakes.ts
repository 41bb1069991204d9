/**
 * Test support for the transaction layer (STYLE.md 11): a fake transport that records what
 * is sent and injects what is "received" through the real transport-layer receive path, a
 * recording transaction user, and a fixture wiring both to a manual clock.
 * Not used by production code.
 */
import { parseMessage } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import { TransportLayer } from '../transport/index.js';
import type { MessageSource, Transport, TransportAddress, TransportHost, TransportProtocol } from '../transport/index.js';
import { ManualClock, TimerWheel } from '../util/timer-wheel.js';
import { DEFAULT_TIMER_SETTINGS } from './timers.js';
import type { TimerSettings } from './timers.js';
import { TransactionLayer } from './transaction-layer.js';
import type { ClientTransaction, ServerTransaction, TransactionUser } from './types.js';

export interface SentMessage {
  buf: Buffer;
  address: string;
  port: number;
  connectionId: number | null;
  message: SipRequest | SipResponse;
}

export class FakeTransport implements Transport {
  readonly protocol: TransportProtocol;
  readonly local: TransportAddress;
  readonly advertised: { host: string; port: number };
  readonly reliable: boolean;
  readonly sent: SentMessage[] = [];
  /** When set, every send fails with this error (reported like a real transport does). */
  failWith: Error | null = null;
  private readonly host: TransportHost;

  constructor(host: TransportHost, protocol: TransportProtocol, address: string, port: number) {
    this.host = host;
    this.protocol = protocol;
    this.local = { protocol, address, port };
    this.advertised = { host: address, port };
    this.reliable = protocol !== 'UDP';
  }

  send(buf: Buffer, address: string, port: number, connectionId?: number | null): void {
    if (this.failWith !== null) {
      this.host.sendFailed({ protocol: this.protocol, address, port }, this.failWith);
      return;
    }
    // A response to a malformed request may itself lack what the request lacked (e.g.
    // Call-ID): keep the best-effort parse then.
    const r = parseMessage(buf);
    const message = r.message;
    if (message === null) throw new Error(`fake transport: sent an unparsable message: ${r.ok ? '' : r.error.reason}`);
    this.sent.push({ buf, address, port, connectionId: connectionId ?? null, message });
  }

  /** Delivers `text` as if it arrived from address:port. */
  inject(text: string, address = '192.0.2.1', port = 5060, connectionId: number | null = null): void {
    const source: MessageSource = { protocol: this.protocol, address, port, local: this.local, connectionId };
    this.host.receive(Buffer.from(text, 'latin1'), source);
  }

  /** Sent messages since the last call (and forgets them). */
  take(): SentMessage[] {
    return this.sent.splice(0);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export type TuEvent =
  | { ev: 'request'; tx: ServerTransaction; cancelled: ServerTransaction | null }
  | { ev: 'stateless'; req: SipRequest; source: MessageSource }
  | { ev: 'response'; tx: ClientTransaction; status: number; res: SipResponse }
  | { ev: 'timeout'; tx: ClientTransaction }
  | { ev: 'transportError'; tx: ClientTransaction; err: Error }
  | { ev: 'stray'; res: SipResponse }
  | { ev: 'timerC'; tx: ClientTransaction }
  | { ev: 'serverTimeout'; tx: ServerTransaction }
  | { ev: 'terminated'; tx: ServerTransaction };

export class RecordingTu implements TransactionUser {
  events: TuEvent[] = [];
  /** Called from onRequest (to answer synchronously, or throw). */
  onRequestHook: ((tx: ServerTransaction, cancelled: ServerTransaction | null) => void) | null = null;

  onRequest(tx: ServerTransaction, cancelled: ServerTransaction | null): void {
    this.events.push({ ev: 'request', tx, cancelled });
    if (this.onRequestHook !== null) this.onRequestHook(tx, cancelled);
  }
  onStatelessRequest(req: SipRequest, source: MessageSource): void {
    this.events.push({ ev: 'stateless', req, source });
  }
  onResponse(tx: ClientTransaction, res: SipResponse): void {
    this.events.push({ ev: 'response', tx, status: res.status, res });
  }
  onTimeout(tx: ClientTransaction): void {
    this.events.push({ ev: 'timeout', tx });
  }
  onTransportError(tx: ClientTransaction, err: Error): void {
    this.events.push({ ev: 'transportError', tx, err });
  }
  onStrayResponse(res: SipResponse): void {
    this.events.push({ ev: 'stray', res });
  }
  onTimerC(tx: ClientTransaction): void {
    this.events.push({ ev: 'timerC', tx });
  }
  onServerTimeout(tx: ServerTransaction): void {
    this.events.push({ ev: 'serverTimeout', tx });
  }
  onServerTransactionTerminated(tx: ServerTransaction): void {
    this.events.push({ ev: 'terminated', tx });
  }

  /** Event names since the last call (and forgets them). */
  take(): TuEvent[] {
    return this.events.splice(0);
  }
  names(): string[] {
    return this.take().map((e) => e.ev);
  }
}

export interface Fixture {
  clock: ManualClock;
  wheel: TimerWheel;
  transport: TransportLayer;
  udp: FakeTransport;
  tcp: FakeTransport;
  tu: RecordingTu;
  layer: TransactionLayer;
  /** Moves the clock by `ms` in steps of at most `step` ms, firing due timers. */
  advance(ms: number, step?: number): void;
}

export const LOCAL_ADDRESS = '192.0.2.10';

export function fixture(opts: { timers?: Partial<TimerSettings>; sendTrying?: boolean; stateless?: boolean } = {}): Fixture {
  const clock = new ManualClock(0);
  const wheel = new TimerWheel({ clock, manual: true, tickMs: 10 });
  const transport = new TransportLayer({ maxMessageSize: 65535 });
  const udp = new FakeTransport(transport.host, 'UDP', LOCAL_ADDRESS, 5060);
  const tcp = new FakeTransport(transport.host, 'TCP', LOCAL_ADDRESS, 5060);
  transport.attach(udp);
  transport.attach(tcp);
  const tu = new RecordingTu();
  const layer = new TransactionLayer(transport, tu, {
    timers: { ...DEFAULT_TIMER_SETTINGS, timerC: undefined, ...opts.timers },
    wheel,
    sendTrying: opts.sendTrying,
    stateless: opts.stateless,
  });
  return {
    clock,
    wheel,
    transport,
    udp,
    tcp,
    tu,
    layer,
    advance(ms: number, step = ms): void {
      let left = ms;
      while (left > 0) {
        const d = Math.min(step, left);
        clock.time += d;
        left -= d;
        wheel.poll();
      }
    },
  };
}

/** Lets process.nextTick / setImmediate work run (transport errors are reported async). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface RequestOpts {
  method?: string;
  branch?: string | null;
  transport?: string;
  sentBy?: string;
  uri?: string;
  callId?: string;
  fromTag?: string;
  toTag?: string | null;
  cseq?: number;
  cseqMethod?: string;
  extraVia?: string;
}

/** A request as a UA upstream (or we, for client transactions) would send it. */
export function requestText(o: RequestOpts = {}): string {
  const method = o.method ?? 'INVITE';
  const branch = o.branch === undefined ? 'z9hG4bKup1' : o.branch;
  const via = `SIP/2.0/${o.transport ?? 'UDP'} ${o.sentBy ?? '192.0.2.1:5060'}${branch === null ? '' : `;branch=${branch}`}`;
  const toTag = o.toTag ?? null;
  return (
    `${method} ${o.uri ?? 'sip:bob@example.com'} SIP/2.0\r\n` +
    `Via: ${via}\r\n` +
    (o.extraVia !== undefined ? `Via: ${o.extraVia}\r\n` : '') +
    'Max-Forwards: 70\r\n' +
    `From: Alice <sip:alice@example.com>;tag=${o.fromTag ?? 'a1'}\r\n` +
    `To: Bob <sip:bob@example.com>${toTag === null ? '' : `;tag=${toTag}`}\r\n` +
    `Call-ID: ${o.callId ?? 'call-1@192.0.2.1'}\r\n` +
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? method}\r\n` +
    'Contact: <sip:alice@192.0.2.1>\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}

export function parseRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text, 'latin1'));
  if (!r.ok) throw new Error(`test request does not parse: ${r.error.reason}`);
  return r.message as SipRequest;
}

/** A response to `req` (text form), with the request's Via lines, as the next hop sends it. */
export function responseText(req: SipRequest, status: number, reason = 'Reason', toTag: string | null = 'b1'): string {
  const vias = req.headers.getAll('via').map((v) => `Via: ${v}\r\n`).join('');
  const to = req.headers.get('to')!;
  return (
    `SIP/2.0 ${status} ${reason}\r\n` +
    vias +
    `From: ${req.headers.get('from')!}\r\n` +
    `To: ${to}${toTag !== null && !to.includes('tag=') ? `;tag=${toTag}` : ''}\r\n` +
    `Call-ID: ${req.callId}\r\n` +
    `CSeq: ${req.cseq.seq} ${req.cseq.method}\r\n` +
    'Content-Length: 0\r\n\r\n'
  );
}
