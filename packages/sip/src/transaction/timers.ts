import { SipTransactionError } from './errors.js';

/**
 * RFC 3261 timer values (§17, Table 4 of Appendix A) and the RFC 6026 additions, all derived
 * from T1/T2/T4 so one setting changes every dependent timer consistently.
 */

export interface TimerSettings {
  /** RTT estimate, default 500 ms (RFC 3261 §17.1.1.1). */
  T1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  T2: number;
  /** Maximum duration a message remains in the network, default 5 s. */
  T4: number;
  /**
   * Proxy INVITE transaction timeout (RFC 3261 §16.6 step 11, §16.7 step 2): > 3 minutes.
   * When set, INVITE client transactions arm Timer C and report it to the TU.
   */
  timerC?: number;
}

export const DEFAULT_TIMER_SETTINGS: Readonly<TimerSettings> = Object.freeze({
  T1: 500,
  T2: 4000,
  T4: 5000,
  timerC: 180_000 + 1_000,
});

/** Every RFC 3261 / RFC 6026 timer duration in ms. */
export interface TimerValues {
  readonly T1: number;
  readonly T2: number;
  readonly T4: number;
  /** INVITE request retransmit interval, UDP only: initially T1, doubling (no cap). */
  readonly A: number;
  /** INVITE transaction timeout: 64*T1. */
  readonly B: number;
  /** Proxy INVITE transaction timeout: > 3 min; null when not used. */
  readonly C: number | null;
  /** Wait time for response retransmits: > 32 s for UDP, 0 for reliable transports. */
  readonly D: number;
  /** Non-INVITE request retransmit interval, UDP only: initially T1, doubling up to T2. */
  readonly E: number;
  /** Non-INVITE transaction timeout: 64*T1. */
  readonly F: number;
  /** INVITE response retransmit interval: initially T1, doubling up to T2. */
  readonly G: number;
  /** Wait time for ACK receipt: 64*T1. */
  readonly H: number;
  /** Wait time for ACK retransmits: T4 for UDP, 0 for reliable. */
  readonly I: number;
  /** Wait time for non-INVITE request retransmits: 64*T1 for UDP, 0 for reliable. */
  readonly J: number;
  /** Wait time for response retransmits: T4 for UDP, 0 for reliable. */
  readonly K: number;
  /** RFC 6026 §8.7: wait time for accepted INVITE request retransmits (server): 64*T1. */
  readonly L: number;
  /** RFC 6026 §8.4: wait time for retransmission of 2xx to INVITE (client): 64*T1. */
  readonly M: number;
}

function invalid(message: string): SipTransactionError {
  return new SipTransactionError('SIP_ERR_TIMER_SETTINGS', message);
}

/** Validates the settings and derives all durations. */
export function deriveTimers(s: TimerSettings): TimerValues {
  const { T1, T2, T4 } = s;
  if (!(Number.isFinite(T1) && T1 > 0)) throw invalid(`T1 must be > 0 ms, got ${T1}`);
  if (!(Number.isFinite(T2) && T2 >= T1)) throw invalid(`T2 must be >= T1, got ${T2}`);
  if (!(Number.isFinite(T4) && T4 > 0)) throw invalid(`T4 must be > 0 ms, got ${T4}`);
  const C = s.timerC ?? null;
  // RFC 3261 §16.6 step 11: "Timer C MUST be set ... greater than 3 minutes".
  if (C !== null && !(Number.isFinite(C) && C > 180_000)) {
    throw invalid(`timerC must be > 180000 ms (RFC 3261 §16.6), got ${C}`);
  }
  return Object.freeze({
    T1,
    T2,
    T4,
    A: T1,
    B: 64 * T1,
    C,
    // RFC 3261 §17.1.1.2: Timer D "at least 32 seconds for unreliable transports"; it must
    // also outlast the server's retransmissions (Timer H = 64*T1) when T1 is raised.
    D: Math.max(32_000, 64 * T1),
    E: T1,
    F: 64 * T1,
    G: T1,
    H: 64 * T1,
    I: T4,
    J: 64 * T1,
    K: T4,
    L: 64 * T1,
    M: 64 * T1,
  });
}
