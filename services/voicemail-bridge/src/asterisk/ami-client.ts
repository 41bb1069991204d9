/**
 * A small Asterisk Manager Interface client over node:net (AMI is line-based: packets of
 * `Key: Value` lines ended by an empty line). It logs in, sends actions with an ActionID and
 * resolves each with its Response packet, passes events to a listener, and reconnects with
 * backoff when Asterisk restarts. Input is capped and scanned line by line; a peer that
 * sends garbage only loses its connection.
 */
import { connect, type Socket } from 'node:net';
import type { Logger } from '@voip/sip';
import { VoicemailError } from '../errors.js';

export type AmiPacket = Record<string, string>;

export interface AmiListener {
  onAmiEvent(ev: AmiPacket): void;
  onAmiConnected(): void;
}

export interface AmiOptions {
  host: string;
  port: number;
  username: string;
  secret: string;
  log: Logger;
}

const MAX_BUFFER = 256 * 1024;
const ACTION_TIMEOUT_MS = 10_000;

interface Pending {
  resolve(p: AmiPacket): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Parses complete packets from `text`; returns them and the unconsumed rest. */
export function splitAmiPackets(text: string): { packets: AmiPacket[]; rest: string } {
  const packets: AmiPacket[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', start);
    if (end < 0) break;
    const p: AmiPacket = {};
    for (const line of text.slice(start, end).split('\r\n')) {
      const c = line.indexOf(':');
      if (c <= 0) continue;
      p[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
    }
    packets.push(p);
    start = end + 4;
  }
  return { packets, rest: text.slice(start) };
}

export function formatAmiAction(action: string, fields: Record<string, string>, actionId: string): string {
  let s = `Action: ${action}\r\nActionID: ${actionId}\r\n`;
  for (const [k, v] of Object.entries(fields)) s += `${k}: ${v.replace(/[\r\n]/g, ' ')}\r\n`;
  return s + '\r\n';
}

export class AmiClient {
  private readonly opts: AmiOptions;
  private socket: Socket | null;
  private buffer: string;
  private readonly pending: Map<string, Pending>;
  private nextId: number;
  private listener: AmiListener | null;
  private stopped: boolean;
  private backoffMs: number;
  private reconnectTimer: NodeJS.Timeout | null;
  connected: boolean;

  constructor(opts: AmiOptions) {
    this.opts = opts;
    this.socket = null;
    this.buffer = '';
    this.pending = new Map();
    this.nextId = 1;
    this.listener = null;
    this.stopped = false;
    this.backoffMs = 500;
    this.reconnectTimer = null;
    this.connected = false;
  }

  setListener(l: AmiListener): void {
    this.listener = l;
  }

  start(): void {
    this.stopped = false;
    this.open();
  }

  private open(): void {
    const s = connect({ host: this.opts.host, port: this.opts.port });
    this.socket = s;
    this.buffer = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => this.onData(d));
    s.on('error', (err) => this.opts.log.debug({ err }, 'AMI socket error'));
    s.on('close', () => this.onClose());
    s.once('connect', () => {
      void this.action('Login', { Username: this.opts.username, Secret: this.opts.secret, Events: 'on' }).then(
        (r) => {
          if ((r.response ?? '').toLowerCase() !== 'success') {
            this.opts.log.error({ message: r.message }, 'AMI login refused');
            s.destroy();
            return;
          }
          this.connected = true;
          this.backoffMs = 500;
          this.opts.log.info({ host: this.opts.host, port: this.opts.port }, 'AMI connected');
          this.listener?.onAmiConnected();
        },
        (err: unknown) => this.opts.log.warn({ err }, 'AMI login failed'),
      );
    });
  }

  private onData(d: string): void {
    this.buffer += d;
    if (this.buffer.length > MAX_BUFFER) {
      this.opts.log.warn({}, 'AMI packet too large; reconnecting');
      this.socket?.destroy();
      return;
    }
    // The first line is the banner ("Asterisk Call Manager/x.y"), not a packet.
    if (this.buffer.startsWith('Asterisk Call Manager')) {
      const nl = this.buffer.indexOf('\r\n');
      if (nl < 0) return;
      this.buffer = this.buffer.slice(nl + 2);
    }
    const { packets, rest } = splitAmiPackets(this.buffer);
    this.buffer = rest;
    for (const p of packets) {
      const id = p.actionid;
      if (p.response !== undefined && id !== undefined) {
        const pend = this.pending.get(id);
        if (pend !== undefined) {
          this.pending.delete(id);
          clearTimeout(pend.timer);
          pend.resolve(p);
        }
      } else if (p.event !== undefined) {
        try {
          this.listener?.onAmiEvent(p);
        } catch (err) {
          this.opts.log.error({ err, event: p.event }, 'AMI event handler threw');
        }
      }
    }
  }

  private onClose(): void {
    this.connected = false;
    this.socket = null;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new VoicemailError('VM_ERR_AMI', 'connection closed'));
      this.pending.delete(id);
    }
    if (this.stopped) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.stopped) this.open();
    }, this.backoffMs);
    this.backoffMs = Math.min(this.backoffMs * 2, 10_000);
  }

  /** Sends an action; resolves with its Response packet. */
  action(action: string, fields: Record<string, string> = {}): Promise<AmiPacket> {
    const s = this.socket;
    if (s === null) return Promise.reject(new VoicemailError('VM_ERR_AMI', 'not connected'));
    const id = `vmb-${this.nextId++}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VoicemailError('VM_ERR_AMI', `${action}: no response`));
      }, ACTION_TIMEOUT_MS);
      this.pending.set(id, { resolve, reject, timer });
      s.write(formatAmiAction(action, fields, id));
    });
  }

  stop(): void {
    this.stopped = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
  }
}
