/**
 * JournalAccountingSink: the in-memory proxy's accounting store, an append-only NDJSON
 * journal (format in journal-format.ts). write() only queues; one timer per sink batches the
 * queue into a single write + fdatasync, so durability costs one fsync per batch, not per
 * call. A crash loses at most the records not yet flushed (the proxy calls flush() on
 * shutdown) and can leave a torn last line, which readers ignore and open() truncates.
 */
import { randomUUID } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { normalizeAccRecord, type AccRecord } from './acc-record.js';
import { emptySinkStats, type AccountingSink, type AccountingSinkStats } from './accounting-sink.js';
import { AccError } from './errors.js';
import { findJournalTail, readJournalHeader, syncDirectory } from './journal-file.js';
import { encodeJournalHeader, encodeJournalRecord, JOURNAL_FORMAT, JOURNAL_VERSION } from './journal-format.js';
import { silentAccLogger, type AccLogger } from './logger.js';

export interface JournalSinkOptions {
  /** Journal file; created with a fresh header when missing or empty. */
  path: string;
  logger?: AccLogger;
  /** Longest time a record waits in memory before its batch is written (ms). Default 5. */
  flushIntervalMs?: number;
  /** Records per write + fsync. Default 1000. */
  maxBatch?: number;
  /** Queue bound: beyond it write() drops and counts (the SIP path never waits). Default 100000. */
  maxPending?: number;
  /** fdatasync after each batch. Default true; false only for tests and benchmarks. */
  fsync?: boolean;
}

interface FlushWaiter {
  upTo: number;
  resolve: () => void;
  reject: (err: Error) => void;
}

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 5000;

export class JournalAccountingSink implements AccountingSink {
  readonly path: string;
  /** The journal's stream id (its header's journal_id). */
  readonly journalId: string;
  private readonly fh: FileHandle;
  private readonly log: AccLogger;
  private readonly flushIntervalMs: number;
  private readonly maxBatch: number;
  private readonly maxPending: number;
  private readonly fsync: boolean;
  private readonly counters: AccountingSinkStats;
  /** Encoded lines not yet durable; pendingFirstId is the id of pending[0]. */
  private pending: string[];
  private pendingFirstId: number;
  private nextId: number;
  /** File size up to the last durable line: the position of the next write. */
  private size: number;
  private storedUpTo: number;
  private waiters: FlushWaiter[];
  private timer: NodeJS.Timeout | null;
  private writing: boolean;
  private retryMs: number;
  private closed: boolean;
  private closing: Promise<void> | null;

  private constructor(opts: JournalSinkOptions, fh: FileHandle, journalId: string, lastId: number, size: number) {
    this.path = opts.path;
    this.journalId = journalId;
    this.fh = fh;
    this.log = opts.logger ?? silentAccLogger;
    this.flushIntervalMs = opts.flushIntervalMs ?? 5;
    this.maxBatch = opts.maxBatch ?? 1000;
    this.maxPending = opts.maxPending ?? 100_000;
    this.fsync = opts.fsync ?? true;
    this.counters = emptySinkStats();
    this.pending = [];
    this.pendingFirstId = lastId + 1;
    this.nextId = lastId + 1;
    this.size = size;
    this.storedUpTo = lastId;
    this.waiters = [];
    this.timer = null;
    this.writing = false;
    this.retryMs = RETRY_MIN_MS;
    this.closed = false;
    this.closing = null;
  }

  /**
   * Opens (or creates) the journal. On an existing file it checks the header, finds the last
   * valid record and truncates a torn tail, so new records start on a clean line.
   */
  static async open(opts: JournalSinkOptions): Promise<JournalAccountingSink> {
    const log = opts.logger ?? silentAccLogger;
    const fh = await open(opts.path, 'a+');
    try {
      let size = (await fh.stat()).size;
      if (size === 0) {
        const header = encodeJournalHeader({ journal: JOURNAL_FORMAT, version: JOURNAL_VERSION, journal_id: randomUUID(), created: Date.now() });
        await fh.close();
        // 'r+' below writes at explicit positions; 'a' would ignore them.
        const created = await open(opts.path, 'r+');
        await created.write(header, 0, 'utf8');
        await created.sync();
        await syncDirectory(opts.path);
        size = Buffer.byteLength(header);
        const { header: h } = await readJournalHeader(created, opts.path);
        log.info({ path: opts.path, journalId: h.journal_id }, 'created accounting journal');
        return new JournalAccountingSink(opts, created, h.journal_id, 0, size);
      }
      await fh.close();
      const rw = await open(opts.path, 'r+');
      try {
        const { header, end: headerEnd } = await readJournalHeader(rw, opts.path);
        const tail = await findJournalTail(rw, headerEnd, size);
        if (tail.end < size) {
          log.warn({ path: opts.path, tornBytes: size - tail.end, lastId: tail.lastId }, 'truncating torn journal tail left by a crash');
          await rw.truncate(tail.end);
          await rw.sync();
          size = tail.end;
        }
        log.info({ path: opts.path, journalId: header.journal_id, lastId: tail.lastId }, 'opened accounting journal');
        return new JournalAccountingSink(opts, rw, header.journal_id, tail.lastId, size);
      } catch (err) {
        await rw.close();
        throw err;
      }
    } catch (err) {
      await fh.close().catch(() => {});
      throw err;
    }
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
        this.log.error({ dropped: this.counters.dropped, pending: this.pending.length }, 'accounting journal queue full: records dropped');
      }
      return false;
    }
    this.pending.push(encodeJournalRecord(this.nextId++, checked.record));
    this.counters.accepted++;
    if (this.pending.length >= this.maxBatch) this.kick(0);
    else this.kick(this.flushIntervalMs);
    return true;
  }

  flush(): Promise<void> {
    if (this.closed && this.closing === null) return Promise.reject(new AccError('ACC_ERR_JOURNAL_CLOSED', this.path));
    return this.waitFor(this.nextId - 1);
  }

  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closed = true;
    this.closing = this.waitFor(this.nextId - 1)
      .catch((err: unknown) => {
        this.log.error({ err, lost: this.pending.length }, 'accounting journal closed with unwritten records');
      })
      .finally(async () => {
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = null;
        await this.fh.close();
      });
    return this.closing;
  }

  stats(): AccountingSinkStats {
    return { ...this.counters, pending: this.pending.length };
  }

  /** Id of the last record made durable. */
  lastStoredId(): number {
    return this.storedUpTo;
  }

  private waitFor(upTo: number): Promise<void> {
    if (this.storedUpTo >= upTo) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.kick(0);
    });
  }

  /** Arms the sink's one timer (never one per record); an earlier deadline wins. */
  private kick(delayMs: number): void {
    if (this.writing) return; // the running store loop picks the new records up
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(onJournalTimer, delayMs, this);
  }

  /** @internal timer entry point */
  async storeLoop(): Promise<void> {
    this.timer = null;
    if (this.writing) return;
    this.writing = true;
    try {
      while (this.pending.length > 0) {
        const n = Math.min(this.pending.length, this.maxBatch);
        const data = Buffer.from(this.pending.slice(0, n).join(''), 'utf8');
        try {
          // Positional write at the end of the last durable line: a retry after a failed or
          // partial write overwrites the partial bytes instead of appending after them.
          let off = 0;
          while (off < data.length) {
            const { bytesWritten } = await this.fh.write(data, off, data.length - off, this.size + off);
            off += bytesWritten;
          }
          if (this.fsync) await this.fh.datasync();
        } catch (err) {
          this.counters.storeErrors++;
          this.log.error({ err, path: this.path, pending: this.pending.length, retryMs: this.retryMs }, 'accounting journal write failed; retrying');
          if (this.closed) {
            this.failWaiters(err instanceof Error ? err : new Error(String(err)));
            return;
          }
          const wait = this.retryMs;
          this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
          this.writing = false;
          this.timer = setTimeout(onJournalTimer, wait, this);
          return;
        }
        this.retryMs = RETRY_MIN_MS;
        this.size += data.length;
        this.pending.splice(0, n);
        this.pendingFirstId += n;
        this.storedUpTo = this.pendingFirstId - 1;
        this.counters.stored += n;
        this.resolveWaiters();
      }
    } finally {
      if (this.writing) this.writing = false;
    }
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const rest: FlushWaiter[] = [];
    for (const w of this.waiters) {
      if (w.upTo <= this.storedUpTo) w.resolve();
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

function onJournalTimer(sink: JournalAccountingSink): void {
  void sink.storeLoop();
}
