/**
 * The built-in voicemail engine: turns INVITEs into calls. The R-URI user says what the
 * caller wants, exactly as the book's route builds it (ch. 8):
 *   b<user>  busy greeting, then record          (t_on_failure on 486)
 *   u<user>  unavailable greeting, then record   (no answer / not registered)
 *   <user>   mailbox access (*98), identity from P-Asserted-Identity
 * The mailbox is `<user>` in the subscriber's domain. Non-subscribers get 404, offers without
 * PCMU/PCMA 488, too many calls or no free media port 503.
 */
import { NameAddr, SipUri, type Logger, type ServerTransaction, type TimerWheel } from '@voip/sip';
import type { MailboxStore } from '../mailbox/mailbox-store.js';
import type { MediaClock } from '../media/media-clock.js';
import type { PortAllocator } from '../media/port-allocator.js';
import { concat, silence, type PromptLibrary } from '../media/prompts.js';
import { RtpSession } from '../media/rtp-session.js';
import { readWav, resampleTo8k } from '../media/wav.js';
import type { MwiNotifier } from '../mwi/mwi-notifier.js';
import type { RequestHandler, UserAgent } from '../sip/user-agent.js';
import type { Subscriber, SubscriberDirectory } from '../subscribers/subscriber-directory.js';
import type { CallContext, CallOutcomeObserver, CallSettings } from './call-context.js';
import { DepositCall } from './deposit-call.js';
import { MailboxAccessCall } from './mailbox-access-call.js';
import { acceptOffer, type AcceptedOffer, type MediaCall } from './media-call.js';

export interface EngineOptions {
  ua: UserAgent;
  wheel: TimerWheel;
  clock: MediaClock;
  ports: PortAllocator;
  mailboxes: MailboxStore;
  prompts: PromptLibrary;
  directory: SubscriberDirectory;
  mwi: MwiNotifier;
  settings: CallSettings;
  observer: CallOutcomeObserver;
  log: Logger;
  mediaIp: string;
  mediaAdvertise: string;
  maxCalls: number;
  requireAssertedIdentity: boolean;
}

type Target = { kind: 'deposit'; mailbox: Subscriber; reason: 'busy' | 'unavailable' } | { kind: 'access'; mailbox: Subscriber };

/** How many consecutive ports to try when one is taken by another program. */
const BIND_ATTEMPTS = 16;

export class VoicemailEngine implements RequestHandler, CallContext {
  readonly ua: UserAgent;
  readonly wheel: TimerWheel;
  readonly mailboxes: MailboxStore;
  readonly prompts: PromptLibrary;
  readonly settings: CallSettings;
  readonly log: Logger;
  readonly observer: CallOutcomeObserver;
  readonly mediaAdvertise: string;
  private readonly opts: EngineOptions;
  private readonly calls: Set<MediaCall>;
  /** INVITEs being prepared (ports bound, greeting loaded) → their half-built state. */
  private readonly preparing: Map<ServerTransaction, { cancelled: boolean }>;
  private quarantined: number;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.ua = opts.ua;
    this.wheel = opts.wheel;
    this.mailboxes = opts.mailboxes;
    this.prompts = opts.prompts;
    this.settings = opts.settings;
    this.log = opts.log.child({ layer: 'engine' });
    this.observer = opts.observer;
    this.mediaAdvertise = opts.mediaAdvertise;
    this.calls = new Set();
    this.preparing = new Map();
    this.quarantined = 0;
  }

  get activeCalls(): number {
    return this.calls.size;
  }

  get preparingCalls(): number {
    return this.preparing.size;
  }

  /** RTP packets received by the calls in progress (tests wait on it for loopback delivery). */
  get rtpPacketsReceived(): number {
    let n = 0;
    for (const c of this.calls) n += c.rtp.stats.packetsReceived;
    return n;
  }

  releasePort(port: number): void {
    this.opts.ports.release(port);
  }

  /** Media ports held back because another program had them bound (see openRtp). */
  get quarantinedPorts(): number {
    return this.quarantined;
  }

  /** @internal end of a port's quarantine */
  endQuarantine(port: number): void {
    this.quarantined--;
    this.opts.ports.release(port);
  }

  callEnded(call: MediaCall): void {
    this.calls.delete(call);
  }

  onSubscribe(tx: ServerTransaction): void {
    this.opts.mwi.onSubscribe(tx);
  }

  onInviteCancelled(tx: ServerTransaction): void {
    const p = this.preparing.get(tx);
    if (p !== undefined) p.cancelled = true;
  }

  /** Which mailbox and what for, from the R-URI user (and To/R-URI domains as hints). */
  private target(tx: ServerTransaction): Target | null {
    const ruri = tx.request.uri;
    if (!(ruri instanceof SipUri) || ruri.user === null) return null;
    const user = ruri.user;
    const to = tx.request.to.uri;
    const hints = [to instanceof SipUri ? to.hostNoBrackets() : null, ruri.hostNoBrackets()];
    const dir = this.opts.directory;
    if (user.length > 1 && (user[0] === 'b' || user[0] === 'u')) {
      const mailbox = dir.resolve(user.slice(1), hints);
      if (mailbox !== null) return { kind: 'deposit', mailbox, reason: user[0] === 'b' ? 'busy' : 'unavailable' };
    }
    const mailbox = dir.resolve(user, hints);
    return mailbox === null ? null : { kind: 'access', mailbox };
  }

  onInvite(tx: ServerTransaction): void {
    const req = tx.request;
    if (this.calls.size + this.preparing.size >= this.opts.maxCalls) {
      this.ua.reject(tx, 'VM_ERR_OVERLOAD', [['Retry-After', '30']]);
      return;
    }
    const target = this.target(tx);
    if (target === null) {
      this.ua.reject(tx, 'VM_ERR_NO_MAILBOX');
      return;
    }
    let caller = req.from;
    const pai = req.headers.get('p-asserted-identity');
    if (pai !== undefined) {
      const p = NameAddr.parse(pai.split(',')[0]!.trim());
      if (p instanceof NameAddr) caller = p;
    }
    if (target.kind === 'access' && this.opts.requireAssertedIdentity) {
      // *98 reaches us only through the proxy, which authenticated the caller and asserts
      // who it is (RFC 3325 §9.1); the mailbox must be the caller's own.
      const u = pai === undefined ? null : caller.uri;
      if (!(u instanceof SipUri) || u.user !== target.mailbox.username || u.hostNoBrackets().toLowerCase() !== target.mailbox.domain) {
        this.ua.reject(tx, 'VM_ERR_IDENTITY');
        return;
      }
    }
    const offer = acceptOffer(req);
    if (!offer.ok) {
      const code = offer.status === 400 ? 'VM_ERR_BAD_SDP' : offer.reason === 'no SDP offer' ? 'VM_ERR_NO_SDP' : 'VM_ERR_UNSUPPORTED_MEDIA';
      // RFC 3261 §21.4.26: 488 says why in a Warning (305 Incompatible media format).
      this.ua.reject(tx, code, [['Warning', `305 voicemail "${offer.reason.slice(0, 120).replace(/"/g, "'")}"`]]);
      return;
    }
    this.ua.holdInvite(tx);
    const state = { cancelled: false };
    this.preparing.set(tx, state);
    void this.prepare(tx, target, offer.accepted, caller, state).finally(() => this.preparing.delete(tx));
  }

  private async openRtp(): Promise<RtpSession | null> {
    for (let i = 0; i < BIND_ATTEMPTS; i++) {
      const port = this.opts.ports.allocate();
      if (port === null) return null;
      try {
        return await RtpSession.open(this.opts.mediaIp, port, this.opts.clock);
      } catch {
        // Taken by someone else: leave it marked used for a while, try the next pair.
        this.quarantined++;
        setTimeout(endQuarantine, 60_000, this, port).unref();
      }
    }
    return null;
  }

  private async greeting(mailbox: Subscriber, reason: 'busy' | 'unavailable'): Promise<Int16Array> {
    const uploaded = await this.mailboxes.greeting(mailbox.username, mailbox.domain, reason);
    if (uploaded !== null) {
      const r = readWav(uploaded);
      if (r.ok) return concat([resampleTo8k(r.audio.samples, r.audio.sampleRate), silence(200), this.prompts.get('beep')]);
    }
    return concat([this.prompts.get(reason), this.prompts.get('beep')]);
  }

  private async prepare(tx: ServerTransaction, target: Target, accepted: AcceptedOffer, caller: NameAddr, state: { cancelled: boolean }): Promise<void> {
    let rtp: RtpSession | null = null;
    try {
      rtp = await this.openRtp();
      if (rtp === null) {
        this.ua.reject(tx, 'VM_ERR_PORTS_EXHAUSTED');
        return;
      }
      const greeting = target.kind === 'deposit' ? await this.greeting(target.mailbox, target.reason) : null;
      if (state.cancelled || tx.finalSent) {
        rtp.close();
        this.releasePort(rtp.localPort);
        return;
      }
      const dialog = this.ua.createDialog(tx, NOOP_USAGE);
      const call: MediaCall =
        target.kind === 'deposit'
          ? new DepositCall(this, tx, dialog, rtp, accepted, {
              mailbox: target.mailbox,
              reason: target.reason,
              caller: caller.uri.toString(),
              callerName: caller.displayName,
              greeting: greeting!,
            })
          : new MailboxAccessCall(this, tx, dialog, rtp, accepted, target.mailbox);
      this.ua.setUsage(dialog, call);
      this.calls.add(call);
      if (!call.answerCall()) {
        await call.finish('cancelled', false);
        return;
      }
      call.start();
      this.log.info({ callId: dialog.callId, kind: target.kind, mailbox: `${target.mailbox.username}@${target.mailbox.domain}`, codec: accepted.media.codec.name }, 'call answered');
    } catch (err) {
      this.log.error({ err, callId: tx.request.callId }, 'call setup failed');
      if (rtp !== null && !this.isOwned(rtp)) {
        rtp.close();
        this.releasePort(rtp.localPort);
      }
      this.ua.rejectWith(tx, 500, 'Server Internal Error');
    }
  }

  private isOwned(rtp: RtpSession): boolean {
    for (const c of this.calls) if (c.rtp === rtp) return true;
    return false;
  }

  /** Ends every call (shutdown); recordings in progress are committed. */
  async close(): Promise<void> {
    await Promise.all([...this.calls].map((c) => c.finish('shutdown', true)));
  }
}

function endQuarantine(engine: VoicemailEngine, port: number): void {
  engine.endQuarantine(port);
}

/** Placeholder usage between createDialog and the call object (same tick; never called). */
const NOOP_USAGE = {
  onDialogRequest(): void {},
  onAck(): void {},
  onDialogFailed(): void {},
};
