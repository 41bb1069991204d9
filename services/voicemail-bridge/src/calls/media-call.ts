/**
 * What both kinds of call (leaving a message, listening to the mailbox) share: the INVITE
 * dialog, the negotiated RTP session, re-INVITE (RFC 3264 §8: new offer in the dialog, same
 * port, o= version +1; a refused re-offer leaves the session as it was, RFC 3261 §14.2),
 * DTMF by RFC 4733 and by SIP INFO (application/dtmf-relay, application/dtmf), BYE in both
 * directions, and one `end()` that releases every resource exactly once.
 */
import { TimerEntry, type ServerTransaction, type SipRequest, type SipResponse } from '@voip/sip';
import type { G711Law } from '../media/g711.js';
import type { RtpHeader } from '../media/rtp-packet.js';
import type { RtpSession, RtpSessionListener } from '../media/rtp-session.js';
import { buildAnswer, negotiate, parseSdp, type NegotiatedMedia, type SessionDescription } from '../sdp/sdp.js';
import type { Dialog } from '../sip/dialog.js';
import type { DialogUsage, RequestOwner } from '../sip/user-agent.js';
import type { CallContext } from './call-context.js';

export const TIMER_MAX_LENGTH = 1;
export const TIMER_IDLE = 2;

export type CallEnd = 'caller-bye' | 'our-bye' | 'no-ack' | 'cancelled' | 'shutdown' | 'error';

/** What an INVITE offered, already negotiated. */
export interface AcceptedOffer {
  offer: SessionDescription;
  media: NegotiatedMedia;
}

export type OfferResult = { ok: true; accepted: AcceptedOffer } | { ok: false; status: 400 | 488; reason: string };

/** Parses and negotiates an SDP offer body. */
export function acceptOffer(req: SipRequest): OfferResult {
  const ct = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (req.body.length === 0 || ct !== 'application/sdp') return { ok: false, status: 488, reason: 'no SDP offer' };
  const parsed = parseSdp(req.body);
  if (!parsed.ok) return { ok: false, status: 400, reason: parsed.reason };
  const n = negotiate(parsed.sdp);
  if (!n.ok) return { ok: false, status: 488, reason: n.reason };
  return { ok: true, accepted: { offer: parsed.sdp, media: n.media } };
}

/** Sending is off while the far end holds (sendonly/inactive, or the RFC 2543 c=0.0.0.0). */
function sends(m: NegotiatedMedia): boolean {
  return (m.direction === 'sendrecv' || m.direction === 'sendonly') && m.remoteAddress !== '0.0.0.0' && m.remotePort !== 0;
}

class ByeOwner implements RequestOwner {
  onFinalResponse(): void {
    // The dialog ended when the BYE was sent (RFC 3261 §15); its answer changes nothing.
  }
}
const BYE_OWNER = new ByeOwner();

export abstract class MediaCall implements DialogUsage, RtpSessionListener {
  readonly ctx: CallContext;
  readonly dialog: Dialog;
  readonly rtp: RtpSession;
  readonly inviteTx: ServerTransaction;
  readonly sessionId: string;
  protected media: NegotiatedMedia;
  protected offer: SessionDescription;
  protected sdpVersion: number;
  protected readonly maxTimer: TimerEntry;
  protected readonly idleTimer: TimerEntry;
  ended: boolean;
  protected codec: G711Law;

  constructor(ctx: CallContext, tx: ServerTransaction, dialog: Dialog, rtp: RtpSession, accepted: AcceptedOffer) {
    this.ctx = ctx;
    this.inviteTx = tx;
    this.dialog = dialog;
    this.rtp = rtp;
    this.offer = accepted.offer;
    this.media = accepted.media;
    this.codec = accepted.media.codec.name;
    this.sessionId = String(Date.now());
    this.sdpVersion = 1;
    this.maxTimer = new TimerEntry(this, TIMER_MAX_LENGTH);
    this.idleTimer = new TimerEntry(this, TIMER_IDLE);
    this.ended = false;
    rtp.setListener(this);
    this.applyMedia();
  }

  private applyMedia(): void {
    const m = this.media;
    this.codec = m.codec.name;
    this.rtp.setTarget({ address: m.remoteAddress, port: m.remotePort, codec: m.codec.name, payloadType: m.codec.payloadType, telephoneEvent: m.telephoneEvent, send: sends(m) });
  }

  /** Our SDP answer for the current offer. */
  answerBody(): Buffer {
    return buildAnswer(this.offer, this.media, { sessionId: this.sessionId, version: this.sdpVersion, address: this.ctx.mediaAdvertise, port: this.rtp.localPort });
  }

  /** Sends the 200 with our answer; false when the INVITE was cancelled first. */
  answerCall(): boolean {
    return this.ctx.ua.answer(this.inviteTx, this.dialog, this.answerBody(), [['Content-Type', 'application/sdp']]);
  }

  // ---- DialogUsage -------------------------------------------------------------------

  onDialogRequest(tx: ServerTransaction, dialog: Dialog): void {
    const m = tx.request.method;
    if (this.ended) {
      this.ctx.ua.respondInDialog(tx, dialog, 481, 'Call/Transaction Does Not Exist');
      return;
    }
    switch (m) {
      case 'BYE':
        this.onBye(tx);
        return;
      case 'INVITE':
        this.onReInvite(tx);
        return;
      case 'INFO':
        this.onInfo(tx);
        return;
      case 'OPTIONS':
        this.ctx.ua.respondInDialog(tx, dialog, 200, 'OK');
        return;
      default:
        this.ctx.ua.respondInDialog(tx, dialog, 405, 'Method Not Allowed');
    }
  }

  onAck(): void {
    // RFC 3264 §4: an ACK carries an answer only after an offer-less INVITE, which we refuse.
  }

  onDialogFailed(_dialog: Dialog, why: string): void {
    if (why === 'no ACK') {
      // §13.3.1.4: the session is confirmed but must be ended with a BYE.
      void this.finish('no-ack', true);
    } else {
      void this.finish('shutdown', false);
    }
  }

  /** RFC 3261 §14.2: a re-INVITE; a new offer we cannot take is 488 and the old session stays. */
  private onReInvite(tx: ServerTransaction): void {
    if (tx.request.body.length === 0) {
      // An offer-less re-INVITE: our current description is the offer in the 200 (§14.2).
      this.sdpVersion++;
      this.ctx.ua.answer(tx, this.dialog, this.answerBody(), [['Content-Type', 'application/sdp']]);
      return;
    }
    const r = acceptOffer(tx.request);
    if (!r.ok) {
      this.ctx.ua.respondInDialog(tx, this.dialog, r.status, r.status === 400 ? 'Bad Request - Malformed SDP' : 'Not Acceptable Here', [['Warning', `305 voicemail "${r.reason.slice(0, 100)}"`]]);
      return;
    }
    this.offer = r.accepted.offer;
    this.media = r.accepted.media;
    this.sdpVersion++;
    this.dialog.refreshTarget(tx.request);
    this.applyMedia();
    this.ctx.ua.answer(tx, this.dialog, this.answerBody(), [['Content-Type', 'application/sdp']]);
  }

  /** SIP INFO DTMF: application/dtmf-relay (`Signal=#`) or application/dtmf (`#`). */
  private onInfo(tx: ServerTransaction): void {
    const ct = (tx.request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const body = tx.request.body.toString('latin1');
    let digit: string | null = null;
    if (ct === 'application/dtmf-relay') {
      const m = /^\s*signal\s*=\s*([0-9*#A-Da-d])\s*$/im.exec(body.slice(0, 256));
      digit = m === null ? null : m[1]!.toUpperCase();
    } else if (ct === 'application/dtmf') {
      const t = body.trim();
      digit = /^[0-9*#A-Da-d]$/.test(t) ? t.toUpperCase() : /^(1[0-5]|[0-9])$/.test(t) ? '0123456789*#ABCD'[Number(t)]! : null;
    }
    if (digit === null) {
      this.ctx.ua.respondInDialog(tx, this.dialog, 415, 'Unsupported Media Type', [['Accept', 'application/dtmf-relay, application/dtmf']]);
      return;
    }
    this.ctx.ua.respondInDialog(tx, this.dialog, 200, 'OK');
    this.onDigit(digit);
  }

  /** The caller hung up. Subclasses may delay the 200 until their data is safe. */
  protected onBye(tx: ServerTransaction): void {
    void this.finish('caller-bye', false).then(() => this.ctx.ua.respondInDialog(tx, this.dialog, 200, 'OK'));
  }

  /** Sends BYE (we end the call). */
  protected sendBye(): void {
    const req = this.dialog.createRequest('BYE');
    this.ctx.ua.send(req, BYE_OWNER, { protocol: this.dialog.source.protocol, address: this.dialog.source.address, port: this.dialog.source.port });
  }

  /** Releases media, timers and the dialog; `bye` sends our BYE first. */
  protected release(bye: boolean): void {
    if (bye) this.sendBye();
    this.ctx.wheel.cancel(this.maxTimer);
    this.ctx.wheel.cancel(this.idleTimer);
    this.rtp.close();
    this.ctx.releasePort(this.rtp.localPort);
    this.ctx.ua.endDialog(this.dialog);
    this.ctx.callEnded(this);
  }

  // ---- media -----------------------------------------------------------------------------

  abstract onAudio(h: RtpHeader, packet: Buffer): void;
  abstract onDigit(digit: string): void;
  abstract onPlaybackDone(): void;
  abstract onTimer(kind: number): void;
  /** Starts the call after the 200 went out. */
  abstract start(): void;
  /** Ends the call once (idempotent); resolves when whatever must be durable is. */
  abstract finish(how: CallEnd, bye: boolean): Promise<void>;
}

export type { SipResponse };
