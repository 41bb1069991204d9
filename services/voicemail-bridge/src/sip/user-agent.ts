/**
 * The bridge's SIP user agent core (RFC 3261 §8.2, §12, §13.3, §15): the transaction user
 * above @voip/sip's transaction layer. It validates and dispatches requests — new INVITEs
 * and SUBSCRIBEs to the handlers the engine registers, in-dialog requests to the dialog's
 * usage — retransmits 2xx to INVITE until the ACK (§13.3.1.4), answers CANCEL (§9.2) and
 * sends in-dialog and out-of-dialog requests through client transactions. Every dialog ends
 * in `endDialog`, which is what the leak check counts.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  SipUri,
  TimerEntry,
  createResponse,
  generateBranch,
  generateTag,
  type ClientTransaction,
  type Logger,
  type MessageSource,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
  type TransactionLayer,
  type TransactionUser,
  type TransportAddress,
  type TransportLayer,
  type TransportProtocol,
  type Uri,
} from '@voip/sip';
import { VM_ERRORS, type VoicemailErrorCode } from '../errors.js';
import { Dialog } from './dialog.js';

export const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, SUBSCRIBE, NOTIFY';

/** What owns a dialog: a call (INVITE usage) or an MWI subscription (SUBSCRIBE usage). */
export interface DialogUsage {
  /** A request inside the dialog (BYE, INFO, re-INVITE, re-SUBSCRIBE…) with CSeq in order. */
  onDialogRequest(tx: ServerTransaction, dialog: Dialog): void;
  /** The ACK for our 2xx arrived (INVITE usage). */
  onAck(req: SipRequest, dialog: Dialog): void;
  /** The dialog is over on the SIP side (64*T1 without ACK, or the UA is closing). */
  onDialogFailed(dialog: Dialog, why: string): void;
}

/** Handles requests that create dialogs. */
export interface RequestHandler {
  onInvite(tx: ServerTransaction): void;
  /** The INVITE `tx` was cancelled (§9.2): a 487 went out; drop whatever was prepared. */
  onInviteCancelled(tx: ServerTransaction): void;
  onSubscribe(tx: ServerTransaction): void;
}

/** The outcome of a request we sent. */
export interface RequestOwner {
  /** The final response, or a local 408/503 when the transaction timed out or failed. */
  onFinalResponse(status: number, res: SipResponse | null, req: SipRequest): void;
}

interface AnsweredInvite {
  tx: ServerTransaction;
  response: SipResponse;
  dialog: Dialog;
  interval: number;
  elapsed: number;
  timer: TimerEntry;
}

const TIMER_2XX = 1;

/** Per-dialog state the UA keeps. */
class DialogEntry {
  readonly dialog: Dialog;
  usage: DialogUsage;
  answered: AnsweredInvite | null;
  constructor(dialog: Dialog, usage: DialogUsage) {
    this.dialog = dialog;
    this.usage = usage;
    this.answered = null;
  }
}

/** Timer target for 2xx retransmission (RFC 3261 §13.3.1.4): one entry per answered INVITE. */
class RetransmitTarget {
  readonly ua: UserAgent;
  readonly entry: DialogEntry;
  constructor(ua: UserAgent, entry: DialogEntry) {
    this.ua = ua;
    this.entry = entry;
  }
  onTimer(): void {
    this.ua.retransmit2xx(this.entry);
  }
}

export interface UserAgentStats {
  dialogsCreated: number;
  dialogsEnded: number;
  requestsSent: number;
  requestFailures: number;
  rejected: number;
}

export class UserAgent implements TransactionUser {
  readonly stats: UserAgentStats;
  private readonly transport: TransportLayer;
  private tl: TransactionLayer | null;
  private readonly log: Logger;
  private readonly dialogs: Map<string, DialogEntry>;
  private readonly pendingInvites: Set<ServerTransaction>;
  private readonly owners: Map<ClientTransaction, RequestOwner>;
  private handler: RequestHandler | null;
  private readonly userAgentHeader: string;

  constructor(transport: TransportLayer, log: Logger) {
    this.transport = transport;
    this.tl = null;
    this.log = log.child({ layer: 'sip.ua' });
    this.dialogs = new Map();
    this.pendingInvites = new Set();
    this.owners = new Map();
    this.handler = null;
    this.userAgentHeader = 'voip-stack voicemail-bridge';
    this.stats = { dialogsCreated: 0, dialogsEnded: 0, requestsSent: 0, requestFailures: 0, rejected: 0 };
  }

  /** The transaction layer built on top of this UA (it needs the UA as its TU first). */
  attach(tl: TransactionLayer): void {
    this.tl = tl;
  }

  setHandler(h: RequestHandler): void {
    this.handler = h;
  }

  get dialogCount(): number {
    return this.dialogs.size;
  }

  get pendingInviteCount(): number {
    return this.pendingInvites.size;
  }

  private get layer(): TransactionLayer {
    if (this.tl === null) throw new Error('UserAgent used before attach()');
    return this.tl;
  }

  // ---- responses helpers -------------------------------------------------------------

  /** Answers with the status and reason of a coded error. */
  reject(tx: ServerTransaction, code: VoicemailErrorCode, extra: [string, string][] = []): void {
    const e = VM_ERRORS[code];
    this.rejectWith(tx, e.status, e.reason, extra);
  }

  rejectWith(tx: ServerTransaction, status: number, reason: string, extra: [string, string][] = []): void {
    this.pendingInvites.delete(tx);
    if (tx.finalSent) return;
    this.stats.rejected++;
    tx.respond(createResponse(tx.request, status, reason, { toTag: generateTag(), extra: [['Server', this.userAgentHeader], ...extra] }));
  }

  /** Our Contact for a request that came in on `source`'s listener. */
  contactFor(source: MessageSource, user = 'voicemail'): string {
    const t = this.transport.select(source.local) ?? this.transport.transports[0];
    const host = t === undefined ? source.local.address : t.advertised.host;
    const port = t === undefined ? source.local.port : t.advertised.port;
    const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    const tp = source.protocol === 'UDP' ? '' : `;transport=${source.protocol.toLowerCase()}`;
    return `<sip:${user}@${h}:${port}${tp}>`;
  }

  /** `host:port` of our first listener (the voicemail server's own identity in requests it originates). */
  localHostPort(): string {
    const t = this.transport.transports[0];
    if (t === undefined) return '127.0.0.1';
    const h = t.advertised.host;
    return `${h.includes(':') && !h.startsWith('[') ? `[${h}]` : h}:${t.advertised.port}`;
  }

  /** An INVITE the engine is preparing to answer; CANCEL and cleanup look here. */
  holdInvite(tx: ServerTransaction): void {
    this.pendingInvites.add(tx);
  }

  /** Creates the dialog for `tx` (INVITE or SUBSCRIBE) owned by `usage`. */
  createDialog(tx: ServerTransaction, usage: DialogUsage, contactUser = 'voicemail'): Dialog {
    const dialog = new Dialog(tx.request, tx.source, this.contactFor(tx.source, contactUser));
    this.dialogs.set(dialog.key, new DialogEntry(dialog, usage));
    this.stats.dialogsCreated++;
    return dialog;
  }

  /** Hands the dialog to its final owner (the call object built after the dialog). */
  setUsage(dialog: Dialog, usage: DialogUsage): void {
    const e = this.dialogs.get(dialog.key);
    if (e !== undefined) e.usage = usage;
  }

  /**
   * Sends a 2xx for the dialog-creating INVITE and retransmits it (unreliable transports)
   * with T1 doubling to T2 until the ACK; after 64*T1 without ACK the usage hears
   * onDialogFailed and should send BYE (§13.3.1.4). False if the INVITE was cancelled meanwhile.
   */
  answer(tx: ServerTransaction, dialog: Dialog, body: Buffer, extra: [string, string][] = []): boolean {
    const initial = tx.request.to.tag === null;
    if ((initial && !this.pendingInvites.delete(tx)) || tx.finalSent) return false;
    const entry = this.dialogs.get(dialog.key);
    if (entry === undefined) return false;
    if (entry.answered !== null) this.layer.wheel.cancel(entry.answered.timer);
    const res = this.okResponse(tx, dialog, body, extra);
    tx.respond(res);
    const reliable = tx.source.protocol !== 'UDP';
    const target = new RetransmitTarget(this, entry);
    const t1 = this.layer.timers.T1;
    entry.answered = { tx, response: res, dialog, interval: t1, elapsed: 0, timer: new TimerEntry(target, TIMER_2XX) };
    // Reliable transports: no retransmission, but the ACK still has 64*T1 to come.
    this.layer.wheel.schedule(entry.answered.timer, reliable ? 64 * t1 : t1);
    if (reliable) entry.answered.elapsed = 64 * t1;
    return true;
  }

  /** A 2xx to a request inside (or creating) a dialog: our tag, Contact, optional body. */
  okResponse(tx: ServerTransaction, dialog: Dialog, body?: Buffer, extra: [string, string][] = []): SipResponse {
    const hdrs: [string, string][] = [['Contact', dialog.contact], ['Allow', ALLOW], ['Server', this.userAgentHeader], ...extra];
    if (body !== undefined && body.length > 0) hdrs.push(['Content-Type', 'application/sdp']);
    const res = createResponse(tx.request, 200, 'OK', { toTag: dialog.localTag, extra: hdrs, body });
    // Record-Route is mirrored in 2xx responses that establish a dialog (§12.1.1).
    for (const rr of tx.request.headers.getAll('record-route')) res.headers.append('record-route', rr);
    return res;
  }

  /** A plain response inside a dialog (200 to BYE/INFO, 4xx…). */
  respondInDialog(tx: ServerTransaction, dialog: Dialog, status: number, reason?: string, extra: [string, string][] = [], body?: Buffer): void {
    if (tx.finalSent) return;
    tx.respond(createResponse(tx.request, status, reason, { toTag: dialog.localTag, extra: [['Server', this.userAgentHeader], ...extra], body }));
  }

  /** @internal 2xx retransmission timer */
  retransmit2xx(entry: DialogEntry): void {
    const a = entry.answered;
    if (a === null) return;
    a.elapsed += a.interval;
    const t1 = this.layer.timers.T1;
    if (a.elapsed >= 64 * t1) {
      entry.answered = null;
      this.log.warn({ callId: entry.dialog.callId }, 'no ACK for 2xx within 64*T1; ending the session (RFC 3261 §13.3.1.4)');
      entry.usage.onDialogFailed(entry.dialog, 'no ACK');
      return;
    }
    a.tx.respond(a.response);
    a.interval = Math.min(a.interval * 2, this.layer.timers.T2);
    this.layer.wheel.schedule(a.timer, a.interval);
  }

  /** Forgets a dialog (its usage has ended it). */
  endDialog(dialog: Dialog): void {
    const entry = this.dialogs.get(dialog.key);
    if (entry === undefined) return;
    if (entry.answered !== null) this.layer.wheel.cancel(entry.answered.timer);
    entry.answered = null;
    this.dialogs.delete(dialog.key);
    this.stats.dialogsEnded++;
  }

  // ---- sending -------------------------------------------------------------------------

  /** Sends `req` (no Via yet) to the next hop its Route/R-URI names, or to `fallback`. */
  send(req: SipRequest, owner: RequestOwner | null, fallback: TransportAddress | null = null): void {
    const hop = req.routes.length > 0 ? req.routes[0]!.uri : req.uri;
    void this.resolve(hop, fallback?.protocol ?? 'UDP').then(
      (dest) => this.sendTo(req, dest ?? fallback, owner),
      () => this.sendTo(req, fallback, owner),
    );
  }

  private sendTo(req: SipRequest, dest: TransportAddress | null, owner: RequestOwner | null): void {
    if (dest === null) {
      this.stats.requestFailures++;
      owner?.onFinalResponse(503, null, req);
      return;
    }
    const transport = this.transport.select(dest);
    if (transport === null) {
      this.stats.requestFailures++;
      owner?.onFinalResponse(503, null, req);
      return;
    }
    req.headers.prepend('via', this.transport.viaFor(transport, generateBranch()));
    if (!req.headers.has('user-agent')) req.headers.append('user-agent', this.userAgentHeader);
    try {
      const ctx = this.layer.createClientTransaction(req, dest, transport);
      this.stats.requestsSent++;
      if (owner !== null) this.owners.set(ctx, owner);
    } catch (err) {
      this.stats.requestFailures++;
      this.log.error({ err, callId: req.callId }, 'could not send request');
      owner?.onFinalResponse(503, null, req);
    }
  }

  /** RFC 3263 subset: an IP literal or an A/AAAA lookup; port 5060, transport param. */
  private async resolve(uri: Uri, defaultProtocol: TransportProtocol): Promise<TransportAddress | null> {
    if (!(uri instanceof SipUri)) return null;
    const host = uri.hostNoBrackets();
    const tp = uri.transport?.toUpperCase();
    const protocol: TransportProtocol = tp === 'TCP' ? 'TCP' : tp === 'UDP' ? 'UDP' : defaultProtocol;
    const port = uri.port ?? 5060;
    if (isIP(host) !== 0) return { protocol, address: host, port };
    const r = await lookup(host);
    return { protocol, address: r.address, port };
  }

  // ---- TransactionUser -------------------------------------------------------------------

  onRequest(tx: ServerTransaction, cancelled: ServerTransaction | null): void {
    const req = tx.request;
    const m = req.method;
    if (m === 'CANCEL') {
      // §9.2: 200 to the CANCEL; if the INVITE has no final response yet, 487 to it.
      tx.respond(createResponse(req, 200, 'OK', { toTag: cancelled?.lastResponse?.to.tag ?? generateTag() }));
      if (cancelled !== null && !cancelled.finalSent) {
        this.rejectWith(cancelled, 487, 'Request Terminated');
        this.handler?.onInviteCancelled(cancelled);
      }
      return;
    }
    // §8.2.2.3 Require: we support no extensions.
    const require = req.headers.values('require');
    if (require.length > 0 && m !== 'ACK') {
      this.rejectWith(tx, 420, 'Bad Extension', [['Unsupported', require.join(', ')]]);
      return;
    }
    const toTag = req.to.tag;
    if (toTag !== null) {
      this.inDialog(tx, toTag);
      return;
    }
    switch (m) {
      case 'INVITE':
        if (this.handler === null) this.rejectWith(tx, 503, 'Service Unavailable');
        else this.handler.onInvite(tx);
        return;
      case 'SUBSCRIBE':
        if (this.handler === null) this.rejectWith(tx, 503, 'Service Unavailable');
        else this.handler.onSubscribe(tx);
        return;
      case 'OPTIONS':
        // §11.2: what we accept.
        tx.respond(createResponse(req, 200, 'OK', { toTag: generateTag(), extra: [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Server', this.userAgentHeader]] }));
        return;
      case 'BYE':
      case 'INFO':
      case 'NOTIFY':
        this.reject(tx, 'VM_ERR_NO_DIALOG');
        return;
      default:
        this.reject(tx, 'VM_ERR_METHOD', [['Allow', ALLOW]]);
    }
  }

  private inDialog(tx: ServerTransaction, toTag: string): void {
    const req = tx.request;
    const entry = this.dialogs.get(Dialog.keyOf(req.callId, toTag));
    if (entry === undefined || entry.dialog.remoteTag !== (req.from.tag ?? '')) {
      // §12.2.2: a request for a dialog we do not know.
      this.reject(tx, 'VM_ERR_NO_DIALOG');
      return;
    }
    if (!entry.dialog.acceptRemoteSeq(tx)) {
      this.respondInDialog(tx, entry.dialog, 500, 'Server Internal Error - CSeq out of order');
      return;
    }
    entry.usage.onDialogRequest(tx, entry.dialog);
  }

  onStatelessRequest(req: SipRequest, source: MessageSource): void {
    if (req.method === 'ACK') {
      const tag = req.to.tag;
      const entry = tag === null ? undefined : this.dialogs.get(Dialog.keyOf(req.callId, tag));
      if (entry === undefined) return; // §17: an ACK for nothing is dropped
      if (entry.answered !== null && req.cseq.seq === entry.answered.tx.request.cseq.seq) {
        this.layer.wheel.cancel(entry.answered.timer);
        entry.answered = null;
      }
      entry.usage.onAck(req, entry.dialog);
      return;
    }
    if (req.method === 'CANCEL') {
      // §9.2: a CANCEL matching no transaction gets 481.
      this.transport.sendResponse(createResponse(req, 481, 'Call/Transaction Does Not Exist', { toTag: generateTag() }), source);
    }
  }

  onResponse(tx: ClientTransaction, res: SipResponse): void {
    if (res.status < 200) return;
    const owner = this.owners.get(tx);
    if (owner === undefined) return;
    this.owners.delete(tx);
    owner.onFinalResponse(res.status, res, tx.request);
  }

  onTimeout(tx: ClientTransaction): void {
    this.fail(tx, 408);
  }

  onTransportError(tx: ClientTransaction, err: Error): void {
    this.log.debug({ err, callId: tx.request.callId }, 'transport error');
    this.fail(tx, 503);
  }

  private fail(tx: ClientTransaction, status: number): void {
    this.stats.requestFailures++;
    const owner = this.owners.get(tx);
    if (owner === undefined) return;
    this.owners.delete(tx);
    owner.onFinalResponse(status, null, tx.request);
  }

  onStrayResponse(): void {
    // RFC 6026: a response matching no transaction is dropped.
  }

  onServerTimeout(tx: ServerTransaction): void {
    this.pendingInvites.delete(tx);
  }

  onServerTransactionTerminated(tx: ServerTransaction): void {
    this.pendingInvites.delete(tx);
  }

  /** Ends every dialog (shutdown): usages hear onDialogFailed. */
  close(): void {
    for (const e of [...this.dialogs.values()]) e.usage.onDialogFailed(e.dialog, 'shutdown');
    for (const e of [...this.dialogs.values()]) this.endDialog(e.dialog);
    this.owners.clear();
  }
}
