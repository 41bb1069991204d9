import type { SipRequest, SipResponse } from '../message/index.js';
import type { MessageSource, ResponseRoute } from '../transport/index.js';
import { TimerEntry } from '../util/timer-wheel.js';
import type { TimerTarget } from '../util/timer-wheel.js';
import { SipTransactionError } from './errors.js';
import { ParkableExchange, parkedResponseBytes, parkExchange } from './parked-exchange.js';
import type { NonInviteServerState, ServerTransactionInternal, TransactionCore } from './types.js';

const TIMER_J = 0;

/**
 * RFC 3261 §17.2.2 non-INVITE server transaction:
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
 *     \_______________200-699_______________/
 */
export class NonInviteServerTransaction extends ParkableExchange implements ServerTransactionInternal, TimerTarget {
  readonly id: string;
  readonly source: MessageSource;
  readonly isInvite = false;
  readonly reliable: boolean;
  readonly rfc2543: boolean;
  state: NonInviteServerState;
  finalSent: boolean;
  private readonly core: TransactionCore;
  /** Completed: the final had a route (was sent), so retransmissions are answered. */
  private sent: boolean;
  private route: ResponseRoute | null;
  /** The latest response sent (provisional in Proceeding, final in Completed). */
  private lastBuf: Buffer | null;
  private timerJ: TimerEntry | null;

  constructor(core: TransactionCore, id: string, request: SipRequest, source: MessageSource, rfc2543: boolean) {
    super(request);
    this.core = core;
    this.id = id;
    this.sent = false;
    this.source = source;
    this.reliable = source.protocol !== 'UDP';
    this.rfc2543 = rfc2543;
    this.state = 'Trying';
    this.finalSent = false;
    this.route = null;
    this.lastBuf = null;
    this.timerJ = null;
  }

  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'Trying':
      case 'Proceeding':
        this.lastBuf = this.sendResponse(res);
        if (status < 200) {
          // §17.2.2: a provisional from the TU is sent; Trying moves to Proceeding.
          this.transition('Proceeding');
        } else {
          // §17.2.2: a final (200-699) from the TU is sent; the transaction moves to Completed.
          this.finalSent = true;
          this.transition('Completed');
        }
        return;
      default:
        // §17.2.2: any other final responses passed by the TU in Completed are discarded.
        this.core.log.warn({ callId: this.request.callId, tx: this.id, state: this.state, status }, 'response discarded by non-INVITE server transaction');
    }
  }

  receiveRequest(_req: SipRequest): void {
    this.core.stats.retransmissionsAbsorbed++;
    switch (this.state) {
      case 'Trying':
        // §17.2.2: in Trying, request retransmissions are discarded.
        return;
      case 'Proceeding':
      case 'Completed':
        // §17.2.2: in Proceeding a retransmission re-sends the latest provisional; in
        // Completed, the final response.
        this.resendLast();
        return;
      default:
        return;
    }
  }

  receiveAck(_ack: SipRequest, _source: MessageSource): void {
    // ACKs only match INVITE transactions (§17.2.3); nothing to do.
  }

  onTimer(kind: number): void {
    // §17.2.2: Timer J in Completed: go to Terminated.
    if (kind === TIMER_J && this.state === 'Completed') this.transition('Terminated');
  }

  terminate(): void {
    if (this.state !== 'Terminated') this.transition('Terminated');
  }

  dispose(): void {
    this.terminate();
  }

  /**
   * Re-sends the latest response. In Completed these are its parked bytes, on the route
   * computed again from them: a lingering transaction keeps no route object, retransmissions
   * are rare.
   */
  private resendLast(): void {
    const parked = this.parked;
    const buf = parked !== null ? parkedResponseBytes(parked, this.split) : this.lastBuf;
    const route = parked !== null && this.sent ? this.core.transport.responseRoute(this.lastResponse!, this.source) : this.route;
    if (buf === null || route === null) return;
    this.core.stats.responseRetransmissions++;
    this.core.transport.sendResponseBuffer(buf, route);
  }

  private sendResponse(res: SipResponse): Buffer | null {
    this.res = res;
    if (this.route === null) this.route = this.core.transport.responseRoute(res, this.source);
    if (this.route === null) return null;
    const buf = res.toBuffer();
    this.core.transport.sendResponseBuffer(buf, this.route);
    return buf;
  }

  private transition(next: NonInviteServerState): void {
    const from = this.state;
    switch (next) {
      case 'Proceeding':
      case 'Completed':
        if (from !== 'Trying' && from !== 'Proceeding') throw this.illegal(next);
        break;
      case 'Terminated':
        if (from === 'Terminated') throw this.illegal(next);
        break;
      default:
        throw this.illegal(next);
    }
    this.state = next;
    if (next === 'Completed') {
      // §17.2.2: Timer J = 64*T1 on unreliable transports, 0 on reliable ones.
      if (this.reliable) {
        this.transition('Terminated');
      } else {
        // Completed only re-sends the final's bytes for retransmissions: the parsed request and
        // response go, their bytes stay, outside the heap (parked-exchange.ts).
        const reqBytes = this.req!.toBuffer();
        this.parked = parkExchange(reqBytes, this.lastBuf ?? this.res!.toBuffer());
        this.split = reqBytes.length;
        this.sent = this.route !== null;
        this.req = null;
        this.res = null;
        this.lastBuf = null;
        this.route = null;
        this.core.wheel.schedule((this.timerJ ??= new TimerEntry(this, TIMER_J)), this.core.timers.J);
      }
    } else if (next === 'Terminated') {
      this.core.wheel.cancel(this.timerJ);
      this.timerJ = null;
      this.core.serverTerminated(this);
    }
  }

  private illegal(next: NonInviteServerState): SipTransactionError {
    return new SipTransactionError('SIP_ERR_TX_STATE', `non-INVITE server transaction ${this.id}: ${this.state} -> ${next}`);
  }
}
