import { createNon2xxAck } from '../message/index.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { Transport, TransportAddress } from '../transport/index.js';
import { TimerEntry } from '../util/timer-wheel.js';
import type { TimerTarget } from '../util/timer-wheel.js';
import { SipTransactionError } from './errors.js';
import { ParkableExchange, parkExchange } from './parked-exchange.js';
import { branchOfClientKey } from './transaction-table.js';
import type { ClientTransactionInternal, InviteClientState, TransactionCore } from './types.js';

// Timer kinds armed on the shared wheel.
const TIMER_A = 0;
const TIMER_B = 1;
const TIMER_C = 2;
const TIMER_D = 3;
const TIMER_M = 4;

/**
 * RFC 3261 §17.1.1 INVITE client transaction, with the RFC 6026 §8.4 "Accepted" state:
 *
 *   Calling --1xx--> Proceeding --300-699 (ACK)--> Completed --Timer D--> Terminated
 *      |  \______________________|______2xx______> Accepted --Timer M--> Terminated
 *      +--Timer B / transport error--> Terminated
 */
export class InviteClientTransaction extends ParkableExchange implements ClientTransactionInternal, TimerTarget {
  readonly id: string;
  readonly destination: TransportAddress;
  readonly transport: Transport | null;
  readonly isInvite = true;
  readonly reliable: boolean;
  state: InviteClientState;
  private readonly core: TransactionCore;
  /** Serialized once; Timer A re-sends the same bytes; parked with the final response. */
  private requestBuf: Buffer | null;
  /** The ACK for the non-2xx final, kept for response retransmissions (§17.1.1.2). */
  private ackBuf: Buffer | null;
  private intervalA: number;
  private timerA: TimerEntry | null;
  private timerB: TimerEntry | null;
  private timerC: TimerEntry | null;
  private timerD: TimerEntry | null;
  private timerM: TimerEntry | null;

  constructor(core: TransactionCore, id: string, request: SipRequest, destination: TransportAddress, transport: Transport | null) {
    super(request);
    this.core = core;
    this.id = id;
    this.destination = destination;
    this.transport = transport;
    this.reliable = transport !== null ? transport.reliable : destination.protocol !== 'UDP';
    this.state = 'Calling';
    this.requestBuf = request.toBuffer();
    this.ackBuf = null;
    this.intervalA = core.timers.A;
    this.timerA = null;
    this.timerB = null;
    this.timerC = null;
    this.timerD = null;
    this.timerM = null;
  }

  start(): void {
    const { wheel, timers } = this.core;
    // RFC 3261 §17.1.1.2: entering "Calling", the request goes to the transport; on an
    // unreliable transport Timer A starts at T1; for any transport Timer B at 64*T1.
    this.send(this.requestBuf!);
    if (!this.reliable) wheel.schedule((this.timerA ??= new TimerEntry(this, TIMER_A)), this.intervalA);
    wheel.schedule((this.timerB ??= new TimerEntry(this, TIMER_B)), timers.B);
    // RFC 3261 §16.6 step 11: a proxy forwarding an INVITE starts Timer C (> 3 min).
    if (timers.C !== null) wheel.schedule((this.timerC ??= new TimerEntry(this, TIMER_C)), timers.C);
  }

  /**
   * The branch, from the key: a field of its own would be a slice of the Via text, keeping that
   * alive while the transaction lingers.
   */
  get branch(): string {
    return branchOfClientKey(this.id);
  }

  receiveResponse(res: SipResponse): void {
    const status = res.status;
    switch (this.state) {
      case 'Calling':
      case 'Proceeding':
        this.res = res;
        if (status < 200) {
          // §17.1.1.2: a provisional response moves Calling to Proceeding (no more
          // retransmissions) and is passed to the TU.
          this.transition('Proceeding');
          // §16.7 step 2: a provisional other than 100 resets Timer C.
          if (status > 100 && this.core.timers.C !== null) this.core.wheel.schedule((this.timerC ??= new TimerEntry(this, TIMER_C)), this.core.timers.C);
          this.core.tu.onResponse(this, res);
        } else if (status < 300) {
          // RFC 6026 §8.4 (updating §17.1.1.2): a 2xx moves to "Accepted" and goes to the TU;
          // the TU (not the transaction) sends the ACK for it, end to end.
          this.transition('Accepted');
          this.passUpAndPark(res);
        } else {
          // §17.1.1.2: 300-699 moves to Completed; the transaction generates the ACK itself
          // (even on reliable transports) and passes the response up.
          this.ackBuf = createNon2xxAck(this.req!, res).toBuffer();
          this.send(this.ackBuf);
          this.transition('Completed');
          this.passUpAndPark(res);
        }
        return;
      case 'Completed':
        // §17.1.1.2: retransmissions of the final response re-send the ACK and are not
        // passed up.
        if (status >= 300 && this.ackBuf !== null) {
          this.core.stats.ackRetransmissions++;
          this.send(this.ackBuf);
        }
        return;
      case 'Accepted':
        // RFC 6026 §8.4: every 2xx received in Accepted (retransmissions, other forks) goes
        // to the TU; anything else is dropped.
        if (status >= 200 && status < 300) this.passUpAndPark(res);
        return;
      case 'Terminated':
        return;
    }
  }

  onTimer(kind: number): void {
    const { wheel, stats, tu } = this.core;
    switch (kind) {
      case TIMER_A:
        // §17.1.1.2: when Timer A fires in Calling, retransmit and double the interval
        // (INVITE retransmissions are not capped at T2).
        if (this.state !== 'Calling' || this.requestBuf === null) return;
        this.intervalA *= 2;
        wheel.schedule((this.timerA ??= new TimerEntry(this, TIMER_A)), this.intervalA);
        stats.requestRetransmissions++;
        this.send(this.requestBuf);
        return;
      case TIMER_B:
        // §17.1.1.2: Timer B in Calling: inform the TU of the timeout, go to Terminated.
        if (this.state !== 'Calling') return;
        this.transition('Terminated');
        stats.timeouts++;
        tu.onTimeout(this);
        return;
      case TIMER_C:
        // §16.8: Timer C fired; the proxy decides (CANCEL if a provisional came, else 408).
        if (this.state !== 'Calling' && this.state !== 'Proceeding') return;
        stats.timerC++;
        if (tu.onTimerC !== undefined) {
          tu.onTimerC(this);
        } else {
          // A TU that cannot CANCEL: end the transaction as a timeout (the TU answers 408,
          // as §16.8 prescribes when no provisional came) rather than wait forever.
          this.transition('Terminated');
          stats.timeouts++;
          tu.onTimeout(this);
        }
        return;
      case TIMER_D:
        // §17.1.1.2: Timer D in Completed: go to Terminated.
        if (this.state === 'Completed') this.transition('Terminated');
        return;
      case TIMER_M:
        // RFC 6026 §8.4: Timer M in Accepted: go to Terminated.
        if (this.state === 'Accepted') this.transition('Terminated');
        return;
    }
  }

  transportFailed(err: Error): void {
    // §17.1.1.2 / §8.1.3.1: a transport failure before a final response is reported to the
    // TU (which treats it as 503) and ends the transaction. After the final response the
    // TU already has its answer: the transaction just ends (no ACKs can be delivered).
    if (this.state === 'Calling' || this.state === 'Proceeding') {
      this.transition('Terminated');
      this.core.tu.onTransportError(this, err);
    } else if (this.state === 'Completed') {
      this.transition('Terminated');
    }
  }

  dispose(): void {
    if (this.state !== 'Terminated') this.transition('Terminated');
  }

  /**
   * Passes a final response up, then (Accepted, Completed: only timers and byte re-sends left)
   * keeps the request and it as parked bytes instead of parsed messages (parked-exchange.ts).
   * After the TU, so that it reads the parsed objects, not a reparse.
   */
  private passUpAndPark(res: SipResponse): void {
    try {
      this.core.tu.onResponse(this, res);
    } finally {
      if (this.state === 'Accepted' || this.state === 'Completed') {
        const reqBytes = this.parked !== null ? this.parked.subarray(0, this.split) : this.requestBuf!;
        this.parked = parkExchange(reqBytes, res.toBuffer());
        this.split = reqBytes.length;
        this.req = null;
        this.res = null;
        this.requestBuf = null;
      }
    }
  }

  private send(buf: Buffer): void {
    this.core.transport.send(buf, this.destination, this.transport);
  }

  /** The one place state changes: asserts the predecessor, clears and arms timers. */
  private transition(next: InviteClientState): void {
    const from = this.state;
    const wheel = this.core.wheel;
    switch (next) {
      case 'Proceeding':
        if (from !== 'Calling' && from !== 'Proceeding') throw this.illegal(next);
        break;
      case 'Completed':
      case 'Accepted':
        if (from !== 'Calling' && from !== 'Proceeding') throw this.illegal(next);
        break;
      case 'Terminated':
        if (from === 'Terminated') throw this.illegal(next);
        break;
      default:
        throw this.illegal(next);
    }
    // Timers A and B only run in Calling.
    if (from === 'Calling') {
      wheel.cancel(this.timerA);
      this.timerA = null;
      wheel.cancel(this.timerB);
      this.timerB = null;
    }
    // Timer C ends with the final response.
    if (next !== 'Proceeding') {
      wheel.cancel(this.timerC);
      this.timerC = null;
    }
    this.state = next;
    switch (next) {
      case 'Completed':
        // §17.1.1.2: Timer D = 32 s on unreliable transports, 0 s on reliable ones.
        if (this.reliable) {
          this.transition('Terminated');
        } else {
          wheel.schedule((this.timerD ??= new TimerEntry(this, TIMER_D)), this.core.timers.D);
        }
        break;
      case 'Accepted':
        // RFC 6026 §8.4: Timer M = 64*T1, so 2xx retransmissions still match.
        wheel.schedule((this.timerM ??= new TimerEntry(this, TIMER_M)), this.core.timers.M);
        break;
      case 'Terminated':
        wheel.cancel(this.timerD);
        this.timerD = null;
        wheel.cancel(this.timerM);
        this.timerM = null;
        this.core.clientTerminated(this);
        break;
      default:
        break;
    }
  }

  private illegal(next: InviteClientState): SipTransactionError {
    return new SipTransactionError('SIP_ERR_TX_STATE', `INVITE client transaction ${this.id}: ${this.state} -> ${next}`);
  }
}
