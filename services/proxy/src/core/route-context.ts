/**
 * The objects route functions work on. Each route kind has its own context type, so a call
 * that is not allowed in a route kind does not compile (STYLE.md §6): only a RequestContext
 * can `relay()` a new request, only a FailureContext can see the winning failure response,
 * a ReplyContext can only inspect or drop a provisional/2xx reply.
 *
 * Contexts hold no logic of their own; they delegate to the proxy core through `ProxyActions`.
 */
import type { MessageSource, SipRequest, SipResponse, ServerTransaction, Uri } from '@voip/sip';

/** One destination of a request: the R-URI to put in the copy, and optionally the next hop. */
export interface Target {
  uri: Uri;
  /** Send here instead of the R-URI/Route (Kamailio's $du), e.g. a NATed contact's source. */
  nextHop?: Uri | null;
  /** RFC 3261 §16.6: q-value for ordering; informational for parallel forking. */
  q?: number;
}

/**
 * May return a promise (an rtpengine `answer` round trip rewriting the SDP): the core then holds
 * this reply, and the later replies of the same transaction behind it, until it settles.
 */
export type ReplyRoute = (ctx: ReplyContext) => void | Promise<void>;

/** What a module armed on a request learns when its transaction gets its final response. */
export interface FinalResponseEvent {
  /** The request as received (From, To, Call-ID, User-Agent of the caller's side). */
  readonly received: SipRequest;
  /** The request as routed (its R-URI is the final target). */
  readonly routed: SipRequest;
  readonly response: SipResponse;
  readonly source: MessageSource;
  readonly flags: ReadonlySet<string>;
  /** The transaction's AVPs as the routes left them (a module reads its own keys). */
  readonly avps: ReadonlyMap<symbol, unknown>;
}

/**
 * Modules that must see how a transaction ended (acc) register themselves on the context; the
 * core calls them once, when the first final response goes upstream (a 2xx, the best final
 * after all branches, or a local reply). An object with a method, not a closure (STYLE.md §13).
 */
export interface FinalResponseObserver {
  onFinalResponse(event: FinalResponseEvent): void;
}
export type FailureRoute = (ctx: FailureContext) => void | Promise<void>;

/** What contexts ask of the proxy core. Implemented by ProxyCore. */
export interface ProxyActions {
  reply(ctx: ForwardingContext, status: number, reason?: string, extra?: [string, string][]): void;
  relay(ctx: ForwardingContext): void;
  forwardStateless(ctx: RequestContext): void;
  isMyself(uri: Uri): boolean;
  readonly tracingHints: boolean;
}

/** State shared by request and failure contexts: the request as it will be forwarded. */
export abstract class ForwardingContext {
  /** Extra targets besides the R-URI (the book's `append_branch`, location with several contacts). */
  targets: Target[] = [];
  /** Next hop for the R-URI branch (Kamailio's $du), e.g. the source address of a NATed contact. */
  nextHop: Uri | null = null;
  /** Set by record_route(): forwarded copies get our Record-Route (RFC 3261 §16.6 step 4). */
  recordRouteRequested = false;
  /** Named flags (acc, nat ...) set by routes, read by modules and the core. */
  readonly flags = new Set<string>();
  /** Headers appended to every forwarded copy (the book's `append_hf`). */
  readonly extraHeaders: [string, string][] = [];
  failureRoute: FailureRoute | null = null;
  replyRoute: ReplyRoute | null = null;
  /** A routing decision was made (reply sent, request relayed or forwarded). */
  handled = false;
  /** Modules to tell about the final response; null while none is armed. */
  observers: FinalResponseObserver[] | null = null;
  /**
   * Kamailio's `t_set_fr()`: how long (ms) the branches of the next relay may go without a final
   * response before they are CANCELled and count as a local 408; null = the transaction timers only.
   */
  finalResponseTimeout: number | null = null;
  /**
   * Kamailio's transaction AVPs: values a route or module keeps for the rest of the transaction
   * (the LCR hunt, the callee before lookup). The failure route sees the same map. Modules key it
   * with their own symbols.
   */
  avps = new Map<symbol, unknown>();

  constructor(
    protected readonly actions: ProxyActions,
    readonly request: SipRequest,
  ) {}

  get method(): string {
    return this.request.method;
  }

  /** `uri==myself` on the current Request-URI. */
  uriIsMyself(): boolean {
    return this.actions.isMyself(this.request.uri);
  }

  isMyself(uri: Uri): boolean {
    return this.actions.isMyself(uri);
  }

  appendHeader(name: string, value: string): void {
    this.extraHeaders.push([name, value]);
  }

  /** The book's tracing aid: `append_hf("P-hint: ...")`, on when `tracingHints` is configured. */
  hint(text: string): void {
    if (this.actions.tracingHints) this.extraHeaders.push(['P-hint', text]);
  }

  /** Registers a module to be told the final response (once per module). */
  observe(o: FinalResponseObserver): void {
    if (this.observers === null) this.observers = [o];
    else if (!this.observers.includes(o)) this.observers.push(o);
  }

  /** Arms the failure route (Kamailio's t_on_failure) before relay. */
  setFailureRoute(route: FailureRoute): void {
    this.failureRoute = route;
  }

  /** Kamailio's `t_set_fr(ms)` for the next relay (see `finalResponseTimeout`). */
  setFinalResponseTimeout(ms: number): void {
    this.finalResponseTimeout = ms;
  }

  /** Arms the reply route (Kamailio's t_on_reply) before relay. */
  setReplyRoute(route: ReplyRoute): void {
    this.replyRoute = route;
  }

  /** Stateful relay to the R-URI and every appended target (t_relay). */
  relay(): void {
    this.actions.relay(this);
  }

  /** Replies statefully when a transaction exists, statelessly otherwise (sl_send_reply). */
  reply(status: number, reason?: string, extra?: [string, string][]): void {
    this.actions.reply(this, status, reason, extra);
  }
}

/** request_route and its sub-routes. */
export class RequestContext extends ForwardingContext {
  constructor(
    actions: ProxyActions,
    request: SipRequest,
    readonly source: MessageSource,
    /** null for requests handled without a transaction (ACK for 2xx, unmatched CANCEL, stateless mode). */
    readonly serverTransaction: ServerTransaction | null,
    /** RFC 3261 §16.6 step 8 hashes the R-URI as received, before any rewriting. */
    readonly requestUriAsReceived: string,
  ) {
    super(actions, request);
  }

  /** The book's `forward()`: stateless forwarding, no retransmissions, no failure handling. */
  forward(): void {
    this.actions.forwardStateless(this);
  }

  get isStateless(): boolean {
    return this.serverTransaction === null;
  }
}

/** failure_route: runs when every branch ended with a final response >= 300. */
export class FailureContext extends ForwardingContext {
  constructor(
    actions: ProxyActions,
    request: SipRequest,
    /** The response selected per RFC 3261 §16.7 step 6 (may be a local 408 on timeout). */
    readonly response: SipResponse,
    /** The caller CANCELled (Kamailio's t_is_canceled); a failure route must not re-route then. */
    readonly canceled: boolean,
    /** Identifies the response context this failure belongs to (core-internal). */
    readonly contextKey: string,
  ) {
    super(actions, request);
  }

  get status(): number {
    return this.response.status;
  }
}

/** onreply_route: sees each response before it is forwarded upstream. */
export class ReplyContext {
  dropped = false;
  constructor(
    readonly request: SipRequest,
    readonly response: SipResponse,
    /**
     * Where the reply came from: the address the branch was sent to (a UDP reply comes back from
     * it, RFC 3581 symmetric response routing) on our socket that sent it; null when unknown.
     */
    readonly source: MessageSource | null,
  ) {}

  get status(): number {
    return this.response.status;
  }

  /** Provisional responses only (RFC 3261 §16.7: finals go through response selection). */
  drop(): void {
    if (this.response.status < 200) this.dropped = true;
  }
}
