import { createResponse, generateTag, isRequest, SipResponse } from '../message/index.js';
import type { SipParseError, SipRequest } from '../message/index.js';
import { stampReceived } from '../transport/index.js';
import type { IncomingMessage, MessageSource, Transport, TransportAddress, TransportLayer, TransportSink } from '../transport/index.js';
import { silentLogger } from '../util/logger.js';
import type { Logger } from '../util/logger.js';
import { TimerWheel } from '../util/timer-wheel.js';
import { SipTransactionError } from './errors.js';
import { InviteClientTransaction } from './invite-client-transaction.js';
import { InviteServerTransaction } from './invite-server-transaction.js';
import { NonInviteClientTransaction } from './non-invite-client-transaction.js';
import { NonInviteServerTransaction } from './non-invite-server-transaction.js';
import { deriveTimers } from './timers.js';
import type { TimerSettings, TimerValues } from './timers.js';
import { clientKey, hasRfc3261Branch, serverKey, TransactionTable } from './transaction-table.js';
import type {
  ClientTransaction,
  ClientTransactionInternal,
  ServerTransactionInternal,
  TransactionCore,
  TransactionStats,
  TransactionUser,
} from './types.js';

export interface TransactionLayerOptions {
  timers: TimerSettings;
  logger?: Logger;
  /** RFC 3261 §16.2 / §17.2.1: send 100 Trying for a new INVITE at once. Default true. */
  sendTrying?: boolean;
  /** Every request goes to onStatelessRequest; no server transactions (stateless proxy). */
  stateless?: boolean;
  /** The shared timer wheel; one is created (real clock) when not given. */
  wheel?: TimerWheel;
}

function newStats(): TransactionStats {
  return {
    serverTransactions: 0,
    clientTransactions: 0,
    activeServerTransactions: 0,
    activeClientTransactions: 0,
    retransmissionsAbsorbed: 0,
    requestRetransmissions: 0,
    responseRetransmissions: 0,
    ackRetransmissions: 0,
    timeouts: 0,
    timerC: 0,
    serverTimeouts: 0,
    transportErrors: 0,
    strayResponses: 0,
    statelessRequests: 0,
    parseErrors: 0,
    statelessReplies: 0,
    tuErrors: 0,
  };
}

function callIdOf(m: SipRequest | SipResponse | null): string | undefined {
  if (m === null) return undefined;
  try {
    return m.headers.get('call-id');
  } catch {
    return undefined;
  }
}

/** The services transactions need, kept off the public TransactionLayer surface. */
class Core implements TransactionCore {
  readonly wheel: TimerWheel;
  readonly timers: TimerValues;
  readonly tu: TransactionUser;
  readonly transport: TransportLayer;
  readonly stats: TransactionStats;
  readonly log: Logger;
  readonly table: TransactionTable;

  constructor(wheel: TimerWheel, timers: TimerValues, tu: TransactionUser, transport: TransportLayer, log: Logger) {
    this.wheel = wheel;
    this.timers = timers;
    this.tu = tu;
    this.transport = transport;
    this.stats = newStats();
    this.log = log;
    this.table = new TransactionTable();
  }

  clientTerminated(tx: ClientTransactionInternal): void {
    if (this.table.removeClient(tx)) this.stats.activeClientTransactions--;
  }

  serverTerminated(tx: ServerTransactionInternal): void {
    if (!this.table.removeServer(tx)) return;
    this.stats.activeServerTransactions--;
    if (this.tu.onServerTransactionTerminated !== undefined) {
      try {
        this.tu.onServerTransactionTerminated(tx);
      } catch (err) {
        this.stats.tuErrors++;
        this.log.error({ err, callId: callIdOf(tx.request), tx: tx.id }, 'onServerTransactionTerminated threw');
      }
    }
  }
}

/**
 * The RFC 3261 §17 transaction layer: matches every message to its transaction (or creates
 * one), runs the four state machines on one shared timer wheel, and hands the transaction
 * user (the proxy core) exactly what §17 says goes up. It is the transport layer's sink
 * (the constructor registers it).
 */
export class TransactionLayer implements TransportSink {
  readonly stats: TransactionStats;
  readonly table: TransactionTable;
  readonly wheel: TimerWheel;
  readonly timers: TimerValues;
  private readonly core: Core;
  private readonly transport: TransportLayer;
  private readonly tu: TransactionUser;
  private readonly log: Logger;
  private readonly sendTrying: boolean;
  private readonly stateless: boolean;
  private readonly ownsWheel: boolean;

  constructor(transport: TransportLayer, tu: TransactionUser, opts: TransactionLayerOptions) {
    this.timers = deriveTimers(opts.timers);
    this.log = (opts.logger ?? silentLogger).child({ layer: 'sip.transaction' });
    this.ownsWheel = opts.wheel === undefined;
    this.wheel = opts.wheel ?? new TimerWheel();
    if (this.wheel.onTargetError === null) {
      this.wheel.onTargetError = (err: unknown): void => {
        this.core.stats.tuErrors++;
        this.log.error({ err }, 'timer handler threw');
      };
    }
    this.core = new Core(this.wheel, this.timers, tu, transport, this.log);
    this.stats = this.core.stats;
    this.table = this.core.table;
    this.transport = transport;
    this.tu = tu;
    this.sendTrying = opts.sendTrying ?? true;
    this.stateless = opts.stateless ?? false;
    transport.setSink(this);
  }

  /**
   * Starts a client transaction: sends `req` (its top Via, with a fresh RFC 3261 branch,
   * already added by the caller) to `dest` on `via` (or the transport `select` picks).
   * Throws SipTransactionError for ACK (not a transaction), a missing magic-cookie branch,
   * or a branch+method already in use.
   */
  createClientTransaction(req: SipRequest, dest: TransportAddress, via?: Transport | null): ClientTransaction {
    if (req.method === 'ACK') {
      throw new SipTransactionError('SIP_ERR_TX_ACK', 'ACK is not a transaction: send it with TransportLayer.send');
    }
    const top = req.topVia;
    if (!hasRfc3261Branch(top)) {
      throw new SipTransactionError('SIP_ERR_TX_BRANCH', `top Via branch must start with z9hG4bK: ${top.branch ?? '(none)'}`);
    }
    const key = clientKey(top.branch!, req.method);
    if (this.table.hasClient(key)) {
      throw new SipTransactionError('SIP_ERR_TX_DUPLICATE', `client transaction ${top.branch!} ${req.method} exists`);
    }
    const transport = this.transport.select(dest, via);
    const tx: ClientTransactionInternal =
      req.method === 'INVITE'
        ? new InviteClientTransaction(this.core, key, req, dest, transport)
        : new NonInviteClientTransaction(this.core, key, req, dest, transport);
    this.table.addClient(tx);
    this.stats.clientTransactions++;
    this.stats.activeClientTransactions++;
    tx.start();
    return tx;
  }

  onMessage(msg: IncomingMessage): void {
    const m = msg.message;
    try {
      if (isRequest(m)) this.receiveRequest(m, msg.source);
      else this.receiveResponse(m, msg.source);
    } catch (err) {
      this.stats.tuErrors++;
      this.log.error({ err, callId: callIdOf(m), src: msg.source.address, port: msg.source.port }, 'error handling message');
    }
  }

  /**
   * A message that failed to parse. A request with a usable top Via (not an ACK, which is
   * never answered, §17.1.1.3) gets `error.status`/`error.reason` statelessly; anything else
   * is logged and dropped (responses are never answered).
   */
  onParseError(error: SipParseError, partial: SipRequest | SipResponse | null, source: MessageSource): void {
    this.stats.parseErrors++;
    const callId = callIdOf(partial);
    if (partial === null || !isRequest(partial) || partial.method === 'ACK') {
      this.log.debug({ callId, src: source.address, port: source.port, status: error.status, reason: error.reason }, 'unparsable message dropped');
      return;
    }
    try {
      // The transport stamps received/rport only on messages that parsed; do it here so the
      // error reaches a client behind NAT (RFC 3581 §4).
      stampReceived(partial, source);
      const res = errorResponse(partial, error.status, error.reason);
      this.transport.sendResponse(res, source);
      this.stats.statelessReplies++;
      this.log.debug({ callId, src: source.address, port: source.port, status: error.status, reason: error.reason }, 'answered unparsable request');
    } catch (err) {
      this.log.debug({ err, callId, src: source.address, port: source.port, status: error.status }, 'unparsable request not answerable; dropped');
    }
  }

  /** A send failed: every client transaction still waiting on that destination fails. */
  onTransportError(dest: TransportAddress, err: Error): void {
    this.stats.transportErrors++;
    for (const tx of this.table.clientsTo(dest)) {
      try {
        tx.transportFailed(err);
      } catch (e) {
        this.stats.tuErrors++;
        this.log.error({ err: e, callId: callIdOf(tx.request), tx: tx.id }, 'transport error handling threw');
      }
    }
  }

  /** Ends every transaction without TU callbacks and stops the wheel if this layer made it. */
  close(): void {
    for (const tx of this.table.allClients()) tx.dispose();
    for (const tx of this.table.allServers()) tx.dispose();
    if (this.ownsWheel) this.wheel.close();
  }

  private receiveRequest(req: SipRequest, source: MessageSource): void {
    const tu = this.tu;
    if (this.stateless) {
      this.stats.statelessRequests++;
      tu.onStatelessRequest(req, source);
      return;
    }
    const method = req.method;
    if (method === 'ACK') {
      // §17.2.3: an ACK matching an INVITE server transaction belongs to it (the ACK for a
      // non-2xx final); otherwise it is the end-to-end ACK for a 2xx and goes to the TU.
      const tx = this.table.matchAck(req);
      if (tx !== null) {
        tx.receiveAck(req, source);
      } else {
        this.stats.statelessRequests++;
        tu.onStatelessRequest(req, source);
      }
      return;
    }
    const { key, rfc2543 } = serverKey(req, method);
    const existing = this.table.matchRequest(req, key);
    if (existing !== null) {
      // §17.2.1 / §17.2.2: a retransmission is absorbed by its transaction, which re-sends
      // its latest response if it has one.
      existing.receiveRequest(req);
      return;
    }
    let cancelled: ServerTransactionInternal | null = null;
    if (method === 'CANCEL') {
      // §9.2: find the INVITE being cancelled; without one a proxy forwards the CANCEL
      // statelessly (§16.10), so no transaction is made for it.
      cancelled = this.table.matchCancelTarget(req);
      if (cancelled === null) {
        this.stats.statelessRequests++;
        tu.onStatelessRequest(req, source);
        return;
      }
    }
    const tx: ServerTransactionInternal =
      method === 'INVITE'
        ? new InviteServerTransaction(this.core, key, req, source, rfc2543)
        : new NonInviteServerTransaction(this.core, key, req, source, rfc2543);
    this.table.addServer(tx);
    this.stats.serverTransactions++;
    this.stats.activeServerTransactions++;
    // §16.2 / §17.2.1: a stateful proxy answers a new INVITE with 100 Trying at once, which
    // stops the upstream Timer A retransmissions.
    if (method === 'INVITE' && this.sendTrying) tx.respond(createResponse(req, 100));
    try {
      tu.onRequest(tx, cancelled);
    } catch (err) {
      this.stats.tuErrors++;
      this.log.error({ err, callId: callIdOf(req), tx: tx.id }, 'onRequest threw; answering 500');
      // A transaction nobody answers would never end (§17.2.2 Trying has no timer).
      if (!tx.finalSent && tx.state !== 'Terminated') tx.respond(createResponse(req, 500, 'Server Internal Error', { toTag: generateTag() }));
    }
  }

  private receiveResponse(res: SipResponse, source: MessageSource): void {
    const tx = this.table.matchResponse(res);
    if (tx !== null) {
      tx.receiveResponse(res);
      return;
    }
    // §17.1.3 found no transaction: the TU decides (a stateless proxy forwards it, §16.11;
    // RFC 6026 has a stateful proxy drop it).
    this.stats.strayResponses++;
    this.tu.onStrayResponse(res, source);
  }
}

/**
 * The response to an unparsable request: createResponse when the request's headers allow
 * it, else a copy of whichever of Via/From/To/Call-ID/CSeq lines exist (§8.2.6.2 as far as
 * the input permits).
 */
function errorResponse(req: SipRequest, status: number, reason: string): SipResponse {
  try {
    return createResponse(req, status, reason, { toTag: generateTag() });
  } catch {
    const res = new SipResponse(status, reason);
    for (const name of ['via', 'from', 'to', 'call-id', 'cseq']) {
      for (const v of req.headers.getAll(name)) res.headers.append(name, v);
    }
    return res;
  }
}
