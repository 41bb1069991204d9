import { createHash } from 'node:crypto';
import type { StoredAccRecord } from './acc-record.js';

/** Where a journal reader stands: after record `lastId`, whose line ends at `offset`. */
export interface JournalCursor {
  source: 'journal';
  journalId: string;
  offset: number;
  lastId: number;
}

/** Where a MySQL reader stands: after these ids of `acc` and `missed_calls`. */
export interface MysqlCursor {
  source: 'mysql';
  database: string;
  accId: number;
  missedId: number;
}

/** A resume point; JSON-serialisable, saved by radius-acct after each acknowledged record. */
export type AccCursor = JournalCursor | MysqlCursor;

/** One step of a stream: a record, or a stored entry that cannot be read as one (corrupt
 *  journal line, row with bad values). Either way `cursor` is the position after it. */
export type AccReadItem =
  | { ok: true; key: string; cursor: AccCursor; record: StoredAccRecord }
  | { ok: false; key: string; cursor: AccCursor; reason: string; raw: string };

/**
 * A reader yields the records of one stream in order, starting after a cursor. read()
 * polls: it returns what is there now (possibly nothing) and never waits for new records.
 */
export interface AccReader {
  /** Stable identity of the stream: `journal:<journal_id>` or `mysql:<database>`. */
  readonly streamId: string;
  /** The cursor before the first record of the stream. */
  initialCursor(): AccCursor;
  /** Whether a saved cursor belongs to this stream (else the caller starts from initialCursor()). */
  accepts(cursor: AccCursor): boolean;
  /** Positions the reader just after `cursor`. */
  seek(cursor: AccCursor): Promise<void>;
  /** Up to `max` next items in order; [] when caught up. */
  read(max: number): Promise<AccReadItem[]>;
  close(): Promise<void>;
}

export function describeCursor(c: AccCursor): string {
  return c.source === 'journal'
    ? `journal ${c.journalId} after record ${c.lastId} (byte ${c.offset})`
    : `database ${c.database} after acc.id ${c.accId} and missed_calls.id ${c.missedId}`;
}

/**
 * The stable per-record id sent as the accounting record's unique id: MD5 hex of the
 * stream id and the record's key, so it is 32 hex characters like FreeRADIUS' own
 * Acct-Unique-Session-Id and fits radacct.acctuniqueid. The same record always gets the
 * same id, whichever process or retry sends it.
 */
export function accRecordUniqueId(streamId: string, key: string): string {
  return createHash('md5').update(`${streamId}|${key}`).digest('hex');
}
