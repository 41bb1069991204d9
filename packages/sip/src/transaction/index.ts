export { DEFAULT_TIMER_SETTINGS, deriveTimers } from './timers.js';
export type { TimerSettings, TimerValues } from './timers.js';
export { SipTransactionError, SIP_TRANSACTION_ERRORS } from './errors.js';
export type { SipTransactionErrorCode } from './errors.js';
export type {
  ServerTransaction,
  ClientTransaction,
  TransactionUser,
  TransactionStats,
  InviteClientState,
  NonInviteClientState,
  InviteServerState,
  NonInviteServerState,
} from './types.js';
export { TransactionLayer } from './transaction-layer.js';
export type { TransactionLayerOptions } from './transaction-layer.js';
export { TransactionTable, serverKey, clientKey, hasRfc3261Branch } from './transaction-table.js';
export { InviteClientTransaction } from './invite-client-transaction.js';
export { NonInviteClientTransaction } from './non-invite-client-transaction.js';
export { InviteServerTransaction } from './invite-server-transaction.js';
export { NonInviteServerTransaction } from './non-invite-server-transaction.js';
