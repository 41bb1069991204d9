/**
 * Mailbox access (the book's `*98`, routed here as `<user>` with the caller's identity in
 * P-Asserted-Identity): announces the count of new messages, then by DTMF `1` plays the next
 * message, `7` deletes the current one, `9` saves it (files it under old, which turns the
 * phone's MWI lamp off once no new one is left), `#` says goodbye and hangs up. A message
 * heard but neither saved nor deleted stays new. Digits interrupt whatever is playing. Idle
 * callers are hung up.
 */
import type { ServerTransaction } from '@voip/sip';
import type { MessageInfo } from '../mailbox/mailbox-store.js';
import type { RtpSession } from '../media/rtp-session.js';
import { readWav, resampleTo8k } from '../media/wav.js';
import type { Subscriber } from '../subscribers/subscriber-directory.js';
import type { Dialog } from '../sip/dialog.js';
import type { CallContext } from './call-context.js';
import { MediaCall, TIMER_IDLE, type AcceptedOffer, type CallEnd } from './media-call.js';
import { concat } from '../media/prompts.js';

export class MailboxAccessCall extends MediaCall {
  readonly mailbox: Subscriber;
  private queue: MessageInfo[];
  private current: MessageInfo | null;
  private hangingUp: boolean;
  private finishing: Promise<void> | null;
  /** Serializes digit handling (each may touch the disk). */
  private work: Promise<void>;

  constructor(ctx: CallContext, tx: ServerTransaction, dialog: Dialog, rtp: RtpSession, accepted: AcceptedOffer, mailbox: Subscriber) {
    super(ctx, tx, dialog, rtp, accepted);
    this.mailbox = mailbox;
    this.queue = [];
    this.current = null;
    this.hangingUp = false;
    this.finishing = null;
    this.work = Promise.resolve();
  }

  start(): void {
    this.work = this.work.then(() => this.announce()).catch((err: unknown) => this.fail(err));
    this.armIdle();
  }

  private async announce(): Promise<void> {
    const all = await this.ctx.mailboxes.list(this.mailbox.username, this.mailbox.domain);
    // New messages first (oldest first), then the saved ones.
    this.queue = [...all.filter((m) => m.folder === 'new'), ...all.filter((m) => m.folder === 'old')];
    const n = all.filter((m) => m.folder === 'new').length;
    if (this.ended) return;
    this.rtp.play(concat([await this.ctx.prompts.count(n), this.ctx.prompts.get('menu')]));
  }

  private armIdle(): void {
    this.ctx.wheel.cancel(this.idleTimer);
    this.ctx.wheel.schedule(this.idleTimer, this.ctx.settings.idleSeconds * 1000);
  }

  onAudio(): void {
    // Nothing is recorded here.
  }

  onDigit(digit: string): void {
    if (this.ended || this.hangingUp) return;
    this.armIdle();
    this.rtp.stopPlayback();
    this.work = this.work.then(() => this.handleDigit(digit)).catch((err: unknown) => this.fail(err));
  }

  private async handleDigit(digit: string): Promise<void> {
    if (this.ended) return;
    const box = this.mailbox;
    switch (digit) {
      case '1': {
        const next = this.queue.shift();
        if (next === undefined) {
          this.current = null;
          this.rtp.play(this.ctx.prompts.get('end'));
          return;
        }
        this.current = next;
        const wav = await this.ctx.mailboxes.audio(box.username, box.domain, next.id);
        const r = wav === null ? null : readWav(wav);
        if (this.ended) return;
        this.rtp.play(this.ctx.prompts.get('message'));
        if (r !== null && r.ok) this.rtp.play(resampleTo8k(r.audio.samples, r.audio.sampleRate));
        return;
      }
      case '7':
        if (this.current !== null) {
          await this.ctx.mailboxes.remove(box.username, box.domain, this.current.id);
          this.current = null;
          this.rtp.play(this.ctx.prompts.get('deleted'));
        }
        return;
      case '9':
        if (this.current !== null) {
          if (this.current.folder === 'new') await this.ctx.mailboxes.markOld(box.username, box.domain, this.current.id);
          this.current = null;
          this.rtp.play(this.ctx.prompts.get('saved'));
        }
        return;
      case '#':
        this.hangingUp = true;
        this.rtp.play(this.ctx.prompts.get('goodbye'));
        return;
      default:
        this.rtp.play(this.ctx.prompts.get('menu'));
    }
  }

  onPlaybackDone(): void {
    if (this.hangingUp) void this.finish('our-bye', true);
  }

  onTimer(kind: number): void {
    if (kind === TIMER_IDLE && !this.ended) void this.finish('our-bye', true);
  }

  private fail(err: unknown): void {
    this.ctx.log.error({ err, callId: this.dialog.callId }, 'mailbox access failed');
    void this.finish('error', true);
  }

  finish(how: CallEnd, bye: boolean): Promise<void> {
    if (this.finishing !== null) return this.finishing;
    this.ended = true;
    this.rtp.setListener(null);
    this.ctx.observer.onCallEnded('access', how);
    this.release(bye);
    this.finishing = Promise.resolve();
    return this.finishing;
  }
}
