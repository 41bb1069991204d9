import type { SipRequest, SipResponse } from '../message/index.js';
import type { Transport, TransportAddress } from '../transport/index.js';
import { TimerEntry } from '../util/timer-wheel.js';
import type { TimerTarget } from '../util/timer-wheel.js';
import { SipTransactionError } from './errors.js';
import { ParkableExchange, parkExchange } from './parked-exchange.js';
import { branchOfClientKey } from './transaction-table.js';
import type { ClientTransactionInternal, NonInviteClientState, TransactionCore } from './types.js';

const TIMER_E = 0;
const TIMER_F = 1;
const TIMER_K = 2;

/**
 * RFC 3261 §17.1.2 non-INVITE client transaction:
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
 *     \________________________200-699____/
 *   Trying/Proceeding --Timer F / transport error--> Terminated
 */
export class NonInviteClientTransaction extends ParkableExchange implements ClientTransactionInternal, TimerTarget {
  readonly id: string;
  readonly destination: TransportAddress;
  readonly transport: Transport | null;
  readonly isInvite = false;
  readonly reliable: boolean;
  state: NonInviteClientState;
  private readonly core: TransactionCore;
  /** Serialized once; Timer E re-sends the same bytes; parked with the final response. */
  private requestBuf: Buffer | null;
  private intervalE: number;
  private timerE: TimerEntry | null;
  private timerF: TimerEntry | null;
  private timerK: TimerEntry | null;

  constructor(core: TransactionCore, id: string, request: SipRequest, destination: TransportAddress, transport: Transport | null) {
    super(request);
    this.core = core;
    this.id = id;
    this.destination = destination;
    this.transport = transport;
    this.reliable = transport !== null ? transport.reliable : destination.protocol !== 'UDP';
    this.state = 'Trying';
    this.requestBuf = request.toBuffer();
    this.intervalE = core.timers.E;
    this.timerE = null;
    this.timerF = null;
    this.timerK = null;
  }

  start(): void {
    const { wheel, timers } = this.core;
    // RFC 3261 §17.1.2.2: entering "Trying", Timer F is set to 64*T1 and the request goes
    // to the transport; on an unreliable transport Timer E is set to T1.
    wheel.schedule((this.timerF ??= new TimerEntry(this, TIMER_F)), timers.F);
    if (!this.reliable) wheel.schedule((this.timerE ??= new TimerEntry(this, TIMER_E)), this.intervalE);
    this.send();
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
      case 'Trying':
      case 'Proceeding':
        this.res = res;
        if (status < 200) {
          // §17.1.2.2: a provisional response moves to (or stays in) Proceeding and goes up.
          this.transition('Proceeding');
          this.core.tu.onResponse(this, res);
          return;
        }
        // §17.1.2.2: a final response (200-699) moves to Completed and goes up.
        this.transition('Completed');
        try {
          this.core.tu.onResponse(this, res);
        } finally {
          // Completed only absorbs retransmissions for Timer K: the parsed request and response
          // go, their bytes stay (parked-exchange.ts). After the TU, which reads the parsed ones.
          // (A reliable transport went on to Terminated: nothing lingers.)
          if ((this.state as NonInviteClientState) === 'Completed') {
            const reqBytes = this.requestBuf!;
            this.parked = parkExchange(reqBytes, res.toBuffer());
            this.split = reqBytes.length;
            this.req = null;
            this.res = null;
            this.requestBuf = null;
          }
        }
        return;
      case 'Completed':
      case 'Terminated':
        // §17.1.2.2: Completed buffers response retransmissions (absorbed silently).
        return;
    }
  }

  onTimer(kind: number): void {
    const { wheel, timers, stats } = this.core;
    switch (kind) {
      case TIMER_E:
        if (this.state === 'Trying') {
          // §17.1.2.2: in Trying, Timer E retransmits and doubles, capped at T2.
          this.intervalE = Math.min(2 * this.intervalE, timers.T2);
        } else if (this.state === 'Proceeding') {
          // §17.1.2.2: in Proceeding, Timer E retransmits and is reset to T2.
          this.intervalE = timers.T2;
        } else {
          return;
        }
        wheel.schedule((this.timerE ??= new TimerEntry(this, TIMER_E)), this.intervalE);
        stats.requestRetransmissions++;
        this.send();
        return;
      case TIMER_F:
        // §17.1.2.2: Timer F in Trying or Proceeding: report the timeout, go to Terminated.
        if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
        this.transition('Terminated');
        stats.timeouts++;
        this.core.tu.onTimeout(this);
        return;
      case TIMER_K:
        // §17.1.2.2: Timer K in Completed: go to Terminated.
        if (this.state === 'Completed') this.transition('Terminated');
        return;
    }
  }

  transportFailed(err: Error): void {
    // §17.1.2.2 / §8.1.3.1: a transport failure in Trying or Proceeding is reported to the
    // TU and ends the transaction. Completed only absorbs retransmissions: it just ends.
    if (this.state === 'Trying' || this.state === 'Proceeding') {
      this.transition('Terminated');
      this.core.tu.onTransportError(this, err);
    } else if (this.state === 'Completed') {
      this.transition('Terminated');
    }
  }

  dispose(): void {
    if (this.state !== 'Terminated') this.transition('Terminated');
  }

  private send(): void {
    if (this.requestBuf !== null) this.core.transport.send(this.requestBuf, this.destination, this.transport);
  }

  private transition(next: NonInviteClientState): void {
    const from = this.state;
    const wheel = this.core.wheel;
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
    // Timers E and F run in Trying and Proceeding only.
    if (next === 'Completed' || next === 'Terminated') {
      wheel.cancel(this.timerE);
      this.timerE = null;
      wheel.cancel(this.timerF);
      this.timerF = null;
    }
    this.state = next;
    if (next === 'Completed') {
      // §17.1.2.2: Timer K = T4 on unreliable transports, 0 on reliable ones.
      if (this.reliable) this.transition('Terminated');
      else wheel.schedule((this.timerK ??= new TimerEntry(this, TIMER_K)), this.core.timers.K);
    } else if (next === 'Terminated') {
      wheel.cancel(this.timerK);
      this.timerK = null;
      this.core.clientTerminated(this);
    }
  }

  private illegal(next: NonInviteClientState): SipTransactionError {
    return new SipTransactionError('SIP_ERR_TX_STATE', `non-INVITE client transaction ${this.id}: ${this.state} -> ${next}`);
  }
}
