import type { SipRequest, SipResponse } from '../message/index.js';
import type { MessageSource, Transport, TransportAddress, TransportLayer } from '../transport/index.js';
import type { Logger } from '../util/logger.js';
import type { TimerWheel } from '../util/timer-wheel.js';
import type { TimerValues } from './timers.js';

/** The state names of RFC 3261 §17 and RFC 6026 ("Accepted"). */
export type InviteClientState = 'Calling' | 'Proceeding' | 'Completed' | 'Accepted' | 'Terminated';
export type NonInviteClientState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
export type InviteServerState = 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';
export type NonInviteServerState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

export interface ServerTransaction {
  /** Matching key (§17.2.3). */
  readonly id: string;
  readonly request: SipRequest;
  readonly source: MessageSource;
  readonly isInvite: boolean;
  readonly state: InviteServerState | NonInviteServerState;
  /**
   * Sends a response through the state machine and keeps it for retransmissions. Responses
   * the machine does not allow are discarded (RFC 3261 §17.2.2) and logged; a 2xx after an
   * INVITE transaction already sent a non-2xx final is still sent (§16.7 step 5: a proxy
   * forwards every 2xx).
   */
  respond(res: SipResponse): void;
  /** True once a final response was sent. */
  readonly finalSent: boolean;
  readonly lastResponse: SipResponse | null;
  /**
   * Ends the transaction without (further) responses: timers cleared, removed from the table;
   * later retransmissions of the request reach the TU again as new requests.
   */
  terminate(): void;
}

export interface ClientTransaction {
  /** Matching key (§17.1.3): branch + method. */
  readonly id: string;
  readonly request: SipRequest;
  readonly destination: TransportAddress;
  readonly isInvite: boolean;
  readonly state: InviteClientState | NonInviteClientState;
  readonly branch: string;
  /** The listener it sends on (null when none fits: the send fails, onTransportError follows). */
  readonly transport: Transport | null;
  /** The last response received (passed up or not). */
  readonly lastResponse: SipResponse | null;
}

/**
 * The transaction user (the proxy core) implements this; the transaction layer calls it.
 * No closures per transaction: the same object gets (tx, msg) for every transaction.
 */
export interface TransactionUser {
  /**
   * A new request created a server transaction (not ACK). For CANCEL this is called only
   * when it matched an INVITE server transaction (RFC 3261 §9.2), given as `cancelled`;
   * an unmatched CANCEL goes to onStatelessRequest (a proxy forwards it, §16.10).
   */
  onRequest(tx: ServerTransaction, cancelled: ServerTransaction | null): void;
  /**
   * Requests handled without a server transaction: the ACK for a 2xx (end to end; also an ACK
   * matching an INVITE server transaction in RFC 6026 "Accepted"), an unmatched CANCEL, and
   * every request when the layer runs stateless.
   */
  onStatelessRequest(req: SipRequest, source: MessageSource): void;
  /**
   * A response matched a client transaction and goes up (RFC 3261 §17.1: 1xx, 2xx — incl.
   * 2xx retransmissions in the RFC 6026 Accepted state — and the first non-2xx final).
   */
  onResponse(tx: ClientTransaction, res: SipResponse): void;
  /** Timer B/F fired (§17.1.1.2 / §17.1.2.2): the TU treats it as a 408. */
  onTimeout(tx: ClientTransaction): void;
  /**
   * The transport failed before a final response arrived (§8.1.3.1, §17.1.1.2, §17.1.2.2):
   * the TU treats it as a 503.
   */
  onTransportError(tx: ClientTransaction, err: Error): void;
  /** A response matching no client transaction: a proxy forwards it statelessly (§16.7, §16.11). */
  onStrayResponse(res: SipResponse, source: MessageSource): void;
  /**
   * Timer C fired (RFC 3261 §16.8) for an INVITE client transaction still in Calling or
   * Proceeding: the proxy CANCELs it (Proceeding) or treats it as a 408 (Calling).
   * Only armed when `TimerSettings.timerC` is set.
   */
  onTimerC?(tx: ClientTransaction): void;
  /** Timer H fired (§17.2.1): the ACK for a non-2xx final never came. */
  onServerTimeout?(tx: ServerTransaction): void;
  /** The server transaction ended (Terminated) — lets the TU drop its per-call state. */
  onServerTransactionTerminated?(tx: ServerTransaction): void;
}

/** Counters for metrics (monotonic, except the two `active*` gauges). */
export interface TransactionStats {
  serverTransactions: number;
  clientTransactions: number;
  activeServerTransactions: number;
  activeClientTransactions: number;
  /** Request retransmissions (and duplicate ACKs) absorbed by server transactions. */
  retransmissionsAbsorbed: number;
  /** Requests re-sent by Timer A/E. */
  requestRetransmissions: number;
  /** Responses re-sent by Timer G or on a request retransmission. */
  responseRetransmissions: number;
  /** ACKs re-sent for retransmitted non-2xx finals (§17.1.1.2). */
  ackRetransmissions: number;
  /** Timer B/F expiries reported to the TU. */
  timeouts: number;
  /** Timer C expiries reported to the TU. */
  timerC: number;
  /** Timer H expiries (no ACK). */
  serverTimeouts: number;
  /** Transport failures received from the transport layer. */
  transportErrors: number;
  strayResponses: number;
  statelessRequests: number;
  parseErrors: number;
  /** Error responses sent without a transaction (parse errors). */
  statelessReplies: number;
  /** Exceptions thrown by TU callbacks (caught and logged). */
  tuErrors: number;
}

/** What a transaction needs from its layer (internal). */
export interface TransactionCore {
  readonly wheel: TimerWheel;
  readonly timers: TimerValues;
  readonly tu: TransactionUser;
  readonly transport: TransportLayer;
  readonly stats: TransactionStats;
  readonly log: Logger;
  clientTerminated(tx: ClientTransactionInternal): void;
  serverTerminated(tx: ServerTransactionInternal): void;
}

/** Methods the layer calls on client transactions (internal). */
export interface ClientTransactionInternal extends ClientTransaction {
  start(): void;
  receiveResponse(res: SipResponse): void;
  transportFailed(err: Error): void;
  /** Ends without TU callbacks (layer shutdown). */
  dispose(): void;
}

/** Methods the layer calls on server transactions (internal). */
export interface ServerTransactionInternal extends ServerTransaction {
  /** RFC 2543 fallback matching was used: the To tag must also match (§17.2.3). */
  readonly rfc2543: boolean;
  /** A retransmission of the request that created it. */
  receiveRequest(req: SipRequest): void;
  /** An ACK matching this transaction (INVITE only). */
  receiveAck(ack: SipRequest, source: MessageSource): void;
  dispose(): void;
}
