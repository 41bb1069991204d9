/**
 * Debian's baresip 1.0.0 as a phone, headless: its own config directory (no ~/.baresip),
 * a sine tone as microphone and aubridge as speaker (no sound card), and the ctrl_tcp module
 * as the remote control — JSON commands and events in netstrings over TCP
 * (`{"command":"dial","params":"sip:…"}` in, `{"event":true,"type":"CALL_ESTABLISHED",…}` out).
 * The account line has only what a new user types: address, password, outbound proxy.
 * libre binds its TLS transport on sip_listen's port + 1, so the control port is elsewhere;
 * `-n 127.0.0.1` keeps its SDP and media on loopback.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { ManagedProcess } from '../harness/index.js';

export interface BaresipOptions {
  /** Directory for config, accounts and the log. */
  dir: string;
  sipPort: number;
  ctrlPort: number;
  /** `user@domain` of the account. */
  aor: string;
  password: string;
  /** `host:port` of the proxy (outbound). */
  proxy: string;
}

export interface BaresipEvent {
  type: string;
  class?: string;
  param?: string;
  peeruri?: string;
  accountaor?: string;
}

/** menu provides the dial/hangup commands ctrl_tcp runs. */
const MODULES = ['g711.so', 'ausine.so', 'aubridge.so', 'account.so', 'menu.so', 'ctrl_tcp.so'];

export class Baresip {
  readonly events: BaresipEvent[] = [];
  private buf = Buffer.alloc(0);
  private token = 0;
  private readonly pending = new Map<string, (r: { ok: boolean; data: string }) => void>();

  private constructor(
    private readonly proc: ManagedProcess,
    private readonly sock: Socket,
  ) {
    sock.on('data', (d) => this.onData(d));
    sock.on('error', () => undefined);
  }

  static async start(o: BaresipOptions): Promise<Baresip> {
    mkdirSync(o.dir, { recursive: true });
    writeFileSync(
      join(o.dir, 'config'),
      [
        `sip_listen 127.0.0.1:${o.sipPort}`,
        'module_path /usr/lib/baresip/modules',
        ...MODULES.map((m) => `module ${m}`),
        `ctrl_tcp_listen 127.0.0.1:${o.ctrlPort}`,
        // ausine generates 48 kHz stereo only; baresip converts to the codec's 8 kHz mono.
        'audio_source ausine,440',
        'ausrc_srate 48000',
        'ausrc_channels 2',
        // aufile is a source only in 1.0.0; aubridge's player takes the audio without a device.
        'audio_player aubridge,speaker',
        'audio_alert aubridge,alert',
        'rtp_ports 40000-40100',
        '',
      ].join('\n'),
    );
    writeFileSync(join(o.dir, 'accounts'), `<sip:${o.aor}>;auth_pass=${o.password};outbound="sip:${o.proxy}";regint=600\n`);
    const proc = await ManagedProcess.launch({ name: 'baresip', command: 'baresip', args: ['-f', o.dir, '-n', '127.0.0.1'], cwd: o.dir, logFile: join(o.dir, 'baresip.log') });
    try {
      await proc.waitForOutput(/baresip is ready/, 15_000);
      const sock = await new Promise<Socket>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: o.ctrlPort });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
      return new Baresip(proc, sock);
    } catch (err) {
      await proc.stop();
      throw err;
    }
  }

  /** A ctrl_tcp command (`dial`, `hangup`, `reginfo` …); resolves with baresip's response. */
  command(command: string, params = ''): Promise<{ ok: boolean; data: string }> {
    const token = String(++this.token);
    const body = JSON.stringify({ command, params, token });
    return new Promise((resolve) => {
      this.pending.set(token, resolve);
      this.sock.write(`${Buffer.byteLength(body)}:${body},`);
    });
  }

  /**
   * Waits until the account is registered. The REGISTER_OK event may come before the control
   * connection is up, so the registration state is also asked for (`reginfo`: `… OK` once the
   * registrar answered 200).
   */
  async waitRegistered(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const failed = this.events.find((e) => e.type === 'REGISTER_FAIL');
      if (failed) throw new Error(`baresip: registration failed: ${failed.param ?? ''}\n${this.proc.outputTail(2000)}`);
      if (this.events.some((e) => e.type === 'REGISTER_OK')) return;
      const info = await this.command('reginfo');
      // eslint-disable-next-line no-control-regex
      if (info.ok && /\bOK\b/.test(info.data.replace(/\x1b\[[0-9;]*m/g, ''))) return;
      if (Date.now() > deadline) throw new Error(`baresip: not registered within ${timeoutMs} ms: ${info.data}\n${this.proc.outputTail(2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * `dial`, repeated until baresip takes it: right after start-up its menu may still answer
   * "Operation not supported" for a moment.
   */
  async dial(uri: string, attempts = 20): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      if ((await this.command('dial', uri)).ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`baresip refused to dial ${uri}\n${this.proc.outputTail(2000)}`);
  }

  /** Resolves with the first event (already seen or coming) of one of `types`. */
  async waitForEvent(types: readonly string[], timeoutMs: number): Promise<BaresipEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => types.includes(e.type));
      if (hit) return hit;
      if (Date.now() > deadline || !this.proc.running) {
        throw new Error(`baresip: no ${types.join('/')} within ${timeoutMs} ms; events: ${this.events.map((e) => `${e.type}(${e.param ?? ''})`).join(', ')}\n${this.proc.outputTail(3000)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  logTail(): string {
    return this.proc.outputTail(4000);
  }

  async stop(): Promise<void> {
    this.sock.destroy();
    await this.proc.stop();
  }

  /** Netstrings: `LEN:JSON,` one after the other, split anywhere by TCP. */
  private onData(d: Buffer): void {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      const colon = this.buf.indexOf(0x3a);
      if (colon < 0) return;
      const len = Number(this.buf.subarray(0, colon).toString('latin1'));
      if (!Number.isInteger(len) || this.buf.length < colon + 1 + len + 1) return;
      const json = this.buf.subarray(colon + 1, colon + 1 + len).toString('utf8');
      this.buf = this.buf.subarray(colon + 1 + len + 1);
      try {
        const msg = JSON.parse(json) as BaresipEvent & { event?: boolean; response?: boolean; ok?: boolean; data?: string; token?: string };
        if (msg.event) this.events.push(msg);
        else if (msg.response && msg.token !== undefined) {
          const done = this.pending.get(msg.token);
          this.pending.delete(msg.token);
          done?.({ ok: msg.ok === true, data: msg.data ?? '' });
        }
      } catch {
        // A response to a command, or something this test does not read.
      }
    }
  }
}
