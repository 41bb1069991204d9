/**
 * Leaving a message (the book's `VoiceMail(b…)` / `VoiceMail(u…)`): greeting, beep, then the
 * caller's RTP is reordered and written to WAV until BYE, `#`, or the maximum length. The
 * message is committed durably before the 200 to the caller's BYE, so an acknowledged
 * hang-up never loses it; recordings below the minimum length are dropped.
 */
import type { ServerTransaction } from '@voip/sip';
import { decodeG711 } from '../media/g711.js';
import { JitterBuffer, type SampleSink } from '../media/jitter-buffer.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import type { RtpSession } from '../media/rtp-session.js';
import type { WavFileWriter } from '../media/wav.js';
import type { Subscriber } from '../subscribers/subscriber-directory.js';
import type { Dialog } from '../sip/dialog.js';
import type { CallContext } from './call-context.js';
import { MediaCall, TIMER_MAX_LENGTH, type AcceptedOffer, type CallEnd } from './media-call.js';

type DepositState = 'greeting' | 'recording' | 'done';

export interface DepositInfo {
  mailbox: Subscriber;
  reason: 'busy' | 'unavailable';
  caller: string;
  callerName: string | null;
  /** Greeting samples (uploaded or default) followed by the beep. */
  greeting: Int16Array;
}

/** Decodes released packets into the WAV writer. */
class WavSink implements SampleSink {
  private readonly scratch: Int16Array;
  constructor(
    readonly writer: WavFileWriter,
    readonly call: DepositCall,
  ) {
    this.scratch = new Int16Array(1024);
  }
  writeEncoded(payload: Uint8Array): void {
    let off = 0;
    while (off < payload.length) {
      const n = Math.min(this.scratch.length, payload.length - off);
      decodeG711(this.call.law, payload.subarray(off, off + n), this.scratch);
      this.writer.write(this.scratch, 0, n);
      off += n;
    }
  }
  writeSilence(samples: number): void {
    this.writer.writeSilence(samples);
  }
}

export class DepositCall extends MediaCall {
  readonly info: DepositInfo;
  private state: DepositState;
  private writer: WavFileWriter | null;
  private jitter: JitterBuffer | null;
  private finishing: Promise<void> | null;
  private readonly receivedAt: Date;

  constructor(ctx: CallContext, tx: ServerTransaction, dialog: Dialog, rtp: RtpSession, accepted: AcceptedOffer, info: DepositInfo) {
    super(ctx, tx, dialog, rtp, accepted);
    this.info = info;
    this.state = 'greeting';
    this.writer = null;
    this.jitter = null;
    this.finishing = null;
    this.receivedAt = new Date();
  }

  get law(): 'PCMU' | 'PCMA' {
    return this.codec;
  }

  start(): void {
    this.rtp.play(this.info.greeting);
  }

  onPlaybackDone(): void {
    if (this.state === 'greeting') this.startRecording();
  }

  private startRecording(): void {
    if (this.state !== 'greeting' || this.ended) return;
    this.state = 'recording';
    this.rtp.stopPlayback();
    try {
      this.writer = this.ctx.mailboxes.beginRecording();
    } catch (err) {
      this.ctx.log.error({ err, callId: this.dialog.callId }, 'cannot open recording file');
      void this.finish('error', true);
      return;
    }
    this.jitter = new JitterBuffer(new WavSink(this.writer, this), this.ctx.settings.reorderDepth);
    this.ctx.wheel.schedule(this.maxTimer, this.ctx.settings.maxRecordingSeconds * 1000);
  }

  onAudio(h: RtpHeader, packet: Buffer): void {
    if (this.state !== 'recording' || this.jitter === null) return;
    this.jitter.push(h.ssrc, h.sequence, h.timestamp, packet.subarray(h.payloadOffset, h.payloadOffset + h.payloadLength));
  }

  onDigit(digit: string): void {
    if (this.state === 'greeting') {
      // Any key skips the greeting to the beep.
      this.rtp.stopPlayback();
      this.rtp.play(this.ctx.prompts.get('beep'));
      this.state = 'greeting';
      return;
    }
    // RFC 4733 / INFO `#` ends the recording; we hang up once the message is stored.
    if (digit === '#' && this.state === 'recording') void this.finish('our-bye', true);
  }

  onTimer(kind: number): void {
    if (kind === TIMER_MAX_LENGTH && this.state === 'recording') {
      this.ctx.log.info({ callId: this.dialog.callId }, 'maximum message length reached');
      void this.finish('our-bye', true);
    }
  }

  finish(how: CallEnd, bye: boolean): Promise<void> {
    if (this.finishing !== null) return this.finishing;
    this.finishing = this.doFinish(how, bye);
    return this.finishing;
  }

  private async doFinish(how: CallEnd, bye: boolean): Promise<void> {
    this.ended = true;
    const wasRecording = this.state === 'recording';
    this.state = 'done';
    this.rtp.stopPlayback();
    this.rtp.setListener(null);
    const writer = this.writer;
    this.writer = null;
    if (wasRecording && writer !== null) {
      this.jitter?.drain();
      const seconds = writer.samples / 8000;
      try {
        if (seconds < this.ctx.settings.minRecordingSeconds) {
          await this.ctx.mailboxes.discardRecording(writer);
          this.ctx.observer.onRecordingDropped('too-short');
          this.ctx.log.info({ callId: this.dialog.callId, seconds }, 'recording below minimum length dropped');
        } else {
          const m = await this.ctx.mailboxes.commit(
            this.info.mailbox.username,
            this.info.mailbox.domain,
            writer,
            { caller: this.info.caller, callerName: this.info.callerName, reason: this.info.reason, callId: this.dialog.callId },
            this.receivedAt,
          );
          this.ctx.observer.onMessageRecorded(m.duration_s);
          this.ctx.log.info({ callId: this.dialog.callId, mailbox: `${this.info.mailbox.username}@${this.info.mailbox.domain}`, id: m.id, seconds: m.duration_s }, 'message stored');
        }
      } catch (err) {
        this.ctx.observer.onRecordingDropped('error');
        this.ctx.log.error({ err, callId: this.dialog.callId }, 'message could not be stored');
      }
    }
    this.ctx.observer.onCallEnded('deposit', how);
    this.release(bye);
  }
}
