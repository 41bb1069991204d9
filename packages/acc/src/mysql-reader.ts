/**
 * MysqlReader: reads `acc` and `missed_calls` in id order from a cursor (one id per table),
 * merging the two by time. AUTO_INCREMENT ids are handed out at INSERT time but become
 * visible at COMMIT, so with several writers id 11 can be visible before id 10: a gap in
 * the ids holds reading of that table back for `gapGraceMs`; a gap still open after it is a
 * rolled-back or deleted row and is skipped (logged). Rows Kamailio wrote read the same way.
 */
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { normalizeAccRecord, type AccKind, type StoredAccRecord } from './acc-record.js';
import type { AccCursor, AccReader, AccReadItem, MysqlCursor } from './acc-reader.js';
import { silentAccLogger, type AccLogger } from './logger.js';
import { createAccPool, databaseOfUri } from './mysql-pool.js';
import { ACC_COLUMNS, ACC_TABLE, MISSED_CALLS_TABLE } from './schema.js';

export interface MysqlReaderOptions {
  uri: string;
  logger?: AccLogger;
  /** How long an id gap may stay open before it is skipped (ms). Default 5000. */
  gapGraceMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

interface TableState {
  table: string;
  kind: AccKind;
  lastId: number;
  /** When the current gap after lastId was first seen; 0 = none. */
  gapSince: number;
}

export class MysqlReader implements AccReader {
  readonly database: string;
  private readonly pool: Pool;
  private readonly log: AccLogger;
  private readonly gapGraceMs: number;
  private readonly now: () => number;
  private readonly acc: TableState;
  private readonly missed: TableState;

  constructor(opts: MysqlReaderOptions) {
    this.database = databaseOfUri(opts.uri);
    this.pool = createAccPool(opts.uri, 1);
    this.log = opts.logger ?? silentAccLogger;
    this.gapGraceMs = opts.gapGraceMs ?? 5000;
    this.now = opts.now ?? Date.now;
    this.acc = { table: ACC_TABLE, kind: 'acc', lastId: 0, gapSince: 0 };
    this.missed = { table: MISSED_CALLS_TABLE, kind: 'missed_call', lastId: 0, gapSince: 0 };
  }

  get streamId(): string {
    return `mysql:${this.database}`;
  }

  initialCursor(): MysqlCursor {
    return { source: 'mysql', database: this.database, accId: 0, missedId: 0 };
  }

  accepts(cursor: AccCursor): boolean {
    return cursor.source === 'mysql' && cursor.database === this.database;
  }

  async seek(cursor: AccCursor): Promise<void> {
    const c = this.accepts(cursor) && cursor.source === 'mysql' ? cursor : this.initialCursor();
    this.acc.lastId = c.accId;
    this.missed.lastId = c.missedId;
    this.acc.gapSince = 0;
    this.missed.gapSince = 0;
  }

  async read(max: number): Promise<AccReadItem[]> {
    const a = await this.readTable(this.acc, max);
    const m = await this.readTable(this.missed, max);
    // Merge by time (then acc first, then id) so Start/Stop and failures go out in call order.
    const out: AccReadItem[] = [];
    let i = 0;
    let j = 0;
    while (out.length < max && (i < a.length || j < m.length)) {
      const takeAcc = j >= m.length || (i < a.length && a[i].time <= m[j].time);
      const row = takeAcc ? a[i++] : m[j++];
      const st = takeAcc ? this.acc : this.missed;
      st.lastId = row.id;
      out.push(this.toItem(st, row.id, row.raw));
    }
    return out;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private cursor(): MysqlCursor {
    return { source: 'mysql', database: this.database, accId: this.acc.lastId, missedId: this.missed.lastId };
  }

  private toItem(st: TableState, id: number, raw: RowDataPacket): AccReadItem {
    const key = `${st.table}:${id}`;
    const time = raw.time instanceof Date ? raw.time.getTime() : NaN;
    const code = typeof raw.sip_code === 'string' && /^[1-6][0-9]{2}$/.test(raw.sip_code) ? Number(raw.sip_code) : NaN;
    const checked = normalizeAccRecord({ ...raw, kind: st.kind, time, sip_code: code });
    if (!checked.ok) {
      return { ok: false, key, cursor: this.cursor(), reason: `${st.table} row ${id}: ${checked.reason}`, raw: JSON.stringify(raw).slice(0, 512) };
    }
    const record: StoredAccRecord = { ...checked.record, id };
    return { ok: true, key, cursor: this.cursor(), record };
  }

  /** Rows after lastId that may be consumed now (stops at a gap still within its grace). */
  private async readTable(st: TableState, max: number): Promise<{ id: number; time: number; raw: RowDataPacket }[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      `SELECT id, ${ACC_COLUMNS.map((c) => `\`${c}\``).join(',')} FROM \`${st.table}\` WHERE id > ? ORDER BY id LIMIT ?`,
      [st.lastId, max],
    );
    const out: { id: number; time: number; raw: RowDataPacket }[] = [];
    let expect = st.lastId + 1;
    for (const raw of rows) {
      const id = Number(raw.id);
      if (id !== expect) {
        const now = this.now();
        if (st.gapSince === 0) st.gapSince = now;
        if (now - st.gapSince < this.gapGraceMs) break;
        this.log.warn({ table: st.table, from: expect, to: id - 1 }, 'skipping accounting ids never committed (rolled back or deleted)');
      }
      st.gapSince = 0;
      expect = id + 1;
      out.push({ id, time: raw.time instanceof Date ? raw.time.getTime() : 0, raw });
    }
    return out;
  }
}
