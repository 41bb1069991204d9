/**
 * Small network helpers for the benchmarks: picking free UDP ports (another engineer's Kamailio
 * may already hold 5060 or any fixed port on this shared machine) and a SIP liveness probe.
 */
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';

/** Binds an ephemeral UDP port on `host`, closes it and returns its number. */
export function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', reject);
    s.bind(0, host, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** A TCP port the kernel just handed out as free (a proxy's admin API, an inspector). */
export function freeTcpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const a = s.address();
      s.close(() => (a !== null && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

/** `count` distinct free UDP ports on `host`. */
export async function freeUdpPorts(host: string, count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freeUdpPort(host));
  return [...ports];
}

export interface ProbeOptions {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  /** Gives up early (e.g. the server process exited); checked between tries. */
  readonly abort?: () => string | null;
}

/**
 * Builds the probe: OPTIONS with Max-Forwards: 0. RFC 3261 §16.3 step 3: a proxy answers 483
 * (or, for OPTIONS, may answer 200 itself, §11) instead of forwarding, so any response proves the
 * SIP layer of the process on that port is up, without a request leaving the proxy.
 */
export function buildProbe(host: string, port: number, localPort: number): Buffer {
  const branch = `z9hG4bK-probe-${randomBytes(6).toString('hex')}`;
  const tag = randomBytes(4).toString('hex');
  const hp = host.includes(':') ? `[${host}]` : host;
  return Buffer.from(
    `OPTIONS sip:probe@${hp}:${port} SIP/2.0\r\n` +
      `Via: SIP/2.0/UDP ${hp}:${localPort};branch=${branch};rport\r\n` +
      `From: <sip:bench@${hp}>;tag=${tag}\r\n` +
      `To: <sip:probe@${hp}:${port}>\r\n` +
      `Call-ID: probe-${branch}\r\n` +
      'CSeq: 1 OPTIONS\r\n' +
      'Max-Forwards: 0\r\n' +
      'Content-Length: 0\r\n\r\n',
  );
}

/** Resolves with the status line of the first SIP response; rejects on timeout or abort. */
export function waitForSipResponder(opts: ProbeOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket(opts.host.includes(':') ? 'udp6' : 'udp4');
    const deadline = Date.now() + opts.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null, line?: string): void => {
      clearTimeout(timer);
      s.close();
      if (err !== null) reject(err);
      else resolve(line!);
    };
    const tick = (): void => {
      const why = opts.abort?.() ?? null;
      if (why !== null) return finish(new Error(why));
      if (Date.now() > deadline) {
        return finish(new Error(`BENCH_ERR_NOT_READY: no SIP response from ${opts.host}:${opts.port} in ${opts.timeoutMs} ms`));
      }
      s.send(buildProbe(opts.host, opts.port, s.address().port), opts.port, opts.host);
      timer = setTimeout(tick, 200);
    };
    s.on('message', (msg) => {
      const text = msg.toString('latin1', 0, Math.min(msg.length, 200));
      if (text.startsWith('SIP/2.0 ')) finish(null, text.slice(0, text.indexOf('\r')));
    });
    s.once('error', (err) => finish(err));
    s.bind(0, opts.host, tick);
  });
}
