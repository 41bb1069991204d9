/**
 * Shared pieces of the rtp-relay suites: start the relay as a real process (optionally in a
 * network namespace), talk ng to it, and RTP endpoints that stream G.711 (20 ms, 160-byte
 * payload, RFC 3551 §4.5.14) and count what comes back.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { NgClient } from '@voip/rtpproxy';
import { allocatePort, ManagedProcess, NativeProgram, serviceEntry, type Backend, type ProgramHandle, type WorkDir } from '../harness/index.js';

export interface RelayOptions {
  readonly mediaIp: readonly string[];
  readonly ports: readonly [number, number];
  readonly timeout?: number;
  readonly maxSessions?: number;
  readonly workers?: number;
  /** Run inside this network namespace (ip netns exec); ng then listens on ngHost there. */
  readonly netns?: string;
  readonly ngHost?: string;
  /**
   * Start it through this backend (`rtp-relay` of harness/programs.ts: a local process, or
   * the node image's rtp-relay in the containers backend) instead of as a local process of
   * its own. Not with `netns`.
   */
  readonly lab?: Backend;
}

export interface RunningRelay {
  readonly proc: ProgramHandle;
  readonly ng: NgClient;
  readonly ngPort: number;
  readonly httpPort: number;
  stop(): Promise<void>;
}

/** A random 200-port media range below the harness's SIP ports and the ephemeral range. */
export function mediaPortRange(size = 200): [number, number] {
  const base = 10_000 + 2 * Math.floor(Math.random() * ((9_800 - size) / 2));
  return [base, base + size - 1];
}

export async function startRelay(work: WorkDir, name: string, o: RelayOptions): Promise<RunningRelay> {
  const ngHost = o.ngHost ?? '127.0.0.1';
  // A namespace of the test's own is empty: any port is free there (and not checkable from here).
  const ngPort = o.netns === undefined ? await allocatePort(ngHost) : 22_222;
  const httpPort = await allocatePort('127.0.0.1');
  const args = [
    '--ng', `udp:${isIP(ngHost) === 6 ? `[${ngHost}]` : ngHost}:${ngPort}`,
    ...o.mediaIp.flatMap((m) => ['--media-ip', m]),
    '--ports', `${o.ports[0]}-${o.ports[1]}`,
    '--http', o.netns === undefined ? `127.0.0.1:${httpPort}` : 'off',
    '--log-level', 'info',
    ...(o.timeout !== undefined ? ['--timeout', String(o.timeout)] : []),
    ...(o.maxSessions !== undefined ? ['--max-sessions', String(o.maxSessions)] : []),
    ...(o.workers !== undefined ? ['--workers', String(o.workers)] : []),
  ];
  let proc: ProgramHandle;
  if (o.lab !== undefined) {
    if (o.netns !== undefined) throw new Error('startRelay: a backend-started relay cannot run in a network namespace of the test');
    // A container's first start (image check, engine) takes longer than a local spawn.
    proc = await o.lab.startProgram('rtp-relay', args, { readyPattern: /rtp-relay ready/, readyTimeoutMs: o.lab.name === 'native' ? 10_000 : 60_000 });
  } else {
    const relayArgs = ['--enable-source-maps', serviceEntry('rtpproxy'), ...args];
    const local = await ManagedProcess.launch({
      name,
      command: o.netns === undefined ? process.execPath : 'ip',
      args: o.netns === undefined ? relayArgs : ['netns', 'exec', o.netns, process.execPath, ...relayArgs],
      logFile: work.file(`${name}.log`),
    });
    await local.waitForOutput(/rtp-relay ready/, 10_000);
    proc = new NativeProgram(local);
  }
  const ng = new NgClient(ngHost, ngPort, { timeoutMs: 1000, tries: 3 });
  return {
    proc,
    ng,
    ngPort,
    httpPort,
    async stop() {
      ng.close();
      await proc.stop();
    },
  };
}

export function sdpBody(ip: string, port: number, opts: { sessionName?: string; extra?: string } = {}): string {
  const t = isIP(ip) === 6 ? 'IP6' : 'IP4';
  return [
    'v=0',
    `o=- 3711 3711 IN ${t} ${ip}`,
    `s=${opts.sessionName ?? 'it'}`,
    `c=IN ${t} ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=sendrecv',
    ...(opts.extra ? [opts.extra] : []),
    '',
  ].join('\r\n');
}

/** The relay port and address written into a rewritten SDP. */
export function anchorOf(sdp: string): { address: string; port: number; rtcpPort: number | null } {
  const c = /\r\nc=IN IP[46] ([^\r\n]+)\r\n/.exec(sdp);
  const m = /\r\nm=audio (\d+) /.exec(sdp);
  const r = /\r\na=rtcp:(\d+)/.exec(sdp);
  if (c === null || m === null) throw new Error(`no c=/m= in SDP:\n${sdp}`);
  return { address: c[1], port: Number(m[1]), rtcpPort: r === null ? null : Number(r[1]) };
}

/** One RTP party: a UDP socket that streams G.711 packets and counts what it receives. */
export class RtpEndpoint {
  readonly socket: Socket;
  received: number;
  readonly sources: Set<string>;
  private seq: number;
  private readonly ssrc: number;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.received = 0;
    this.sources = new Set();
    this.seq = 0;
    this.ssrc = Math.floor(Math.random() * 0xffffffff);
    socket.on('message', (_m, r) => {
      this.received++;
      this.sources.add(`${r.address}:${r.port}`);
    });
  }

  static async bind(ip: string, port = 0): Promise<RtpEndpoint> {
    const s = createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, ip, () => {
        s.off('error', reject);
        resolve();
      });
    });
    // A send to an unreachable private address must not crash the test process.
    s.on('error', () => undefined);
    return new RtpEndpoint(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  packet(): Buffer {
    const p = Buffer.alloc(12 + 160, 0xff);
    p[0] = 0x80; // RFC 3550 §5.1: V=2, no padding/extension/CSRC
    p[1] = 0; // PT 0 = PCMU
    p.writeUInt16BE(this.seq & 0xffff, 2);
    p.writeUInt32BE((this.seq * 160) >>> 0, 4);
    p.writeUInt32BE(this.ssrc, 8);
    this.seq++;
    return p;
  }

  send(address: string, port: number): void {
    this.socket.send(this.packet(), port, address);
  }

  /** Sends `count` packets at 50 packets/s (one every 20 ms). */
  async stream(address: string, port: number, count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      this.send(address, port);
      await sleep(20);
    }
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `fn` until it returns a non-null value or the time is up. */
export async function waitFor<T>(what: string, timeoutMs: number, fn: () => Promise<T | null> | T | null): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface StreamStats {
  'local port': number;
  endpoint: { address?: string; port?: number };
  stats: { packets: number; bytes: number; errors: number };
}

/** The RTP stream entries of one tag from a "query" reply. */
export function rtpStreamOf(query: Record<string, unknown>, tag: string): StreamStats {
  const tags = query['tags'] as Record<string, { medias: { streams: StreamStats[] }[] }>;
  const t = tags[tag];
  if (t === undefined) throw new Error(`tag ${tag} not in query reply: ${Object.keys(tags).join(', ')}`);
  return t.medias[0].streams[0];
}
