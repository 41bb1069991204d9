/**
 * The reload discipline of the table-backed modules (domain, permissions, dialplan, lcr), as
 * Kamailio's do it: the table is loaded into memory once at start (a failure there fails
 * start-up), then re-read every `intervalMs` and on demand (admin API); a failed reload keeps
 * the previous data in force, and concurrent reloads share one database read.
 */

/** The logger slice a reloader needs (pino's `warn`). */
export interface ReloadLogger {
  warn(obj: object, msg: string): void;
}

export class TableReloader {
  private timer: NodeJS.Timeout | null = null;
  private reloading: Promise<number> | null = null;

  constructor(
    /** Reads the table(s) and swaps the module's data in; resolves to the number of entries. */
    private readonly load: () => Promise<number>,
    /** Periodic reload (ms); 0 = at start and on demand only. */
    private readonly intervalMs: number,
    private readonly log: ReloadLogger,
    /** What is reloaded, for the log line ("lcr tables", "domains" …). */
    private readonly what: string,
  ) {}

  /** First load (errors propagate: a proxy must not start without its tables), then the timer. */
  async start(): Promise<number> {
    const n = await this.load();
    if (this.intervalMs > 0) {
      this.timer = setInterval(() => void this.reload(), this.intervalMs);
      this.timer.unref();
    }
    return n;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Re-reads the table; the number of entries in force, or -1 when the read failed. */
  reload(): Promise<number> {
    if (this.reloading) return this.reloading;
    this.reloading = this.load()
      .catch((err: unknown) => {
        this.log.warn({ err: (err as Error).message }, `${this.what} reload failed; keeping the previous data`);
        return -1;
      })
      .finally(() => {
        this.reloading = null;
      });
    return this.reloading;
  }
}
