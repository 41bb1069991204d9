/**
 * Coded errors of the transaction layer (STYLE.md 7). All are programming errors of the
 * transaction user (thrown synchronously); protocol faults never throw.
 */
export type SipTransactionErrorCode =
  /** A state machine was asked for a transition RFC 3261 §17 does not allow. */
  | 'SIP_ERR_TX_STATE'
  /** createClientTransaction() with a branch+method already in use (§17.1.3 would mis-match). */
  | 'SIP_ERR_TX_DUPLICATE'
  /** createClientTransaction() for ACK: an ACK is not a transaction (§17.1.1.3, §13.2.2.4). */
  | 'SIP_ERR_TX_ACK'
  /** The request's top Via lacks an RFC 3261 branch (magic cookie), required of us (§8.1.1.7). */
  | 'SIP_ERR_TX_BRANCH';

export class SipTransactionError extends Error {
  readonly code: SipTransactionErrorCode;
  constructor(code: SipTransactionErrorCode, message: string) {
    super(message);
    this.name = 'SipTransactionError';
    this.code = code;
  }
}
