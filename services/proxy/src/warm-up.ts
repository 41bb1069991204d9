/**
 * JIT warm-up before a proxy takes traffic. Node starts in V8's interpreter; a freshly started
 * proxy took 1-2 s at 1000 calls/s to get its parser, transaction layer and core optimised, and
 * the queue it built meanwhile was the p95 264 / p99 392 ms INVITE→200 of issue 13's first step
 * (post-dial delay every caller hears right after a restart).
 *
 * So before the real stack starts, a throw-away one runs complete calls (INVITE, 100, 180, 200,
 * ACK, BYE, 200 — the stateful record-routed flow) through a fake transport: parsing,
 * transactions, the proxy core, record-route and loose routing, serialisation. Nothing leaves
 * the process: no socket, no database, no admin API, no accounting, and the throw-away stack is
 * closed (its transactions and timers dropped) before the real one starts. The code it warms is
 * the same code the real stack runs (V8 keeps type feedback per function, not per instance).
 */
import { silentLogger, type MessageSource, type Transport, type TransportAddress, type TransportHost } from '@voip/sip';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseConfig, type ProxyConfig } from './config.js';
import { startProxy } from './server.js';

const PROXY: TransportAddress = { protocol: 'UDP', address: '127.0.0.1', port: 5060 };
/** Caller and callee of the synthetic calls (never contacted: the transport is a fake). */
export const WARM_UP_UAC = { address: '127.0.0.2', port: 5061 };
export const WARM_UP_UAS = { address: '127.0.0.3', port: 5062 };

/** A transport that keeps what the proxy sends, for the synthetic peers to answer. */
export class LoopbackFakeUdp implements Transport {
  readonly protocol = 'UDP' as const;
  readonly local = PROXY;
  readonly advertised = { host: PROXY.address, port: PROXY.port };
  readonly reliable = false;
  readonly out: { buf: Buffer; address: string; port: number }[] = [];
  constructor(readonly host: TransportHost) {}
  send(buf: Buffer, address: string, port: number): void {
    this.out.push({ buf, address, port });
  }
  async close(): Promise<void> {}
  receive(text: string, from: { address: string; port: number }): void {
    const source: MessageSource = { protocol: 'UDP', address: from.address, port: from.port, local: PROXY, connectionId: null };
    this.host.receive(Buffer.from(text, 'latin1'), source);
  }
  /** The last datagram sent to `port` (and clears the outbox); null when none. */
  take(port: number): string | null {
    let found: string | null = null;
    for (const o of this.out) if (o.port === port) found = o.buf.toString('latin1');
    this.out.length = 0;
    return found;
  }
}

const SDP = 'v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.2\r\ns=-\r\nc=IN IP4 127.0.0.2\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

function invite(n: number): string {
  const { address: ua, port: up } = WARM_UP_UAC;
  const { address: sa, port: sp } = WARM_UP_UAS;
  return (
    `INVITE sip:callee@${sa}:${sp} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${ua}:${up};branch=z9hG4bK-${n}-1-0\r\n` +
    `From: caller <sip:caller@${ua}:${up}>;tag=${n}t001\r\n` +
    `To: <sip:callee@${sa}:${sp}>\r\n` +
    `Call-ID: ${n}-warm-up@${ua}\r\n` +
    'CSeq: 1 INVITE\r\n' +
    `Contact: <sip:caller@${ua}:${up}>\r\n` +
    'Max-Forwards: 70\r\nContent-Type: application/sdp\r\n' +
    `Content-Length: ${SDP.length}\r\n\r\n${SDP}`
  );
}

/** Header lines of `name` (as we write them: `Name: value`) in a raw message, in order. */
function lines(raw: string, name: string): string[] {
  const out: string[] = [];
  const key = `\r\n${name}: `;
  const end = raw.indexOf('\r\n\r\n');
  for (let i = raw.indexOf(key); i >= 0 && i < end; i = raw.indexOf(key, i + 2)) out.push(raw.slice(i + 2, raw.indexOf('\r\n', i + 2)));
  return out;
}

function response(req: string, status: string, toTag: string): string {
  const to = lines(req, 'To')[0]!;
  const rr = lines(req, 'Record-Route');
  return (
    `SIP/2.0 ${status}\r\n${lines(req, 'Via').join('\r\n')}\r\n${rr.join('\r\n')}${rr.length ? '\r\n' : ''}` +
    `${lines(req, 'From')[0]}\r\n${to.includes('tag=') || toTag === '' ? to : `${to};tag=${toTag}`}\r\n${lines(req, 'Call-ID')[0]}\r\n${lines(req, 'CSeq')[0]}\r\n` +
    `Contact: <sip:callee@${WARM_UP_UAS.address}:${WARM_UP_UAS.port}>\r\nContent-Length: 0\r\n\r\n`
  );
}

function inDialog(method: string, n: number, cseq: number): string {
  const { address: ua, port: up } = WARM_UP_UAC;
  const { address: sa, port: sp } = WARM_UP_UAS;
  return (
    `${method} sip:callee@${sa}:${sp} SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP ${ua}:${up};branch=z9hG4bK-${n}-${cseq}-${method}\r\n` +
    `Route: <sip:${PROXY.address}:${PROXY.port};lr>\r\n` +
    `From: caller <sip:caller@${ua}:${up}>;tag=${n}t001\r\n` +
    `To: <sip:callee@${sa}:${sp}>;tag=uas${n}\r\n` +
    `Call-ID: ${n}-warm-up@${ua}\r\n` +
    `CSeq: ${cseq} ${method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`
  );
}

/** One complete call through the proxy behind `t`; false when the proxy did not relay (stop warming). */
export function syntheticCall(t: LoopbackFakeUdp, n: number): boolean {
  t.receive(invite(n), WARM_UP_UAC);
  const fwd = t.take(WARM_UP_UAS.port);
  if (fwd === null) return false;
  t.receive(response(fwd, '100 Trying', ''), WARM_UP_UAS);
  t.receive(response(fwd, '180 Ringing', `uas${n}`), WARM_UP_UAS);
  t.receive(response(fwd, '200 OK', `uas${n}`), WARM_UP_UAS);
  t.out.length = 0;
  t.receive(inDialog('ACK', n, 1), WARM_UP_UAC);
  t.receive(inDialog('BYE', n, 2), WARM_UP_UAC);
  const bye = t.take(WARM_UP_UAS.port);
  if (bye === null) return false;
  t.receive(response(bye, '200 OK', `uas${n}`), WARM_UP_UAS);
  t.out.length = 0;
  return true;
}

/** The throw-away stack's config: the standard route in memory, nothing external, no edge guards. */
function warmUpConfig(config: ProxyConfig): ProxyConfig {
  return parseConfig({
    listen: ['udp:127.0.0.1:5060'],
    admin: { listen: '' },
    logLevel: 'silent',
    maxMessageSize: config.maxMessageSize,
    relayMode: config.relayMode,
    // Calls in a tight loop look like overload and like a flood: those guards are not what is warmed.
    overload: { enabled: false },
    pike: { enabled: false },
  });
}

/**
 * Runs `calls` synthetic calls through a throw-away proxy stack (config `warmUpCalls`). Returns
 * how many completed; never throws (a failed warm-up only means a slower first second).
 */
export async function warmUp(config: ProxyConfig, calls: number): Promise<number> {
  if (calls <= 0) return 0;
  let done = 0;
  try {
    let fake: LoopbackFakeUdp | null = null;
    const proxy = await startProxy(warmUpConfig(config), silentLogger, {
      transports: (host) => [(fake = new LoopbackFakeUdp(host))],
      accounting: null,
    });
    try {
      const t = fake!;
      while (done < calls) {
        // A few hundred calls per turn: timers and other work of the process still run between.
        for (let i = 0; i < 250 && done < calls; i++, done++) if (!syntheticCall(t, done)) return done;
        await nextTurn();
      }
    } finally {
      await proxy.close();
    }
  } catch {
    // A warm-up that cannot run changes nothing but the first second's latency.
  }
  return done;
}
