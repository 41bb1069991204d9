/**
 * The voicemail suite's fixtures: a voicemail-bridge process (our compiled bin, spawned as
 * its own process group so kill -9 is real), its HTTP API, a UDP socket standing in for the
 * caller's RTP port (it collects the greeting), and the pcaps SIPp plays.
 */
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allocatePort, allocatePorts, ManagedProcess, NativeProgram, serviceEntry, type Backend, type ProgramHandle } from '../harness/index.js';
import { soxToneUlaw } from './audio-fixtures.js';
import { dtmfPackets, g711Packets, writePcap } from './pcap-writer.js';

export const DOMAIN = 'lab.example';

export function writeSubscribers(dir: string, users: readonly string[]): string {
  const path = join(dir, 'subscribers.yaml');
  writeFileSync(path, `subscribers:\n${users.map((u) => `  - { username: ${u}, domain: ${DOMAIN}, password: secret-${u} }`).join('\n')}\n`);
  return path;
}

export interface BridgeOptions {
  dir: string;
  db: string;
  spool: string;
  sipPort?: number;
  httpPort?: number;
  /** SIP listeners before the main one (`udp:IP:PORT`); the first names the bridge in requests it originates. */
  listenFirst?: readonly string[];
  extra?: readonly string[];
  /**
   * Start it through this backend (`voicemail-bridge` of harness/programs.ts: a local
   * process, or the node image's voicemail-bridge in the containers backend; `dir` and
   * `spool` then belong in the backend's work directory, which containers see at the same
   * path). Without it: a local process group of its own (kill9() needs that).
   */
  lab?: Backend;
}

export class BridgeProcess {
  private constructor(
    readonly proc: ProgramHandle,
    /** The local process when started without a backend (for kill9). */
    private readonly local: ManagedProcess | null,
    readonly sipPort: number,
    readonly httpUrl: string,
    readonly opts: BridgeOptions,
  ) {}

  get sipAddress(): string {
    return `127.0.0.1:${this.sipPort}`;
  }

  static async start(opts: BridgeOptions): Promise<BridgeProcess> {
    const sipPort = opts.sipPort ?? (await allocatePort());
    const httpPort = opts.httpPort ?? (await allocatePort());
    const [mediaBase] = await allocatePorts(1);
    // A media range of its own per bridge, away from SIPp's and the proxy's ports.
    const min = 20000 + ((mediaBase! * 7) % 20000) * 2;
    const args = [
      '--db', opts.db,
      '--spool', opts.spool,
      ...(opts.listenFirst ?? []).flatMap((l) => ['--listen', l]),
      '--listen', `udp:127.0.0.1:${sipPort}`,
      '--http', `127.0.0.1:${httpPort}`,
      '--media-ports', `${min - (min % 2)}-${min - (min % 2) + 400}`,
      '--t1', '100',
      ...(opts.extra ?? []),
    ];
    const ready = /voicemail-bridge ready/;
    if (opts.lab !== undefined) {
      const proc = await opts.lab.startProgram('voicemail-bridge', args, { readyPattern: ready, readyTimeoutMs: opts.lab.name === 'native' ? 30_000 : 60_000 });
      return new BridgeProcess(proc, null, sipPort, `http://127.0.0.1:${httpPort}`, { ...opts, sipPort, httpPort });
    }
    const local = await ManagedProcess.launch({
      name: 'voicemail-bridge',
      command: process.execPath,
      args: ['--enable-source-maps', serviceEntry('voicemail-bridge'), ...args],
      logFile: join(opts.dir, `voicemail-bridge-${sipPort}.log`),
    });
    await local.waitForOutput(ready, 30_000);
    return new BridgeProcess(new NativeProgram(local), local, sipPort, `http://127.0.0.1:${httpPort}`, { ...opts, sipPort, httpPort });
  }

  /** The same bridge again (same ports, spool and database) after a stop or a kill. */
  restart(): Promise<BridgeProcess> {
    return BridgeProcess.start(this.opts);
  }

  kill9(): void {
    if (this.local === null) throw new Error('kill9: this bridge was started through a backend; start it without `lab`');
    this.local.killGroup('SIGKILL');
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }

  logTail(): string {
    return this.proc.logTail(3000);
  }

  async messages(user: string): Promise<{ status: number; body: VoicemailMessage[] }> {
    const r = await fetch(`${this.httpUrl}/mailboxes/${user}@${DOMAIN}/messages`);
    return { status: r.status, body: r.status === 200 ? ((await r.json()) as VoicemailMessage[]) : [] };
  }

  async wav(user: string, id: string): Promise<Buffer> {
    const r = await fetch(`${this.httpUrl}/mailboxes/${user}@${DOMAIN}/messages/${id}.wav`);
    if (r.status !== 200) throw new Error(`GET ${id}.wav: ${r.status}`);
    return Buffer.from(await r.arrayBuffer());
  }

  async remove(user: string, id: string): Promise<number> {
    return (await fetch(`${this.httpUrl}/mailboxes/${user}@${DOMAIN}/messages/${id}`, { method: 'DELETE' })).status;
  }

  async health(): Promise<Record<string, unknown>> {
    return (await (await fetch(`${this.httpUrl}/health`)).json()) as Record<string, unknown>;
  }
}

export interface VoicemailMessage {
  id: string;
  caller: string;
  caller_name: string | null;
  received_at: string;
  duration_s: number;
  folder: 'new' | 'old';
}

/** A UDP socket posing as the caller's RTP port: keeps every RTP payload of PT `pt`. */
export class RtpSink {
  readonly packets: { seq: number; ts: number; pt: number; payload: Buffer; at: number }[] = [];
  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (m: Buffer) => {
      if (m.length < 12 || m[0]! >> 6 !== 2) return;
      this.packets.push({ seq: m.readUInt16BE(2), ts: m.readUInt32BE(4), pt: m[1]! & 0x7f, payload: Buffer.from(m.subarray(12)), at: performance.now() });
    });
  }

  static async open(): Promise<RtpSink> {
    for (;;) {
      const port = await allocatePort();
      if (port % 2 !== 0) continue;
      const s = createSocket('udp4');
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(port, '127.0.0.1', () => resolve());
        });
        return new RtpSink(s, port);
      } catch {
        s.close();
      }
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Pcaps for SIPp: a `freq` Hz tone of `seconds` (PCMU, PT 0) and a `#` (RFC 4733 event 11, PT 101). */
export function writeFixtures(dir: string, freq: number, seconds: number): { tone: string; hash: string; digit: (d: string) => string } {
  const tone = join(dir, `tone-${freq}-${seconds}.pcap`);
  writePcap(tone, g711Packets(soxToneUlaw(freq, seconds), 0));
  const hash = join(dir, 'dtmf-hash.pcap');
  writePcap(hash, dtmfPackets(11, 101));
  return {
    tone,
    hash,
    digit(d: string): string {
      const ev = '0123456789*#'.indexOf(d);
      const p = join(dir, `dtmf-${ev}.pcap`);
      writePcap(p, dtmfPackets(ev, 101));
      return p;
    },
  };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | null>, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
