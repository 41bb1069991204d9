/**
 * Accounting from a worker thread when the proxy writes a journal: the journal has one writer
 * (the main thread), so workers post their records to it. write() stays synchronous and never
 * blocks the SIP path; durability is the main thread's journal's (flush there).
 */
import { emptySinkStats, normalizeAccRecord, type AccRecord, type AccountingSink, type AccountingSinkStats } from '@voip/acc';

export interface AccCommand {
  t: 'acc';
  r: AccRecord;
}

export class PortAccountingSink implements AccountingSink {
  private readonly counters: AccountingSinkStats = emptySinkStats();
  private closed = false;

  constructor(private readonly out: { post(m: AccCommand): void }) {}

  write(record: AccRecord): boolean {
    if (this.closed) return false;
    const check = normalizeAccRecord(record);
    if (!check.ok) {
      this.counters.rejected++;
      return false;
    }
    this.counters.accepted++;
    const cmd: AccCommand = { t: 'acc', r: check.record };
    this.out.post(cmd);
    return true;
  }

  async flush(): Promise<void> {
    // Posted messages are delivered in order; the main thread's journal makes them durable.
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  stats(): AccountingSinkStats {
    return { ...this.counters };
  }
}
