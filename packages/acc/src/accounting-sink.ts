import type { AccRecord } from './acc-record.js';

/** Counters a sink keeps; the proxy exports them as metrics. */
export interface AccountingSinkStats {
  /** Records accepted by write(). */
  accepted: number;
  /** Records refused by write() because they failed normalizeAccRecord(). */
  rejected: number;
  /** Records made durable (fsynced to the journal / committed to MySQL). */
  stored: number;
  /** Records dropped because the pending queue was full (storage down for a long time). */
  dropped: number;
  /** Records waiting to be stored. */
  pending: number;
  /** Failed storage attempts (each is retried). */
  storeErrors: number;
}

/**
 * Where the proxy writes accounting records. The SIP path calls write() and goes on: it never
 * waits for storage. Records are queued, batched and stored in order by the sink; a storage
 * error is logged and retried, so a record is only lost when the queue overflows
 * (stats().dropped) or the process dies before flush().
 */
export interface AccountingSink {
  /**
   * Queues one record. Synchronous, never throws, never blocks. Returns false when the record
   * was refused (invalid: logged and counted in `rejected`, or queue full: `dropped`).
   */
  write(record: AccRecord): boolean;
  /** Resolves when every record written before the call is durable. Rejects only when the
   *  sink is closed. */
  flush(): Promise<void>;
  /** Flushes, then releases the file or pool. write() after close() returns false. */
  close(): Promise<void>;
  stats(): AccountingSinkStats;
}

export function emptySinkStats(): AccountingSinkStats {
  return { accepted: 0, rejected: 0, stored: 0, dropped: 0, pending: 0, storeErrors: 0 };
}
