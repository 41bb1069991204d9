import type { SipRequest, SipResponse } from '../message/index.js';
import type { MessageSource, ResponseRoute } from '../transport/index.js';
import { TimerEntry } from '../util/timer-wheel.js';
import type { TimerTarget } from '../util/timer-wheel.js';
import { SipTransactionError } from './errors.js';
import { ParkableExchange, parkedResponseBytes, parkExchange } from './parked-exchange.js';
import type { InviteServerState, ServerTransactionInternal, TransactionCore } from './types.js';

const TIMER_G = 0;
const TIMER_H = 1;
const TIMER_I = 2;
const TIMER_L = 3;

/**
 * RFC 3261 §17.2.1 INVITE server transaction, with the RFC 6026 §8.7 "Accepted" state:
 *
 *   Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I--> Terminated
 *        |                      +--Timer H--> Terminated
 *        +--2xx--> Accepted --Timer L--> Terminated
 */
export class InviteServerTransaction extends ParkableExchange implements ServerTransactionInternal, TimerTarget {
  readonly id: string;
  readonly source: MessageSource;
  readonly isInvite = true;
  readonly reliable: boolean;
  readonly rfc2543: boolean;
  state: InviteServerState;
  finalSent: boolean;
  private readonly core: TransactionCore;
  /** Where responses go (§18.2.2); computed from the first response's top Via. */
  private route: ResponseRoute | null;
  /** The most recent provisional (re-sent on INVITE retransmissions in Proceeding only). */
  private provisionalBuf: Buffer | null;
  /** The non-2xx final (re-sent by Timer G and on INVITE retransmissions in Completed). */
  private finalBuf: Buffer | null;
  private intervalG: number;
  private timerG: TimerEntry | null;
  private timerH: TimerEntry | null;
  private timerI: TimerEntry | null;
  private timerL: TimerEntry | null;

  constructor(core: TransactionCore, id: string, request: SipRequest, source: MessageSource, rfc2543: boolean) {
    super(request);
    this.core = core;
    this.id = id;
    this.source = source;
    this.reliable = source.protocol !== 'UDP';
    this.rfc2543 = rfc2543;
    this.state = 'Proceeding';
    this.finalSent = false;
    this.route = null;
    this.provisionalBuf = null;
    this.finalBuf = null;
    this.intervalG = core.timers.G;
    this.timerG = null;
    this.timerH = null;
    this.timerI = null;
    this.timerL = null;
  }

  respond(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'Proceeding':
        if (status < 200) {
          // §17.2.1: the TU passes any number of provisional responses; each is sent and the
          // latest kept for request retransmissions.
          this.provisionalBuf = this.sendResponse(res);
        } else if (status < 300) {
          // RFC 6026 §8.7 (updating §17.2.1): a 2xx is sent and the transaction moves to
          // Accepted instead of Terminated, to absorb INVITE retransmissions. (finalBuf holds
          // the 2xx only until transition() parks it: Accepted re-sends nothing itself.)
          this.finalBuf = this.sendResponse(res);
          this.finalSent = true;
          this.transition('Accepted');
        } else {
          // §17.2.1: a 300-699 is sent and the transaction moves to Completed.
          this.finalBuf = this.sendResponse(res);
          this.finalSent = true;
          this.transition('Completed');
        }
        return;
      case 'Accepted':
        // RFC 6026 §8.7: 2xx retransmissions (and other 2xx forks) from the TU are sent.
        if (status >= 200 && status < 300) {
          this.sendResponse(res);
          return;
        }
        break;
      case 'Completed':
      case 'Confirmed':
      case 'Terminated':
        // §16.7 step 5: a proxy forwards every 2xx, even after it forwarded a non-2xx final
        // (a fork answered after another failed or was CANCELled); sent without the machine.
        if (status >= 200 && status < 300) {
          this.core.log.info({ callId: this.request.callId, tx: this.id, status }, 'late 2xx sent after final response');
          this.sendResponse(res);
          return;
        }
        break;
    }
    // Nothing else is allowed after a final response: discard (cf. §17.2.2).
    this.core.log.warn({ callId: this.request.callId, tx: this.id, state: this.state, status }, 'response discarded by INVITE server transaction');
  }

  receiveRequest(_req: SipRequest): void {
    const stats = this.core.stats;
    stats.retransmissionsAbsorbed++;
    switch (this.state) {
      case 'Proceeding':
        // §17.2.1: an INVITE retransmission in Proceeding re-sends the latest provisional.
        if (this.provisionalBuf !== null) this.resend(this.provisionalBuf);
        return;
      case 'Completed':
        // §17.2.1: an INVITE retransmission in Completed re-sends the final response.
        if (this.finalBuf !== null) this.resend(this.finalBuf);
        return;
      default:
        // Confirmed absorbs; RFC 6026 §8.7: Accepted absorbs without passing to the TU.
        return;
    }
  }

  receiveAck(ack: SipRequest, source: MessageSource): void {
    switch (this.state) {
      case 'Completed':
        // §17.2.1: an ACK in Completed moves to Confirmed (Timer G stops).
        this.transition('Confirmed');
        return;
      case 'Confirmed':
        // §17.2.1: further ACKs are absorbed.
        this.core.stats.retransmissionsAbsorbed++;
        return;
      case 'Accepted':
        // RFC 6026 §8.7: an ACK matching a transaction in Accepted goes to the TU (it is the
        // ACK for the 2xx, e.g. from an RFC 2543 client reusing the INVITE's Via).
        this.core.stats.statelessRequests++;
        this.core.tu.onStatelessRequest(ack, source);
        return;
      default:
        this.core.log.debug({ callId: this.request.callId, tx: this.id, state: this.state }, 'ACK ignored');
        return;
    }
  }

  onTimer(kind: number): void {
    const { wheel, timers, stats } = this.core;
    switch (kind) {
      case TIMER_G:
        // §17.2.1: Timer G in Completed re-sends the final response; the interval doubles,
        // capped at T2.
        if (this.state !== 'Completed' || this.finalBuf === null) return;
        this.intervalG = Math.min(2 * this.intervalG, timers.T2);
        wheel.schedule((this.timerG ??= new TimerEntry(this, TIMER_G)), this.intervalG);
        this.resend(this.finalBuf);
        return;
      case TIMER_H:
        // §17.2.1: Timer H in Completed: the ACK never came; go to Terminated and tell the TU.
        // The TU hears of the failure first (state still Completed), then of the end.
        if (this.state !== 'Completed') return;
        stats.serverTimeouts++;
        try {
          if (this.core.tu.onServerTimeout !== undefined) this.core.tu.onServerTimeout(this);
        } finally {
          this.transition('Terminated');
        }
        return;
      case TIMER_I:
        // §17.2.1: Timer I in Confirmed: go to Terminated.
        if (this.state === 'Confirmed') this.transition('Terminated');
        return;
      case TIMER_L:
        // RFC 6026 §8.7: Timer L in Accepted: go to Terminated.
        if (this.state === 'Accepted') this.transition('Terminated');
        return;
    }
  }

  terminate(): void {
    if (this.state !== 'Terminated') this.transition('Terminated');
  }

  dispose(): void {
    this.terminate();
  }

  private sendResponse(res: SipResponse): Buffer | null {
    if (this.route === null) this.route = this.core.transport.responseRoute(res, this.source);
    const buf = this.route === null ? null : res.toBuffer();
    if (buf !== null) this.core.transport.sendResponseBuffer(buf, this.route!);
    if (this.parked === null) {
      this.res = res;
    } else {
      // A 2xx after the final (RFC 6026 §8.7, §16.7 step 5) becomes the last response: parked
      // next to the request like the first.
      this.parked = parkExchange(this.parked.subarray(0, this.split), buf ?? res.toBuffer());
    }
    return buf;
  }

  /**
   * Completed and Accepted only absorb retransmissions by key and re-send bytes: the parsed
   * request and response go, their bytes stay (parked-exchange.ts).
   */
  private park(): void {
    const req = this.req!;
    const res = this.res;
    const reqBytes = req.toBuffer();
    this.parked = parkExchange(reqBytes, this.finalBuf ?? (res === null ? null : res.toBuffer()));
    this.split = reqBytes.length;
    this.req = null;
    this.res = null;
    // Timer G and INVITE retransmissions in Completed re-send the final from the parked bytes.
    this.finalBuf = this.state === 'Completed' && this.route !== null ? parkedResponseBytes(this.parked, this.split) : null;
    // Accepted sends only what the TU passes (sendResponse computes the route again then).
    if (this.state !== 'Completed') this.route = null;
  }

  private resend(buf: Buffer): void {
    if (this.route === null) return;
    this.core.stats.responseRetransmissions++;
    this.core.transport.sendResponseBuffer(buf, this.route);
  }

  private transition(next: InviteServerState): void {
    const from = this.state;
    const wheel = this.core.wheel;
    const timers = this.core.timers;
    switch (next) {
      case 'Completed':
      case 'Accepted':
        if (from !== 'Proceeding') throw this.illegal(next);
        break;
      case 'Confirmed':
        if (from !== 'Completed') throw this.illegal(next);
        break;
      case 'Terminated':
        if (from === 'Terminated') throw this.illegal(next);
        break;
      default:
        throw this.illegal(next);
    }
    if (from === 'Completed') {
      wheel.cancel(this.timerG);
      this.timerG = null;
      wheel.cancel(this.timerH);
      this.timerH = null;
      // §17.2.1: Confirmed absorbs INVITE retransmissions without re-sending the final.
      this.finalBuf = null;
      this.route = null;
    }
    this.state = next;
    // Only Proceeding re-sends the provisional (§17.2.1); Completed re-sends the final.
    this.provisionalBuf = null;
    if (from === 'Proceeding' && next !== 'Terminated') this.park();
    switch (next) {
      case 'Completed':
        // §17.2.1: Timer G = T1 on unreliable transports only; Timer H = 64*T1 always.
        if (!this.reliable) wheel.schedule((this.timerG ??= new TimerEntry(this, TIMER_G)), this.intervalG);
        wheel.schedule((this.timerH ??= new TimerEntry(this, TIMER_H)), timers.H);
        break;
      case 'Confirmed':
        // §17.2.1: Timer I = T4 on unreliable transports, 0 on reliable ones.
        if (this.reliable) this.transition('Terminated');
        else wheel.schedule((this.timerI ??= new TimerEntry(this, TIMER_I)), timers.I);
        break;
      case 'Accepted':
        // RFC 6026 §8.7: Timer L = 64*T1.
        wheel.schedule((this.timerL ??= new TimerEntry(this, TIMER_L)), timers.L);
        break;
      case 'Terminated':
        wheel.cancel(this.timerI);
        this.timerI = null;
        wheel.cancel(this.timerL);
        this.timerL = null;
        this.core.serverTerminated(this);
        break;
      default:
        break;
    }
  }

  private illegal(next: InviteServerState): SipTransactionError {
    return new SipTransactionError('SIP_ERR_TX_STATE', `INVITE server transaction ${this.id}: ${this.state} -> ${next}`);
  }
}
