/**
 * MysqlAccountingSink: database accounting into Kamailio-schema `acc` and `missed_calls`
 * (schema.ts). write() queues; one timer per sink drains the queue in order, one prepared
 * multi-row INSERT per table and batch (inside one transaction when both tables have rows) so a
 * batch is stored whole.
 * While MySQL is down the queue holds records (up to maxPending) and the batch is retried
 * with back-off; the SIP path never waits on the database.
 */
import type { Pool, PoolConnection } from 'mysql2/promise';
import { normalizeAccRecord, type AccRecord } from './acc-record.js';
import { emptySinkStats, type AccountingSink, type AccountingSinkStats } from './accounting-sink.js';
import { AccError } from './errors.js';
import { silentAccLogger, type AccLogger } from './logger.js';
import { createAccPool } from './mysql-pool.js';
import { ACC_COLUMNS, ACC_TABLE, MISSED_CALLS_TABLE } from './schema.js';

export interface MysqlSinkOptions {
  /** mysql://user:pass@host:port/database; or give `pool`. */
  uri?: string;
  /** A pool created with createAccPool() (UTC DATETIMEs). Not closed by close(). */
  pool?: Pool;
  logger?: AccLogger;
  /** Longest time a record waits before its batch is sent (ms). Default 20. */
  flushIntervalMs?: number;
  /** Rows per INSERT. Default 100. */
  maxBatch?: number;
  /** Queue bound; beyond it write() drops and counts. Default 100000. */
  maxPending?: number;
}

interface FlushWaiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5000;

export class MysqlAccountingSink implements AccountingSink {
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly log: AccLogger;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly counters: AccountingSinkStats;
  private pending: AccRecord[];
  /** Sequence numbers of this process's writes, for flush(): accepted - pending = stored. */
  private acceptedSeq: number;
  private storedSeq: number;
  private waiters: FlushWaiter[];
  private timer: NodeJS.Timeout | null;
  private writing: boolean;
  private retryMs: number;
  private closed: boolean;
  private closing: Promise<void> | null;

  constructor(opts: MysqlSinkOptions) {
    if (opts.pool === undefined && opts.uri === undefined) throw new AccError('ACC_ERR_BAD_URI', '(none given)');
    this.pool = opts.pool ?? createAccPool(opts.uri as string);
    this.ownsPool = opts.pool === undefined;
    this.log = opts.logger ?? silentAccLogger;
    this.flushIntervalMs = opts.flushIntervalMs ?? 20;
    this.maxBatch = opts.maxBatch ?? 100;
    this.maxPending = opts.maxPending ?? 100_000;
    this.counters = emptySinkStats();
    this.pending = [];
    this.acceptedSeq = 0;
    this.storedSeq = 0;
    this.waiters = [];
    this.timer = null;
    this.writing = false;
    this.retryMs = RETRY_MIN_MS;
    this.closed = false;
    this.closing = null;
  }

  write(record: AccRecord): boolean {
    if (this.closed) return false;
    const checked = normalizeAccRecord(record);
    if (!checked.ok) {
      this.counters.rejected++;
      this.log.warn({ callId: (record as Partial<AccRecord> | null)?.callid, reason: checked.reason }, 'accounting record refused');
      return false;
    }
    if (this.pending.length >= this.maxPending) {
      this.counters.dropped++;
      if (this.counters.dropped === 1 || this.counters.dropped % 1000 === 0) {
        this.log.error({ dropped: this.counters.dropped, pending: this.pending.length }, 'accounting MySQL queue full: records dropped');
      }
      return false;
    }
    this.pending.push(checked.record);
    this.acceptedSeq++;
    this.counters.accepted++;
    this.kick(this.pending.length >= this.maxBatch ? 0 : this.flushIntervalMs);
    return true;
  }

  flush(): Promise<void> {
    if (this.closed && this.closing === null) return Promise.reject(new AccError('ACC_ERR_MYSQL_CLOSED', ''));
    return this.waitFor(this.acceptedSeq);
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.closing = this.waitFor(this.acceptedSeq)
      .catch((err: unknown) => {
        this.log.error({ err, lost: this.pending.length }, 'accounting MySQL sink closed with unstored records');
      })
      .finally(async () => {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        if (this.ownsPool) await this.pool.end();
      });
    return this.closing;
  }

  stats(): AccountingSinkStats {
    return { ...this.counters, pending: this.pending.length };
  }

  private waitFor(upTo: number): Promise<void> {
    if (this.storedSeq >= upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.kick(0);
    });
  }

  private kick(delayMs: number): void {
    if (this.writing) return;
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(onMysqlTimer, delayMs, this);
  }

  /** @internal timer entry point */
  async storeLoop(): Promise<void> {
    this.timer = null;
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.slice(0, this.maxBatch);
        try {
          await this.insertBatch(batch);
        } catch (err) {
          this.counters.storeErrors++;
          this.log.error({ err, pending: this.pending.length, retryMs: this.retryMs }, 'accounting MySQL insert failed; retrying');
          if (this.closed) {
            this.failWaiters(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          const wait = this.retryMs;
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.writing = false;
          this.timer = setTimeout(onMysqlTimer, wait, this);
          return;
        }
        this.retryMs = RETRY_MIN_MS;
        this.pending.splice(0, batch.length);
        this.storedSeq += batch.length;
        this.counters.stored += batch.length;
        this.resolveWaiters();
      }
    } finally {
      if (this.writing) this.writing = false;
    }
  }

  private async insertBatch(batch: AccRecord[]): Promise<void> {
    const acc: AccRecord[] = [];
    const missed: AccRecord[] = [];
    for (const r of batch) (r.kind === 'acc' ? acc : missed).push(r);
    let conn: PoolConnection | null = null;
    let inTransaction = false;
    try {
      conn = await this.pool.getConnection();
      // A batch for one table is one INSERT, atomic by itself under autocommit (InnoDB): BEGIN
      // and COMMIT would only add two round trips per batch. Both tables need the transaction.
      if (missed.length === 0 || acc.length === 0) {
        await insertRows(conn, acc.length > 0 ? ACC_TABLE : MISSED_CALLS_TABLE, acc.length > 0 ? acc : missed);
        return;
      }
      inTransaction = true;
      await conn.beginTransaction();
      await insertRows(conn, ACC_TABLE, acc);
      await insertRows(conn, MISSED_CALLS_TABLE, missed);
      await conn.commit();
    } catch (err) {
      if (conn !== null && inTransaction) await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn?.release();
    }
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const rest: FlushWaiter[] = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.storedSeq) w.resolve();
      else rest.push(w);
    }
    this.waiters = rest;
  }

  private failWaiters(err: Error): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w.reject(err);
  }
}

const ROW_PLACEHOLDER = `(${ACC_COLUMNS.map(() => '?').join(',')})`;
const COLUMN_LIST = ACC_COLUMNS.map((c) => `\`${c}\``).join(',');

/** One prepared multi-row INSERT; prepared statements are cached per connection by mysql2. */
async function insertRows(conn: PoolConnection, table: string, rows: AccRecord[]): Promise<void> {
  const values: (string | Date)[] = [];
  for (const r of rows) {
    values.push(
      r.method,
      r.from_tag,
      r.to_tag,
      r.callid,
      String(r.sip_code),
      r.sip_reason,
      new Date(r.time),
      r.src_user,
      r.src_domain,
      r.src_ip,
      r.dst_ouser,
      r.dst_user,
      r.dst_domain,
      r.user_agent,
    );
  }
  const sql = `INSERT INTO \`${table}\` (${COLUMN_LIST}) VALUES ${Array(rows.length).fill(ROW_PLACEHOLDER).join(',')}`;
  await conn.execute(sql, values);
}

function onMysqlTimer(sink: MysqlAccountingSink): void {
  void sink.storeLoop();
}
