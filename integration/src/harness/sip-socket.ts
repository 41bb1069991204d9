/**
 * Raw SIP over UDP/TCP from the test process: the readiness probe (OPTIONS to the proxy
 * itself, RFC 3261 §11), the sender of hand-made messages (RFC 4475 torture tests) and a
 * "black hole" endpoint that records what it receives and never answers (timeout tests).
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SipText } from './sip-text.js';
import { HarnessError } from './errors.js';

export type SipTransport = 'udp' | 'tcp';

export interface ReceivedDatagram {
  time: number;
  from: { address: string; port: number };
  data: Buffer;
  /** Parsed view (latin1, byte-exact). */
  message: SipText;
}

function token(): string {
  return randomBytes(6).toString('hex');
}

/** An OPTIONS request addressed to the proxy itself (no user part: §11, keepalive). */
export function buildOptions(host: string, port: number, local: { address: string; port: number }, transport: SipTransport): string {
  const branch = `z9hG4bK-probe-${token()}`;
  const t = transport.toUpperCase();
  return [
    `OPTIONS sip:${host}:${port} SIP/2.0`,
    `Via: SIP/2.0/${t} ${local.address}:${local.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${local.address}:${local.port}>;tag=${token()}`,
    `To: <sip:${host}:${port}>`,
    `Call-ID: probe-${token()}@${local.address}`,
    'CSeq: 1 OPTIONS',
    `Contact: <sip:probe@${local.address}:${local.port}>`,
    'Accept: application/sdp',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/**
 * A bound UDP socket that collects every datagram it receives. Used to send torture
 * messages and read the answers, and as a never-answering UAS.
 */
export class UdpEndpoint {
  readonly received: ReceivedDatagram[] = [];
  private constructor(private readonly socket: Socket, readonly address: string, readonly port: number) {}

  static async open(address = '127.0.0.1', port = 0): Promise<UdpEndpoint> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const ep = new UdpEndpoint(socket, address, socket.address().port);
    socket.on('message', (data, rinfo) => {
      ep.received.push({
        time: Date.now(),
        from: { address: rinfo.address, port: rinfo.port },
        data,
        message: new SipText(data.toString('latin1')),
      });
    });
    // A stray ICMP error must not crash the test process.
    socket.on('error', () => undefined);
    return ep;
  }

  send(data: Buffer | string, host: string, port: number): Promise<void> {
    const buf = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve, reject) => {
      this.socket.send(buf, port, host, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Waits until `predicate` holds for a received datagram after index `from`; null on timeout. */
  async waitFor(predicate: (d: ReceivedDatagram) => boolean, timeoutMs: number, from = 0): Promise<ReceivedDatagram | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.received.slice(from).find(predicate);
      if (hit) return hit;
      if (Date.now() >= deadline) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Everything received after index `from` within `ms` (for "stays silent" checks). */
  async collect(ms: number, from = 0): Promise<ReceivedDatagram[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.slice(from);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}

/** Sends OPTIONS over TCP and resolves with the first complete response, or null on timeout. */
function optionsOverTcp(host: string, port: number, timeoutMs: number): Promise<SipText | null> {
  return new Promise((resolve) => {
    let done = false;
    let buf = '';
    const sock = connect({ host, port });
    const finish = (v: SipText | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    sock.once('error', () => finish(null));
    sock.once('connect', () => {
      sock.write(buildOptions(host, port, { address: sock.localAddress ?? host, port: sock.localPort ?? 0 }, 'tcp'));
    });
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) finish(new SipText(buf.slice(0, end + 4)));
    });
  });
}

/** One OPTIONS round trip to `host:port`; the response or null when none came in time. */
export async function sipPing(host: string, port: number, transport: SipTransport = 'udp', timeoutMs = 500): Promise<SipText | null> {
  if (transport === 'tcp') return optionsOverTcp(host, port, timeoutMs);
  const ep = await UdpEndpoint.open(host.includes(':') ? '::1' : '127.0.0.1');
  try {
    await ep.send(buildOptions(host, port, { address: ep.address, port: ep.port }, 'udp'), host, port);
    const hit = await ep.waitFor((d) => d.message.status !== null && d.message.cseqMethod === 'OPTIONS', timeoutMs);
    return hit?.message ?? null;
  } finally {
    await ep.close();
  }
}

/**
 * Polls OPTIONS until the proxy answers 200 (its readiness probe). `alive` lets the caller
 * fail fast when the process died; `describe` adds its log to the timeout error.
 */
export async function waitForSipReady(
  host: string,
  port: number,
  opts: { transport?: SipTransport; timeoutMs?: number; alive?: () => boolean; logTail?: () => string } = {},
): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (opts.alive && !opts.alive()) {
      throw new HarnessError('HARNESS_ERR_EXITED', `process exited before answering OPTIONS on ${host}:${port}`, opts.logTail?.() ?? '');
    }
    const r = await sipPing(host, port, opts.transport ?? 'udp', 300);
    if (r?.status === 200) return;
    if (r) last = r.startLine;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new HarnessError('HARNESS_ERR_TIMEOUT', `${host}:${port} did not answer OPTIONS with 200 (last: ${last})`, opts.logTail?.() ?? '');
}
