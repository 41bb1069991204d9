/**
 * The Asterisk backend: Asterisk does the media (the book's VoiceMail(b…)/VoiceMail(u…)),
 * the bridge keeps it provisioned and relays its state. It writes voicemail.conf from the
 * subscribers and reloads app_voicemail over AMI, turns AMI `MessageWaiting` events into
 * MWI NOTIFYs (to subscribers of the bridge, or unsolicited through the proxy), and serves
 * the HTTP API from Asterisk's spool. Calls themselves go from the proxy to Asterisk.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger, ServerTransaction } from '@voip/sip';
import type { VoicemailConfig } from '../config.js';
import { writeFileAtomic } from '../mailbox/mailbox-store.js';
import type { MwiNotifier } from '../mwi/mwi-notifier.js';
import type { RequestHandler, UserAgent } from '../sip/user-agent.js';
import type { SubscriberDirectory } from '../subscribers/subscriber-directory.js';
import { AmiClient, type AmiListener, type AmiPacket } from './ami-client.js';
import { AsteriskSpool } from './asterisk-spool.js';
import { renderVoicemailConf } from './voicemail-conf.js';

/** SUBSCRIBE goes to the notifier; calls belong on Asterisk (the proxy routes them there). */
class AsteriskRequestHandler implements RequestHandler {
  constructor(
    readonly ua: UserAgent,
    readonly mwi: MwiNotifier,
  ) {}
  onInvite(tx: ServerTransaction): void {
    this.ua.rejectWith(tx, 404, 'Not Found - Voicemail Calls Go To Asterisk');
  }
  onInviteCancelled(): void {}
  onSubscribe(tx: ServerTransaction): void {
    this.mwi.onSubscribe(tx);
  }
}

export class AsteriskBackend implements AmiListener {
  readonly spool: AsteriskSpool;
  private readonly cfg: VoicemailConfig['asterisk'];
  private readonly directory: SubscriberDirectory;
  private readonly log: Logger;
  private readonly ami: AmiClient;
  private lastConf: string | null;
  private readonly recording: { maxSeconds: number; minSeconds: number };

  constructor(cfg: VoicemailConfig['asterisk'], directory: SubscriberDirectory, log: Logger, recording = { maxSeconds: 180, minSeconds: 1 }) {
    this.cfg = cfg;
    this.directory = directory;
    this.log = log.child({ layer: 'asterisk' });
    this.spool = new AsteriskSpool(cfg.spool, cfg.context);
    this.ami = new AmiClient({ host: cfg.ami.address, port: cfg.ami.port, username: cfg.username, secret: cfg.secret, log: this.log });
    this.ami.setListener(this);
    this.spool.refresh = (mailbox) => void this.ami.action('VoicemailRefresh', { Context: cfg.context, Mailbox: mailbox }).catch(() => {});
    this.lastConf = null;
    this.recording = recording;
  }

  get amiConnected(): boolean {
    return this.ami.connected;
  }

  requestHandler(ua: UserAgent, mwi: MwiNotifier): RequestHandler {
    return new AsteriskRequestHandler(ua, mwi);
  }

  async start(): Promise<void> {
    await this.provision();
    this.ami.start();
  }

  /** Writes voicemail.conf when the subscriber set changed and asks Asterisk to reload it. */
  async provision(): Promise<void> {
    const { text, skipped } = renderVoicemailConf(this.directory.all(), { context: this.cfg.context, ...this.recording });
    if (skipped.length > 0) this.log.warn({ skipped }, 'subscribers without an Asterisk mailbox (name not allowed or duplicate username)');
    if (this.lastConf === null) {
      try {
        this.lastConf = await readFile(this.cfg.voicemailConf, 'utf8');
      } catch {
        this.lastConf = '';
      }
    }
    if (text === this.lastConf) return;
    const dir = dirname(this.cfg.voicemailConf);
    await mkdir(dir, { recursive: true });
    // World-readable: Asterisk runs as its own user (the file is no secret: PINs are unused).
    await writeFileAtomic(this.cfg.voicemailConf, dir, text, 0o644);
    this.lastConf = text;
    this.log.info({ file: this.cfg.voicemailConf, mailboxes: this.directory.size - skipped.length }, 'voicemail.conf written');
    if (this.ami.connected) await this.reload();
  }

  private async reload(): Promise<void> {
    try {
      const r = await this.ami.action('Reload', { Module: 'app_voicemail' });
      if ((r.response ?? '').toLowerCase() !== 'success') this.log.warn({ message: r.message }, 'app_voicemail reload refused');
    } catch (err) {
      this.log.warn({ err }, 'app_voicemail reload failed');
    }
  }

  onAmiConnected(): void {
    // Asterisk may have started with an older file.
    void this.reload();
  }

  /** `Event: MessageWaiting` (Mailbox: alice@default, Waiting, New, Old) → MWI. */
  onAmiEvent(ev: AmiPacket): void {
    if (ev.event?.toLowerCase() !== 'messagewaiting') return;
    const mb = ev.mailbox ?? '';
    const at = mb.indexOf('@');
    const user = at < 0 ? mb : mb.slice(0, at);
    const context = at < 0 ? 'default' : mb.slice(at + 1);
    if (context !== this.cfg.context) return;
    const sub = this.directory.resolve(user, []);
    if (sub === null) return;
    const newMessages = Number(ev.new);
    const oldMessages = Number(ev.old);
    if (Number.isFinite(newMessages) && Number.isFinite(oldMessages)) {
      this.spool.changed(sub.username, sub.domain, { newMessages, oldMessages });
    } else {
      void this.spool.counts(sub.username, sub.domain).then((c) => this.spool.changed(sub.username, sub.domain, c));
    }
  }

  async stop(): Promise<void> {
    this.ami.stop();
  }
}
