/**
 * Coded errors of the transaction layer (STYLE.md 7). All are programming errors of the
 * transaction user, thrown synchronously; protocol faults never throw.
 * Every code is listed in ./README.md (errors.test.ts checks it).
 */
export const SIP_TRANSACTION_ERRORS = {
  SIP_ERR_TX_STATE: 'a state machine was asked for a transition RFC 3261 §17 does not allow',
  SIP_ERR_TX_DUPLICATE: 'createClientTransaction() with a branch + method already in use (§17.1.3 would mis-match)',
  SIP_ERR_TX_ACK: 'createClientTransaction() for ACK: an ACK is not a transaction (§17.1.1.3, §13.2.2.4)',
  SIP_ERR_TX_BRANCH: "the request's top Via lacks an RFC 3261 branch (z9hG4bK…), required of us (§8.1.1.7)",
  SIP_ERR_TIMER_SETTINGS: 'T1/T2/T4/timerC out of range (T1 > 0, T2 >= T1, T4 > 0, timerC > 3 min)',
} as const;

export type SipTransactionErrorCode = keyof typeof SIP_TRANSACTION_ERRORS;

export class SipTransactionError extends Error {
  readonly code: SipTransactionErrorCode;
  constructor(code: SipTransactionErrorCode, message: string) {
    super(message);
    this.name = 'SipTransactionError';
    this.code = code;
  }
}
