/**
 * The stateful proxy of RFC 3261 §16, as the transaction user of @voip/sip.
 *
 * Five steps (book ch.2, §16.3–§16.7): validate the request, preprocess routing information,
 * determine targets, forward, handle responses. Steps 1 and 4–5 live here; steps 2–3 are the
 * routing policy (routing/), which the core calls through `ProxyRouter`.
 *
 * State: one `ResponseContext` per server transaction that was relayed (§16.2 "response
 * context"), owning its `Branch`es (one client transaction each). The core is the only owner of
 * that state; route functions and modules hold none.
 */
import {
  SipUri,
  createCancel,
  createResponse,
  generateTag,
  type ClientTransaction,
  type Logger,
  type MessageSource,
  type ServerTransaction,
  type SipRequest,
  type SipResponse,
  type TransactionLayer,
  type TransactionUser,
  TimerEntry,
  type TimerTarget,
  type TimerWheel,
  type Transport,
  type TransportAddress,
  type TransportLayer,
  type Uri,
} from '@voip/sip';
import type { ProxyConfig } from '../config.js';
import { PROXY_ERRORS, ProxyError } from '../errors.js';
import { hashOfBranch, isStatelessBranch, loopHash, statefulBranch, statelessBranch } from './branch.js';
import type { LocalIdentity } from './local-identity.js';
import {
  FailureContext,
  ReplyContext,
  RequestContext,
  type ForwardingContext,
  type ProxyActions,
  type Target,
} from './route-context.js';
import { UnresolvableError, type TargetResolver } from './target-resolver.js';
import { recordRouteValues, strictRouteFixup } from './route-set.js';
import type { ProxyStats } from './proxy-stats.js';
import type { OverloadGuard } from './overload-guard.js';

/** The routing policy, implemented by routing/ and injected at start-up. */
export interface ProxyRouter {
  requestRoute(ctx: RequestContext): void | Promise<void>;
}

/** Extensions this proxy understands in Proxy-Require (§16.3 step 5). */
const SUPPORTED_PROXY_EXTENSIONS: ReadonlySet<string> = new Set<string>();
/** Extensions understood when we act as UAS (Require, §8.2.2.3): registrar and OPTIONS. */
const SUPPORTED_UAS_EXTENSIONS: ReadonlySet<string> = new Set<string>(['path']);

/** One forwarded copy of a request (RFC 3261 §16.6): a client transaction and its outcome. */
class Branch {
  tx: ClientTransaction | null = null;
  request: SipRequest | null = null;
  destination: TransportAddress | null = null;
  transport: Transport | null = null;
  /** Highest provisional seen (a CANCEL may be sent only after one, §9.1). */
  provisional = 0;
  final: SipResponse | null = null;
  /** CANCEL wanted but no provisional yet: send it when one arrives. */
  cancelWanted = false;
  cancelSent = false;

  constructor(
    readonly context: ResponseContext,
    readonly target: Target,
  ) {}
}

/** RFC 3261 §16.2 response context: one per relayed server transaction. */
class ResponseContext implements TimerTarget {
  readonly branches: Branch[] = [];
  /** Kamailio's fr_inv_timer armed by a route (`t_set_fr`); embedded, on the shared wheel (STYLE.md §13). */
  readonly frTimer: TimerEntry = new TimerEntry(this, 0);
  owner: ProxyCore | null = null;
  finalSent = false;
  canceled = false;
  /** Failure route armed by the route that relayed; used once (§16.7 step 6 with serial forking). */
  forwarding: RequestContext | FailureContext;
  /** A 6xx arrived: no new branches, best response is a 6xx (§16.7 step 5/6). */
  got6xx = false;
  /**
   * Responses held behind an asynchronous reply route (an SDP rewrite waiting for the media
   * relay); later responses of this context queue behind it so their order is kept. null = none.
   */
  replyChain: Promise<void> | null = null;
  /** Final-response observers (acc) were told. */
  notified = false;
  readonly toTag = generateTag();

  constructor(
    readonly stx: ServerTransaction,
    /** The request as received (the server transaction's; routing may have changed its R-URI/Route). */
    readonly original: SipRequest,
    forwarding: RequestContext | FailureContext,
  ) {
    this.forwarding = forwarding;
  }

  get pending(): number {
    let n = 0;
    for (const b of this.branches) if (b.final === null) n++;
    return n;
  }

  onTimer(): void {
    this.owner?.onFinalResponseTimeout(this);
  }
}

export interface ProxyCoreDeps {
  config: ProxyConfig;
  transport: TransportLayer;
  identity: LocalIdentity;
  resolver: TargetResolver;
  logger: Logger;
  stats: ProxyStats;
  /** New INVITEs are refused 503 while overloaded (docs/security.md); null = never. */
  overload?: OverloadGuard | null;
  /** The process's one timer wheel (the transaction layer's): per-relay final-response timeouts. */
  wheel: TimerWheel;
}

export class ProxyCore implements TransactionUser, ProxyActions {
  private transactions: TransactionLayer | null = null;
  private router: ProxyRouter | null = null;
  private readonly contexts = new Map<string, ResponseContext>();
  private readonly branchesByTx = new Map<string, Branch>();
  /** Client transactions of CANCELs we sent; their responses end at us. */
  private readonly cancelTxs = new Set<string>();
  private readonly log: Logger;
  readonly tracingHints: boolean;

  constructor(private readonly deps: ProxyCoreDeps) {
    this.log = deps.logger.child({ layer: 'proxy.core' });
    this.tracingHints = deps.config.tracingHints;
  }

  /** Wiring: the transaction layer is built with this core as its user, then attached. */
  attach(transactions: TransactionLayer, router: ProxyRouter): void {
    this.transactions = transactions;
    this.router = router;
  }

  get activeContexts(): number {
    return this.contexts.size;
  }

  isMyself(uri: Uri): boolean {
    return this.deps.identity.isMyself(uri);
  }

  // ---------------------------------------------------------------- requests (TransactionUser)

  onRequest(stx: ServerTransaction, cancelled: ServerTransaction | null): void {
    const req = stx.request;
    this.deps.stats.requestsReceived++;
    if (req.method === 'CANCEL' && cancelled) {
      this.onCancel(stx, cancelled);
      return;
    }
    const invalid = this.validate(req);
    if (invalid) {
      this.respond(stx, req, invalid.status, invalid.reason, invalid.extra);
      return;
    }
    // Overload (docs/security.md): a new INVITE is refused 503 + Retry-After (RFC 3261
    // §21.5.4); transactions in progress, in-dialog requests and CANCEL are still served.
    const overload = this.deps.overload;
    if (overload && overload.rejectsNewInvite(req)) {
      const e = PROXY_ERRORS.SIP_ERR_OVERLOADED;
      this.respond(stx, req, e.status, e.reason, [['Retry-After', overload.retryAfter()]]);
      return;
    }
    this.runRequestRoute(new RequestContext(this, req, stx.source, stx, req.uri.toString()));
  }

  onStatelessRequest(req: SipRequest, source: MessageSource): void {
    this.deps.stats.requestsReceived++;
    // ACKs are never answered (§17.1.1.3); other stateless-mode requests are validated as usual.
    if (req.method !== 'ACK') {
      const invalid = this.validate(req);
      if (invalid) {
        this.replyStateless(req, source, invalid.status, invalid.reason, invalid.extra);
        return;
      }
    } else if ((req.maxForwards ?? 70) <= 0) {
      return;
    }
    this.runRequestRoute(new RequestContext(this, req, source, null, req.uri.toString()));
  }

  /**
   * RFC 3261 §16.3: request validation a proxy must do before routing: scheme (416), Max-Forwards
   * (483), loop detection (482), Proxy-Require (420). Reasonable syntax was checked by the parser.
   */
  private validate(req: SipRequest): { status: number; reason: string; extra?: [string, string][] } | null {
    // §16.3 step 2: URI scheme.
    const scheme = req.uri.scheme;
    if (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel') return PROXY_ERRORS.SIP_ERR_UNSUPPORTED_URI_SCHEME;
    // §16.3 step 3: Max-Forwards 0 is answered 483 (OPTIONS to us would be allowed; we keep it simple).
    const mf = req.maxForwards;
    if (mf !== null && mf <= 0) return PROXY_ERRORS.SIP_ERR_TOO_MANY_HOPS;
    // §16.3 step 4: loop detection against our own Via entries.
    if (this.isLooped(req)) return PROXY_ERRORS.SIP_ERR_LOOP_DETECTED;
    // §16.3 step 5: Proxy-Require.
    const unsupported = unsupportedOptions(req.headers.values('proxy-require'), SUPPORTED_PROXY_EXTENSIONS);
    if (unsupported.length > 0) {
      return { ...PROXY_ERRORS.SIP_ERR_BAD_EXTENSION, extra: [['Unsupported', unsupported.join(', ')]] };
    }
    // §8.2.2.3: when the request is for us (REGISTER, OPTIONS without user), we are the UAS and
    // Require applies to us too.
    if (this.isForUs(req)) {
      const unsupportedUas = unsupportedOptions(req.headers.values('require'), SUPPORTED_UAS_EXTENSIONS);
      if (unsupportedUas.length > 0) {
        return { ...PROXY_ERRORS.SIP_ERR_BAD_EXTENSION, extra: [['Unsupported', unsupportedUas.join(', ')]] };
      }
    }
    return null;
  }

  private isForUs(req: SipRequest): boolean {
    if (!this.isMyself(req.uri)) return false;
    if (req.method === 'REGISTER') return true;
    return req.uri instanceof SipUri && req.uri.user === null;
  }

  private isLooped(req: SipRequest): boolean {
    const vias = req.vias;
    for (let i = 0; i < vias.length; i++) {
      const via = vias[i]!;
      if (!this.deps.identity.isOwnSentBy(via.host, via.port, via.transport)) continue;
      const branch = via.branch;
      const carried = branch ? hashOfBranch(branch) : null;
      if (carried === null) continue;
      const below = vias[i + 1];
      if (carried === loopHash(req, req.uri.toString(), below ? below.toString() : '')) return true;
    }
    return false;
  }

  private runRequestRoute(ctx: RequestContext): void {
    const router = this.router!;
    let result: void | Promise<void>;
    try {
      result = router.requestRoute(ctx);
    } catch (err) {
      this.routeFailed(ctx, err);
      return;
    }
    if (result !== undefined) {
      result.then(
        () => this.afterRoute(ctx),
        (err: unknown) => this.routeFailed(ctx, err),
      );
    } else {
      this.afterRoute(ctx);
    }
  }

  private afterRoute(ctx: RequestContext): void {
    if (ctx.handled) return;
    // A route that ends without reply or relay leaves a transaction hanging; answer instead.
    if (ctx.method === 'ACK') return;
    this.log.warn({ callId: safeCallId(ctx.request), method: ctx.method }, 'request route made no routing decision');
    const e = PROXY_ERRORS.SIP_ERR_NO_ROUTING_DECISION;
    this.reply(ctx, e.status, e.reason);
  }

  private routeFailed(ctx: RequestContext, err: unknown): void {
    const status = err instanceof ProxyError ? err.status : 500;
    const reason = err instanceof ProxyError ? err.reason : PROXY_ERRORS.SIP_ERR_INTERNAL.reason;
    this.log.error({ callId: safeCallId(ctx.request), err }, 'request route failed');
    if (!ctx.handled && ctx.method !== 'ACK') this.reply(ctx, status, reason);
  }

  // ---------------------------------------------------------------- replies we generate

  reply(ctx: RequestContext | FailureContext, status: number, reason?: string, extra?: [string, string][]): void {
    ctx.handled = true;
    if (ctx instanceof FailureContext) {
      const rc = this.contextOfRequest(ctx);
      if (rc) this.sendFinal(rc, this.localResponse(rc, status, reason, extra));
      return;
    }
    if (ctx.serverTransaction) {
      // Read before responding: a final response parks the transaction's request as bytes.
      const received = ctx.serverTransaction.request;
      const res = this.respond(ctx.serverTransaction, ctx.request, status, reason, extra);
      if (status >= 200 && ctx.observers !== null) notify(ctx, received, ctx.source, res);
    } else if (ctx.method !== 'ACK') this.replyStateless(ctx.request, ctx.source, status, reason, extra);
  }

  private localResponse(rc: ResponseContext, status: number, reason?: string, extra?: [string, string][]): SipResponse {
    return createResponse(rc.original, status, reason, { toTag: rc.toTag, extra: this.withServer(extra) });
  }

  private withServer(extra?: [string, string][]): [string, string][] {
    const out: [string, string][] = extra ? [...extra] : [];
    // An empty serverHeader sends none: no signature for scanners such as svmap to match.
    if (this.deps.config.serverHeader !== '') out.push(['Server', this.deps.config.serverHeader]);
    return out;
  }

  private respond(stx: ServerTransaction, req: SipRequest, status: number, reason?: string, extra?: [string, string][]): SipResponse {
    const res = createResponse(req, status, reason, { toTag: status > 100 ? generateTag() : undefined, extra: this.withServer(extra) });
    this.deps.stats.countReply(status);
    stx.respond(res);
    return res;
  }

  private replyStateless(req: SipRequest, source: MessageSource, status: number, reason?: string, extra?: [string, string][]): void {
    const res = createResponse(req, status, reason, { toTag: status > 100 ? generateTag() : undefined, extra: this.withServer(extra) });
    this.deps.stats.countReply(status);
    this.deps.transport.sendResponse(res, source);
  }

  // ---------------------------------------------------------------- relaying (§16.6)

  relay(ctx: RequestContext | FailureContext): void {
    ctx.handled = true;
    if (ctx instanceof RequestContext && ctx.serverTransaction === null) {
      this.forwardStateless(ctx);
      return;
    }
    let rc: ResponseContext | undefined;
    if (ctx instanceof RequestContext) {
      const stx = ctx.serverTransaction!;
      rc = this.contexts.get(stx.id);
      if (!rc) {
        // The server transaction's request is the one received; routing changed only its R-URI
        // and Route set, which local responses (§8.2.6: Via, From, To, Call-ID, CSeq) don't use.
        rc = new ResponseContext(stx, stx.request, ctx);
        this.contexts.set(stx.id, rc);
      }
    } else {
      rc = this.contextOfRequest(ctx);
      if (!rc) return;
    }
    rc.forwarding = ctx;
    if (rc.canceled && rc.original.method === 'INVITE') {
      // §16.10: the caller already cancelled; nothing new may be started.
      this.sendFinal(rc, this.localResponse(rc, 487, 'Request Terminated'));
      return;
    }
    // The R-URI is the first branch; appended targets (location contacts, append_branch) follow.
    this.startBranch(rc, ctx, { uri: ctx.request.uri, nextHop: ctx.nextHop });
    for (const t of ctx.targets) this.startBranch(rc, ctx, t);
    // Kamailio's t_set_fr: the timeout covers the branches of this relay only; a relay without
    // one (e.g. a failure route's) disarms what an earlier relay armed.
    if (ctx.finalResponseTimeout !== null && rc.pending > 0) {
      rc.owner = this;
      this.deps.wheel.schedule(rc.frTimer, ctx.finalResponseTimeout);
    } else {
      this.deps.wheel.cancel(rc.frTimer);
    }
  }

  /**
   * The route's final-response timeout fired (Kamailio's fr_inv_timer): every branch still
   * without a final is CANCELled if it had a provisional (RFC 3261 §9.1; without one the CANCEL
   * waits for it) and counts as a local 408, so the failure route runs as for any 408 (§16.7
   * step 2, §16.8).
   */
  onFinalResponseTimeout(rc: ResponseContext): void {
    if (rc.finalSent || this.contexts.get(rc.stx.id) !== rc) return;
    const e = PROXY_ERRORS.SIP_ERR_REQUEST_TIMEOUT;
    const open = rc.branches.filter((b) => b.final === null);
    for (const b of open) this.cancelBranch(b);
    for (const b of open) {
      if (b.final !== null) continue;
      this.branchFinal(b, this.localResponse(rc, e.status, e.reason));
    }
  }

  private contextOfRequest(ctx: FailureContext): ResponseContext | undefined {
    return this.contexts.get(ctx.contextKey);
  }

  private startBranch(rc: ResponseContext, ctx: RequestContext | FailureContext, target: Target): void {
    const branch = new Branch(rc, target);
    rc.branches.push(branch);
    const req = ctx.request.clone();
    req.uri = target.uri;
    this.prepareForward(req, ctx);
    let dest: TransportAddress | Promise<TransportAddress>;
    try {
      dest = this.deps.resolver.resolve(target.nextHop ?? nextHopUri(req));
    } catch (err) {
      this.branchFailed(branch, req, err);
      return;
    }
    if (dest instanceof Promise) {
      dest.then(
        (d) => this.sendBranch(branch, req, ctx, d),
        (err: unknown) => this.branchFailed(branch, req, err),
      );
    } else {
      this.sendBranch(branch, req, ctx, dest);
    }
  }

  /** §16.6 steps 3, 5, 6: Max-Forwards, extra headers, strict-route fix-up. */
  private prepareForward(req: SipRequest, ctx: RequestContext | FailureContext): void {
    const mf = req.maxForwards;
    req.headers.set('Max-Forwards', String(mf === null ? 70 : mf - 1));
    for (const [name, value] of ctx.extraHeaders) req.headers.append(name, value);
    strictRouteFixup(req);
  }

  private sendBranch(branch: Branch, req: SipRequest, ctx: RequestContext | FailureContext, dest: TransportAddress): void {
    const rc = branch.context;
    if (rc.finalSent && rc.original.method !== 'INVITE') return;
    const transport = this.deps.transport.select(dest, this.incomingTransport(rc.stx.source));
    if (!transport) {
      this.branchFailed(branch, req, new UnresolvableError(`no ${dest.protocol} transport for ${dest.address}`));
      return;
    }
    if (ctx.recordRouteRequested) this.addRecordRoute(req, rc.stx.source, transport);
    // §16.6 step 8: our Via with a loop-detecting branch.
    const below = req.vias[0];
    const hash = loopHash(req, ctx instanceof RequestContext ? ctx.requestUriAsReceived : rc.original.uri.toString(), below ? below.toString() : '');
    req.pushVia(this.deps.transport.viaFor(transport, statefulBranch(hash)));
    branch.request = req;
    branch.destination = dest;
    branch.transport = transport;
    const tx = this.transactions!.createClientTransaction(req, dest, transport);
    branch.tx = tx;
    this.branchesByTx.set(tx.id, branch);
    this.deps.stats.requestsForwarded++;
  }

  private incomingTransport(source: MessageSource): Transport | null {
    const l = source.local;
    for (const t of this.deps.transport.transports) {
      if (t.protocol === l.protocol && t.local.address === l.address && t.local.port === l.port) return t;
    }
    return null;
  }

  /**
   * §16.6 step 4: Record-Route with a URI that reaches us. When the request leaves on another
   * socket than it came in on (UDP in, TCP out; IPv4 in, IPv6 out), two entries are inserted so
   * each side sees the address it can reach (Kamailio's double record-routing, "r2=on").
   */
  private addRecordRoute(req: SipRequest, source: MessageSource, out: Transport): void {
    const inbound = this.incomingTransport(source);
    // §16.6 step 4: a SIPS R-URI or top Route (after the strict-route fix-up) asks for a SIPS Record-Route.
    const secure = req.uri.scheme === 'sips' || req.routes[0]?.uri.scheme === 'sips';
    for (const value of recordRouteValues(inbound, out, this.deps.identity.advertised, secure).reverse()) {
      req.headers.prepend('Record-Route', value);
    }
  }

  private branchFailed(branch: Branch, req: SipRequest, err: unknown): void {
    const unresolvable = err instanceof UnresolvableError;
    this.log.warn({ callId: safeCallId(req), err: (err as Error).message }, 'branch could not be sent');
    const e = unresolvable ? PROXY_ERRORS.SIP_ERR_UNRESOLVABLE : PROXY_ERRORS.SIP_ERR_TRANSPORT_FAILURE;
    this.branchFinal(branch, this.localResponse(branch.context, e.status, e.reason));
  }

  /** The book's `forward()` and the path of ACK for 2xx / unmatched CANCEL (§16.11). */
  forwardStateless(ctx: RequestContext): void {
    ctx.handled = true;
    const req = ctx.request;
    this.prepareForward(req, ctx);
    let dest: TransportAddress | Promise<TransportAddress>;
    try {
      dest = this.deps.resolver.resolve(nextHopUri(req));
    } catch (err) {
      this.statelessFailed(ctx, err);
      return;
    }
    if (dest instanceof Promise) {
      dest.then(
        (d) => this.sendStateless(ctx, d),
        (err: unknown) => this.statelessFailed(ctx, err),
      );
    } else {
      this.sendStateless(ctx, dest);
    }
    if (ctx.serverTransaction) ctx.serverTransaction.terminate();
  }

  private sendStateless(ctx: RequestContext, dest: TransportAddress): void {
    const req = ctx.request;
    const transport = this.deps.transport.select(dest, this.incomingTransport(ctx.source));
    if (!transport) {
      this.statelessFailed(ctx, new UnresolvableError(`no ${dest.protocol} transport for ${dest.address}`));
      return;
    }
    if (ctx.recordRouteRequested) this.addRecordRoute(req, ctx.source, transport);
    const top = req.vias[0];
    const branch = statelessBranch(top?.branch ?? `${req.callId}|${req.cseq.seq}`, `${dest.address}:${dest.port}`);
    req.pushVia(this.deps.transport.viaFor(transport, branch));
    this.deps.transport.send(req.toBuffer(), dest, transport);
    this.deps.stats.requestsForwarded++;
  }

  private statelessFailed(ctx: RequestContext, err: unknown): void {
    this.log.warn({ callId: safeCallId(ctx.request), err: (err as Error).message }, 'stateless forward failed');
    if (ctx.method !== 'ACK') {
      const e = err instanceof UnresolvableError ? PROXY_ERRORS.SIP_ERR_UNRESOLVABLE : PROXY_ERRORS.SIP_ERR_TRANSPORT_FAILURE;
      this.replyStateless(ctx.request, ctx.source, e.status, e.reason);
    }
  }

  // ---------------------------------------------------------------- CANCEL (§16.10)

  private onCancel(cancelStx: ServerTransaction, inviteStx: ServerTransaction): void {
    // §16.10: answer the CANCEL itself at once, then cancel every pending branch.
    this.respond(cancelStx, cancelStx.request, 200, 'OK');
    const rc = this.contexts.get(inviteStx.id);
    if (!rc) {
      // Not relayed yet (route still running): remember, relay() will answer 487.
      if (!inviteStx.finalSent) {
        const fresh = new ResponseContext(inviteStx, inviteStx.request.clone(), new RequestContext(this, inviteStx.request, inviteStx.source, inviteStx, ''));
        fresh.canceled = true;
        this.contexts.set(inviteStx.id, fresh);
      }
      return;
    }
    rc.canceled = true;
    for (const b of rc.branches) this.cancelBranch(b);
  }

  /** RFC 3261 §9.1: CANCEL only a branch with a provisional and no final; else remember. */
  private cancelBranch(b: Branch): void {
    if (b.cancelSent || b.tx === null || b.request === null) return;
    // A branch with a final is done, unless that final was our own (a final-response timeout)
    // and the CANCEL still waits for the branch's first provisional.
    if (b.final !== null && !b.cancelWanted) return;
    if (b.provisional === 0) {
      b.cancelWanted = true;
      return;
    }
    b.cancelSent = true;
    const cancel = createCancel(b.request);
    const tx = this.transactions!.createClientTransaction(cancel, b.destination!, b.transport);
    this.cancelTxs.add(tx.id);
  }

  // ---------------------------------------------------------------- responses (§16.7)

  onResponse(tx: ClientTransaction, res: SipResponse): void {
    this.deps.stats.responsesReceived++;
    if (this.cancelTxs.has(tx.id)) {
      if (res.status >= 200) this.cancelTxs.delete(tx.id);
      return;
    }
    const branch = this.branchesByTx.get(tx.id);
    if (!branch) {
      // RFC 6026: the INVITE client transaction (Accepted state) still passes 2xx retransmissions
      // up after the response context ended; they go upstream by the Via.
      if (res.status >= 200 && res.status < 300) this.relayByVia(res);
      return;
    }
    const rc = branch.context;
    if (this.contexts.get(rc.stx.id) !== rc) {
      this.lateResponse(branch, tx, res);
      return;
    }
    // §16.7 step 3: remove our Via.
    res.popVia();
    if (rc.replyChain !== null) {
      // An earlier response waits for its reply route: this one goes out after it.
      this.chainReply(rc, rc.replyChain.then(() => this.handleResponse(branch, res)));
      return;
    }
    this.handleResponse(branch, res);
  }

  /** Queues a held response's continuation; the chain clears itself when it drains. */
  private chainReply(rc: ResponseContext, p: Promise<void>): void {
    const chained = p.catch((err: unknown) => this.log.error({ callId: safeCallId(rc.original), err }, 'held response failed'));
    rc.replyChain = chained;
    void chained.then(() => {
      if (rc.replyChain === chained) rc.replyChain = null;
    });
  }

  /** Runs the reply route, then passes the response upstream (once it settled, when asynchronous). */
  private replyRouteThenPass(rc: ResponseContext, branch: Branch, res: SipResponse): void {
    const verdict = this.runReplyRoute(rc, branch, res);
    if (verdict === true) this.passResponse(rc, branch, res);
    else if (verdict !== false) {
      this.chainReply(
        rc,
        verdict.then((pass) => {
          if (pass) this.passResponse(rc, branch, res);
        }),
      );
    }
  }

  /** §16.7 step 5: a provisional goes upstream unless a final went out; a 2xx always does. */
  private passResponse(rc: ResponseContext, branch: Branch, res: SipResponse): void {
    if (res.status >= 200) this.forward2xx(rc, branch, res);
    else if (!rc.finalSent) rc.stx.respond(res);
  }

  private handleResponse(branch: Branch, res: SipResponse): void {
    const rc = branch.context;
    if (res.status < 200) {
      branch.provisional = Math.max(branch.provisional, res.status);
      if (branch.cancelWanted || (rc.canceled && !branch.cancelSent)) this.cancelBranch(branch);
      // §16.7 step 5: 100 is not forwarded; other provisionals are, unless a final went out.
      // A branch already given up (final-response timeout) only gets its CANCEL.
      if (res.status === 100 || rc.finalSent || branch.final !== null) return;
      this.replyRouteThenPass(rc, branch, res);
      return;
    }
    if (res.status < 300) {
      // 2xx: forward every one at once (§16.7 step 5), cancel the other branches.
      const first = branch.final === null;
      if (first) this.branchDone(branch, res);
      this.replyRouteThenPass(rc, branch, res);
      return;
    }
    if (branch.final !== null) return;
    this.branchFinal(branch, res);
  }

  private forward2xx(rc: ResponseContext, branch: Branch, res: SipResponse): void {
    if (rc.original.method !== 'INVITE' && rc.finalSent) return;
    rc.finalSent = true;
    this.deps.stats.countRelayedFinal(res.status);
    rc.stx.respond(res);
    this.notifyFinal(rc, res);
    if (rc.original.method === 'INVITE') for (const b of rc.branches) if (b !== branch) this.cancelBranch(b);
    this.maybeRelease(rc);
  }

  /**
   * A response for a branch whose context was released while the branch waited for a provisional
   * to be CANCELled (a final-response timeout gave it up, RFC 3261 §9.1): a provisional lets the
   * CANCEL go now; a final ends it. A 2xx here answers a call whose caller already has its final
   * response; it is not passed on (the callee's UA ends that dialog when its 2xx is not ACKed).
   */
  private lateResponse(branch: Branch, tx: ClientTransaction, res: SipResponse): void {
    if (res.status < 200) {
      branch.provisional = Math.max(branch.provisional, res.status);
      this.cancelBranch(branch);
      return;
    }
    this.branchesByTx.delete(tx.id);
  }

  /** A given-up branch (see lateResponse) is forgotten when its transaction ends. */
  private forgetReleased(branch: Branch, tx: ClientTransaction): void {
    if (this.contexts.get(branch.context.stx.id) !== branch.context) this.branchesByTx.delete(tx.id);
  }

  onTimeout(tx: ClientTransaction): void {
    if (this.cancelTxs.delete(tx.id)) return;
    const branch = this.branchesByTx.get(tx.id);
    if (!branch) return;
    if (branch.final !== null) {
      this.forgetReleased(branch, tx);
      return;
    }
    // §16.7 step 2 / §16.8: a timeout counts as a 408 for response selection.
    const e = PROXY_ERRORS.SIP_ERR_REQUEST_TIMEOUT;
    this.branchFinal(branch, this.localResponse(branch.context, e.status, e.reason));
  }

  onTransportError(tx: ClientTransaction, err: Error): void {
    if (this.cancelTxs.delete(tx.id)) return;
    const branch = this.branchesByTx.get(tx.id);
    if (!branch) return;
    if (branch.final !== null) {
      this.forgetReleased(branch, tx);
      return;
    }
    this.log.warn({ callId: safeCallId(tx.request), err: err.message }, 'transport error on branch');
    const e = PROXY_ERRORS.SIP_ERR_TRANSPORT_FAILURE;
    this.branchFinal(branch, this.localResponse(branch.context, e.status, e.reason));
  }

  /**
   * §16.6 step 11: Timer C (armed and reset by the INVITE client transaction) fired: CANCEL a
   * branch that got a provisional, else treat it as a 408.
   */
  onTimerC(tx: ClientTransaction): void {
    const branch = this.branchesByTx.get(tx.id);
    if (!branch || branch.final !== null) return;
    if (branch.provisional > 0) {
      this.cancelBranch(branch);
    } else {
      const e = PROXY_ERRORS.SIP_ERR_REQUEST_TIMEOUT;
      this.branchFinal(branch, this.localResponse(branch.context, e.status, e.reason));
    }
  }

  /**
   * A response matching no client transaction. Responses to requests we forwarded statelessly
   * (§16.11, our `-sl` branches, or everything in stateless relay mode) are relayed by the Via.
   * Any other stray is dropped: RFC 6026 updates §16.7 so that a stateful proxy no longer
   * forwards stray responses (2xx retransmissions are caught by the Accepted state instead).
   */
  onStrayResponse(res: SipResponse, _source?: MessageSource): void {
    const top = res.vias[0];
    if (!top || !this.deps.identity.isOwnSentBy(top.host, top.port, top.transport)) {
      this.log.debug({ callId: safeCallId(res), status: res.status }, 'stray response not for us, dropped');
      return;
    }
    if (this.deps.config.relayMode !== 'stateless' && !isStatelessBranch(top.branch)) {
      this.log.debug({ callId: safeCallId(res), status: res.status }, 'stray response dropped (RFC 6026)');
      return;
    }
    this.relayByVia(res);
  }

  /** Removes our Via and sends the response to the next one (§16.7 step 3, §18.2.2). */
  private relayByVia(res: SipResponse): void {
    res.popVia();
    if (res.vias.length === 0) return; // it was for a request we originated
    this.deps.transport.sendResponse(res);
  }

  onServerTransactionTerminated(stx: ServerTransaction): void {
    const rc = this.contexts.get(stx.id);
    if (rc && rc.pending === 0) this.release(rc);
  }

  /** true/false: pass or drop now; a promise when the route is asynchronous (it never rejects). */
  private runReplyRoute(rc: ResponseContext, branch: Branch, res: SipResponse): boolean | Promise<boolean> {
    const route = rc.forwarding.replyRoute;
    if (route === null) return true;
    const ctx = new ReplyContext(rc.original, res, replySource(branch));
    let result: void | Promise<void>;
    try {
      result = route(ctx);
    } catch (err) {
      this.log.error({ callId: safeCallId(res), err }, 'reply route failed');
      return !ctx.dropped;
    }
    if (result === undefined) return !ctx.dropped;
    return result.then(
      () => !ctx.dropped,
      (err: unknown) => {
        // A failed rewrite (media relay down) still lets the reply through, as it came.
        this.log.error({ callId: safeCallId(res), err }, 'reply route failed');
        return !ctx.dropped;
      },
    );
  }

  private branchDone(branch: Branch, res: SipResponse): void {
    branch.final = res;
    // The branch stays in branchesByTx until the context is released: 2xx retransmissions of an
    // INVITE (RFC 6026 Accepted state) still find it and are forwarded.
  }

  /** A branch ended with a final >= 300 (or a local 408/503/478): §16.7 steps 5–6. */
  private branchFinal(branch: Branch, res: SipResponse): void {
    const rc = branch.context;
    this.branchDone(branch, res);
    if (res.status >= 600 && !rc.got6xx) {
      rc.got6xx = true;
      // §16.7 step 5: after a 6xx, pending branches SHOULD be cancelled.
      for (const b of rc.branches) this.cancelBranch(b);
    }
    if (rc.pending > 0) return;
    if (rc.finalSent) {
      this.maybeRelease(rc);
      return;
    }
    const best = selectBestResponse(rc.branches);
    this.completeContext(rc, best);
  }

  /** All branches failed: run the failure route (serial forking) or send the best response. */
  private completeContext(rc: ResponseContext, best: SipResponse): void {
    const route = rc.forwarding.failureRoute;
    if (route !== null) {
      const fctx = new FailureContext(this, rc.forwarding.request.clone(), best, rc.canceled, rc.stx.id);
      // Routes and handlers carry over so a failure route can re-arm itself explicitly.
      fctx.recordRouteRequested = rc.forwarding.recordRouteRequested;
      for (const f of rc.forwarding.flags) fctx.flags.add(f);
      fctx.observers = rc.forwarding.observers;
      // Transaction AVPs (the LCR hunt, the callee) live as long as the transaction.
      fctx.avps = rc.forwarding.avps;
      rc.forwarding.failureRoute = null;
      rc.forwarding = fctx;
      let result: void | Promise<void>;
      try {
        result = route(fctx);
      } catch (err) {
        this.log.error({ callId: safeCallId(rc.original), err }, 'failure route failed');
        result = undefined;
      }
      const after = (): void => {
        if (!fctx.handled) this.sendFinal(rc, this.upstreamFinal(rc, best));
      };
      if (result !== undefined) result.then(after, (err: unknown) => {
        this.log.error({ callId: safeCallId(rc.original), err }, 'failure route failed');
        after();
      });
      else after();
      return;
    }
    this.sendFinal(rc, this.upstreamFinal(rc, best));
  }

  /**
   * §16.7 step 6: a selected 503 is not passed upstream as is (it would tell the caller that
   * this proxy is unavailable); it becomes a 500. A 503 a route replies on purpose is sent as is.
   */
  private upstreamFinal(rc: ResponseContext, best: SipResponse): SipResponse {
    if (best.status !== 503) return best;
    return this.localResponse(rc, 500, 'Server Internal Error');
  }

  private sendFinal(rc: ResponseContext, res: SipResponse): void {
    if (rc.finalSent) return;
    rc.finalSent = true;
    this.deps.stats.countRelayedFinal(res.status);
    rc.stx.respond(res);
    this.notifyFinal(rc, res);
    this.maybeRelease(rc);
  }

  private notifyFinal(rc: ResponseContext, res: SipResponse): void {
    if (rc.notified || rc.forwarding.observers === null) return;
    rc.notified = true;
    notify(rc.forwarding, rc.original, rc.stx.source, res);
  }

  private maybeRelease(rc: ResponseContext): void {
    if (rc.finalSent && rc.pending === 0) this.release(rc);
  }

  private release(rc: ResponseContext): void {
    this.deps.wheel.cancel(rc.frTimer);
    this.contexts.delete(rc.stx.id);
    for (const b of rc.branches) {
      if (b.tx === null) continue;
      // A branch given up before any provisional keeps its entry until one arrives, so that it
      // can still be CANCELled (RFC 3261 §9.1), or until its transaction ends (lateResponse).
      if (b.cancelWanted && !b.cancelSent) continue;
      this.branchesByTx.delete(b.tx.id);
    }
  }

}

/**
 * Where a branch's responses come from: the address its request was sent to, on our socket that
 * sent it (a UDP UA answers from where it was reached, RFC 3581 §4; a stream reuses the connection).
 */
function replySource(branch: Branch): MessageSource | null {
  const d = branch.destination;
  const t = branch.transport;
  if (d === null || t === null) return null;
  return { protocol: d.protocol, address: d.address, port: d.port, local: t.local, connectionId: null };
}

/** The next hop of a request: the top Route if any (loose routing), else the R-URI (§16.6 step 7). */
function nextHopUri(req: SipRequest): Uri {
  return req.routes[0]?.uri ?? req.uri;
}

/** Tells every armed module how the transaction ended; a failing module never breaks routing. */
function notify(ctx: ForwardingContext, received: SipRequest, source: MessageSource, response: SipResponse): void {
  const event = { received, routed: ctx.request, response, source, flags: ctx.flags, avps: ctx.avps };
  for (const o of ctx.observers!) {
    try {
      o.onFinalResponse(event);
    } catch {
      // Observers log their own failures; the SIP path goes on.
    }
  }
}


function unsupportedOptions(required: string[], supported: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const r of required) {
    const tag = r.trim().toLowerCase();
    if (tag && !supported.has(tag)) out.push(r.trim());
  }
  return out;
}

/**
 * RFC 3261 §16.7 step 6: choose among the final responses of all branches: any 6xx, otherwise
 * the lowest class; within 4xx prefer 401/407 (so the caller can authenticate) and combine their
 * challenges (§16.7 step 7); within a class, the first received.
 */
export function selectBestResponse(branches: readonly { final: SipResponse | null }[]): SipResponse {
  let best: SipResponse | null = null;
  const challenges: SipResponse[] = [];
  for (const b of branches) {
    const r = b.final;
    if (r === null) continue;
    if (r.status === 401 || r.status === 407) challenges.push(r);
    if (best === null || rank(r.status) < rank(best.status)) best = r;
  }
  if (best === null) throw new Error('selectBestResponse: no final response');
  if ((best.status === 401 || best.status === 407) && challenges.length > 1) {
    // §16.7 step 7: collect every WWW-Authenticate / Proxy-Authenticate into the chosen response.
    for (const c of challenges) {
      if (c === best) continue;
      for (const v of c.headers.getAll('www-authenticate')) best.headers.append('WWW-Authenticate', v);
      for (const v of c.headers.getAll('proxy-authenticate')) best.headers.append('Proxy-Authenticate', v);
    }
  }
  return best;
}

function rank(status: number): number {
  if (status >= 600) return 0;
  const cls = Math.floor(status / 100);
  // Within 4xx, challenges first (they let the caller retry with credentials), then the rest.
  if (status === 401 || status === 407) return cls * 1000;
  // 408 and 503/500 synthesized locally are the least informative within their class.
  if (status === 408) return cls * 1000 + 999;
  return cls * 1000 + 1;
}

function safeCallId(msg: SipRequest | SipResponse): string | undefined {
  try {
    return msg.callId;
  } catch {
    return undefined;
  }
}
