/**
 * The MWI notifier (RFC 3842 over RFC 6665): keeps message-summary subscriptions as dialogs,
 * answers SUBSCRIBE (initial, refresh, unsubscribe), NOTIFYs the state at once and after
 * every mailbox change, and ends subscriptions on expiry (terminated;reason=timeout) or when
 * a NOTIFY fails (§4.2.2: 481/408 end the subscription). Mailboxes nobody subscribed to can
 * be announced with an unsolicited NOTIFY through the outbound proxy (which forks it to the
 * user's registered contacts), the way phones that never subscribe expect it from Asterisk.
 */
import { NameAddr, SipRequest, SipUri, HeaderList, generateTag, TimerEntry, type Logger, type ServerTransaction, type SipResponse, type TimerWheel, type TransportAddress } from '@voip/sip';
import type { MailboxChangeListener, MailboxCounts, MailboxReader } from '../mailbox/mailbox-store.js';
import type { Dialog } from '../sip/dialog.js';
import type { DialogUsage, RequestOwner, UserAgent } from '../sip/user-agent.js';
import type { SubscriberDirectory } from '../subscribers/subscriber-directory.js';
import { formatMessageSummary, MESSAGE_SUMMARY_EVENT, MESSAGE_SUMMARY_TYPE } from './message-summary.js';

export interface MwiSettings {
  defaultExpires: number;
  minExpires: number;
  maxExpires: number;
  unsolicited: boolean;
  /** Outbound proxy for unsolicited NOTIFYs (null: none are sent). */
  proxy: { host: string; port: number; protocol: 'UDP' | 'TCP'; uri: string } | null;
}

export interface MwiStats {
  subscriptions: number;
  notifiesSent: number;
  notifiesFailed: number;
  unsolicitedSent: number;
}

const TIMER_EXPIRE = 1;

class Subscription {
  readonly notifier: MwiNotifier;
  readonly dialog: Dialog;
  readonly username: string;
  readonly domain: string;
  readonly timer: TimerEntry;
  expiresAt: number;
  inFlight: boolean;
  dirty: boolean;
  terminated: boolean;

  constructor(notifier: MwiNotifier, dialog: Dialog, username: string, domain: string) {
    this.notifier = notifier;
    this.dialog = dialog;
    this.username = username;
    this.domain = domain;
    this.timer = new TimerEntry(this, TIMER_EXPIRE);
    this.expiresAt = 0;
    this.inFlight = false;
    this.dirty = false;
    this.terminated = false;
  }

  onTimer(): void {
    this.notifier.expire(this);
  }
}

/** The response owner of one in-dialog NOTIFY. */
class NotifyOwner implements RequestOwner {
  constructor(
    readonly notifier: MwiNotifier,
    readonly sub: Subscription,
  ) {}
  onFinalResponse(status: number): void {
    this.notifier.notifyDone(this.sub, status);
  }
}

class UnsolicitedOwner implements RequestOwner {
  constructor(
    readonly log: Logger,
    readonly stats: MwiStats,
  ) {}
  onFinalResponse(status: number, _res: SipResponse | null, req: SipRequest): void {
    if (status >= 300) {
      this.stats.notifiesFailed++;
      this.log.debug({ callId: req.callId, status, to: req.uri.toString() }, 'unsolicited NOTIFY not delivered');
    }
  }
}

function eventPackage(value: string | undefined): string | null {
  if (value === undefined) return null;
  return value.split(';')[0]!.trim().toLowerCase();
}

export class MwiNotifier implements DialogUsage, MailboxChangeListener {
  readonly stats: MwiStats;
  private readonly ua: UserAgent;
  private readonly wheel: TimerWheel;
  private readonly mailboxes: MailboxReader;
  private readonly directory: SubscriberDirectory;
  private readonly settings: MwiSettings;
  private readonly log: Logger;
  private readonly byDialog: Map<string, Subscription>;
  private readonly byMailbox: Map<string, Set<Subscription>>;
  private readonly now: () => number;

  constructor(ua: UserAgent, wheel: TimerWheel, mailboxes: MailboxReader, directory: SubscriberDirectory, settings: MwiSettings, log: Logger, now: () => number = Date.now) {
    this.ua = ua;
    this.wheel = wheel;
    this.mailboxes = mailboxes;
    this.directory = directory;
    this.settings = settings;
    this.log = log.child({ layer: 'mwi' });
    this.byDialog = new Map();
    this.byMailbox = new Map();
    this.now = now;
    this.stats = { subscriptions: 0, notifiesSent: 0, notifiesFailed: 0, unsolicitedSent: 0 };
  }

  get size(): number {
    return this.byDialog.size;
  }

  /** An initial SUBSCRIBE (RFC 6665 §4.2.1.1). */
  onSubscribe(tx: ServerTransaction): void {
    const req = tx.request;
    const pkg = eventPackage(req.headers.get('event'));
    if (pkg !== MESSAGE_SUMMARY_EVENT) {
      // RFC 6665 §4.2.1.1: an unsupported package is 489 with the packages we do support.
      this.ua.reject(tx, 'VM_ERR_BAD_EVENT', [['Allow-Events', MESSAGE_SUMMARY_EVENT]]);
      return;
    }
    const accept = req.headers.values('accept');
    if (accept.length > 0 && !accept.some((a) => a.split(';')[0]!.trim().toLowerCase() === MESSAGE_SUMMARY_TYPE)) {
      this.ua.rejectWith(tx, 406, 'Not Acceptable', [['Accept', MESSAGE_SUMMARY_TYPE]]);
      return;
    }
    const ruri = req.uri;
    const to = req.to.uri;
    const user = ruri instanceof SipUri ? ruri.user : null;
    const mailbox = user === null ? null : this.directory.resolve(user, [to instanceof SipUri ? to.hostNoBrackets() : null, ruri instanceof SipUri ? ruri.hostNoBrackets() : null]);
    if (mailbox === null) {
      this.ua.reject(tx, 'VM_ERR_NO_MAILBOX');
      return;
    }
    const expires = this.grantedExpires(tx);
    if (expires === null) return;
    const dialog = this.ua.createDialog(tx, this, mailbox.username);
    const sub = new Subscription(this, dialog, mailbox.username, mailbox.domain);
    this.byDialog.set(dialog.key, sub);
    const key = `${mailbox.username}@${mailbox.domain}`;
    let set = this.byMailbox.get(key);
    if (set === undefined) this.byMailbox.set(key, (set = new Set()));
    set.add(sub);
    this.stats.subscriptions++;
    tx.respond(this.ua.okResponse(tx, dialog, undefined, [['Expires', String(expires)]]));
    this.arm(sub, expires);
    // RFC 6665 §4.2.1.2: a NOTIFY follows the 2xx at once, with the current state (an
    // Expires: 0 SUBSCRIBE is a one-time fetch: that NOTIFY also terminates it).
    void this.notify(sub, expires === 0 ? 'terminated' : null);
  }

  /** Expires the subscriber asked for, bounded; null when rejected (423). */
  private grantedExpires(tx: ServerTransaction): number | null {
    const asked = tx.request.expires ?? this.settings.defaultExpires;
    if (asked !== 0 && asked < this.settings.minExpires) {
      // RFC 6665 §4.2.1.1: too short is 423 with Min-Expires.
      this.ua.reject(tx, 'VM_ERR_INTERVAL_TOO_BRIEF', [['Min-Expires', String(this.settings.minExpires)]]);
      return null;
    }
    return Math.min(asked, this.settings.maxExpires);
  }

  onDialogRequest(tx: ServerTransaction, dialog: Dialog): void {
    const sub = this.byDialog.get(dialog.key);
    if (sub === undefined || tx.request.method !== 'SUBSCRIBE') {
      this.ua.respondInDialog(tx, dialog, 405, 'Method Not Allowed', [['Allow', 'SUBSCRIBE']]);
      return;
    }
    if (eventPackage(tx.request.headers.get('event')) !== MESSAGE_SUMMARY_EVENT) {
      this.ua.respondInDialog(tx, dialog, 489, 'Bad Event', [['Allow-Events', MESSAGE_SUMMARY_EVENT]]);
      return;
    }
    // RFC 6665 §4.2.1.2 refresh; Expires 0 is an unsubscribe (§4.2.1.4).
    const expires = this.grantedExpires(tx);
    if (expires === null) return;
    dialog.refreshTarget(tx.request);
    tx.respond(this.ua.okResponse(tx, dialog, undefined, [['Expires', String(expires)]]));
    this.arm(sub, expires);
    // §4.2.1.4: an unsubscribe is confirmed by a final NOTIFY with the state, terminated.
    void this.notify(sub, expires === 0 ? 'terminated' : null);
  }

  onAck(): void {}

  onDialogFailed(dialog: Dialog): void {
    const sub = this.byDialog.get(dialog.key);
    if (sub !== undefined) this.drop(sub);
  }

  /** @internal subscription timer */
  expire(sub: Subscription): void {
    // RFC 6665 §4.2.2: at expiry the notifier sends a final NOTIFY, terminated;reason=timeout.
    void this.notify(sub, 'terminated;reason=timeout');
  }

  private arm(sub: Subscription, expires: number): void {
    this.wheel.cancel(sub.timer);
    sub.expiresAt = this.now() + expires * 1000;
    if (expires > 0) this.wheel.schedule(sub.timer, expires * 1000);
  }

  /** Sends the current state; `terminated` ends the subscription once sent. */
  private async notify(sub: Subscription, terminated: string | null): Promise<void> {
    if (sub.terminated) return;
    if (terminated !== null) {
      sub.terminated = true;
      this.wheel.cancel(sub.timer);
    } else if (sub.inFlight) {
      // One NOTIFY at a time per subscription; the newest state follows the answer.
      sub.dirty = true;
      return;
    }
    sub.inFlight = true;
    sub.dirty = false;
    let counts: MailboxCounts;
    try {
      counts = await this.mailboxes.counts(sub.username, sub.domain);
    } catch (err) {
      this.log.error({ err, mailbox: `${sub.username}@${sub.domain}` }, 'mailbox unreadable; NOTIFY skipped');
      sub.inFlight = false;
      if (terminated !== null) this.drop(sub);
      return;
    }
    const remaining = Math.max(0, Math.round((sub.expiresAt - this.now()) / 1000));
    const state = terminated ?? `active;expires=${remaining}`;
    const req = sub.dialog.createRequest(
      'NOTIFY',
      [
        ['Event', MESSAGE_SUMMARY_EVENT],
        ['Subscription-State', state],
        ['Content-Type', MESSAGE_SUMMARY_TYPE],
      ],
      formatMessageSummary({ account: `sip:${sub.username}@${sub.domain}`, ...counts }),
    );
    this.stats.notifiesSent++;
    this.ua.send(req, new NotifyOwner(this, sub), fallbackOf(sub.dialog));
  }

  /** @internal a NOTIFY of `sub` got its final answer */
  notifyDone(sub: Subscription, status: number): void {
    sub.inFlight = false;
    if (status >= 300) this.stats.notifiesFailed++;
    if (sub.terminated || status === 481 || status === 408 || (status >= 300 && status !== 401 && status !== 407)) {
      // RFC 6665 §4.2.2: a failed NOTIFY (481, 408, or another error) ends the subscription.
      this.drop(sub);
      return;
    }
    if (sub.dirty) void this.notify(sub, null);
  }

  private drop(sub: Subscription): void {
    sub.terminated = true;
    this.wheel.cancel(sub.timer);
    this.byDialog.delete(sub.dialog.key);
    const key = `${sub.username}@${sub.domain}`;
    const set = this.byMailbox.get(key);
    set?.delete(sub);
    if (set !== undefined && set.size === 0) this.byMailbox.delete(key);
    this.ua.endDialog(sub.dialog);
  }

  /** A mailbox changed: NOTIFY its subscribers, or the user's phones through the proxy. */
  onMailboxChanged(username: string, domain: string, counts: MailboxCounts): void {
    const set = this.byMailbox.get(`${username}@${domain}`);
    if (set !== undefined && set.size > 0) {
      for (const sub of set) void this.notify(sub, null);
      return;
    }
    this.sendUnsolicited(username, domain, counts);
  }

  /**
   * An out-of-dialog NOTIFY to `sip:user@domain` through the outbound proxy (a loose route,
   * RFC 3261 §8.1.2): the proxy's location lookup delivers it to every registered contact.
   */
  sendUnsolicited(username: string, domain: string, counts: MailboxCounts): void {
    const proxy = this.settings.proxy;
    if (!this.settings.unsolicited || proxy === null) return;
    const aor = new SipUri({ scheme: 'sip', user: username, host: domain.includes(':') && !domain.startsWith('[') ? `[${domain}]` : domain });
    const h = new HeaderList();
    const hostPart = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
    h.append('route', `<sip:${hostPart}:${proxy.port};lr${proxy.protocol === 'TCP' ? ';transport=tcp' : ''}>`);
    h.append('max-forwards', '70');
    // From names the voicemail server itself (as Asterisk's unsolicited MWI does), not a user
    // of the proxy's domain: the proxy would challenge a request From its own domain (407).
    h.append('from', `<sip:voicemail@${this.ua.localHostPort()}>;tag=${generateTag()}`);
    h.append('to', new NameAddr(aor).toString());
    h.append('call-id', `mwi-${generateTag()}${generateTag()}`);
    h.append('cseq', '1 NOTIFY');
    h.append('event', MESSAGE_SUMMARY_EVENT);
    h.append('subscription-state', 'terminated;reason=noresource');
    h.append('content-type', MESSAGE_SUMMARY_TYPE);
    const req = new SipRequest('NOTIFY', aor, h, formatMessageSummary({ account: aor.toString(), ...counts }));
    const dest: TransportAddress = { protocol: proxy.protocol, address: proxy.host, port: proxy.port };
    this.stats.unsolicitedSent++;
    this.ua.send(req, new UnsolicitedOwner(this.log, this.stats), dest);
  }

  close(): void {
    for (const sub of [...this.byDialog.values()]) this.drop(sub);
  }
}

function fallbackOf(d: Dialog): TransportAddress {
  return { protocol: d.source.protocol, address: d.source.address, port: d.source.port };
}
