/**
 * JournalReader: reads a journal written by JournalAccountingSink, in order, from a cursor,
 * while the proxy keeps appending. A line without its newline is a write in progress (or a
 * torn write): it is left for the next read. An invalid line followed by valid ones is
 * corruption and is returned as a bad item (radius-acct parks it); an invalid line at the
 * tail is treated as torn and waited on, because the writer truncates it when it reopens.
 * When the file at `path` is replaced (rotated), the reader finishes the old file first,
 * then switches to the new journal from its beginning.
 */
import { open, stat, type FileHandle } from 'node:fs/promises';
import type { AccCursor, AccReader, AccReadItem, JournalCursor } from './acc-reader.js';
import { readJournalHeader } from './journal-file.js';
import { decodeJournalLine } from './journal-format.js';
import { silentAccLogger, type AccLogger } from './logger.js';

const NL = 0x0a;
const CHUNK = 1024 * 1024;

export interface JournalReaderOptions {
  path: string;
  logger?: AccLogger;
}

export class JournalReader implements AccReader {
  readonly path: string;
  private fh: FileHandle;
  private ino: number;
  private journalId: string;
  private headerEnd: number;
  private offset: number;
  private lastId: number;
  private readonly log: AccLogger;
  private tailWarned: boolean;

  private constructor(path: string, fh: FileHandle, ino: number, journalId: string, headerEnd: number, log: AccLogger) {
    this.path = path;
    this.fh = fh;
    this.ino = ino;
    this.journalId = journalId;
    this.headerEnd = headerEnd;
    this.offset = headerEnd;
    this.lastId = 0;
    this.log = log;
    this.tailWarned = false;
  }

  static async open(opts: JournalReaderOptions): Promise<JournalReader> {
    const fh = await open(opts.path, 'r');
    try {
      const st = await fh.stat();
      const { header, end } = await readJournalHeader(fh, opts.path);
      return new JournalReader(opts.path, fh, st.ino, header.journal_id, end, opts.logger ?? silentAccLogger);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  get streamId(): string {
    return `journal:${this.journalId}`;
  }

  initialCursor(): JournalCursor {
    return { source: 'journal', journalId: this.journalId, offset: this.headerEnd, lastId: 0 };
  }

  accepts(cursor: AccCursor): boolean {
    return cursor.source === 'journal' && cursor.journalId === this.journalId;
  }

  async seek(cursor: AccCursor): Promise<void> {
    if (!this.accepts(cursor) || cursor.source !== 'journal') {
      this.offset = this.headerEnd;
      this.lastId = 0;
      return;
    }
    const size = (await this.fh.stat()).size;
    if (cursor.offset < this.headerEnd || cursor.offset > size || !(await this.isLineStart(cursor.offset))) {
      // The saved offset does not fit this file: find the record by id instead.
      this.log.warn({ path: this.path, offset: cursor.offset, lastId: cursor.lastId }, 'saved journal offset does not match; rescanning by record id');
      await this.scanToId(cursor.lastId);
      return;
    }
    this.offset = cursor.offset;
    this.lastId = cursor.lastId;
  }

  async read(max: number): Promise<AccReadItem[]> {
    const items = await this.readChunk(max);
    if (items.length === 0) await this.followRotation();
    return items;
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  private cursor(): JournalCursor {
    return { source: 'journal', journalId: this.journalId, offset: this.offset, lastId: this.lastId };
  }

  private async readChunk(max: number): Promise<AccReadItem[]> {
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.offset);
    const items: AccReadItem[] = [];
    let pos = 0;
    while (items.length < max) {
      const nl = buf.indexOf(NL, pos);
      if (nl < 0 || nl >= bytesRead) break; // incomplete tail: a write in progress
      const text = buf.toString('utf8', pos, nl);
      const line = decodeJournalLine(text);
      if (line.type === 'invalid' || line.type === 'header') {
        const reason = line.type === 'header' ? 'header line inside the journal' : line.reason;
        if (!hasValidLineAfter(buf, nl + 1, bytesRead)) {
          if (!this.tailWarned) {
            this.tailWarned = true;
            this.log.warn({ path: this.path, offset: this.offset + pos, reason }, 'invalid journal tail line; waiting for the writer to complete or truncate it');
          }
          break;
        }
        this.offset += nl + 1 - pos;
        pos = nl + 1;
        items.push({ ok: false, key: `offset:${this.offset}`, cursor: this.cursor(), reason: `corrupt journal line: ${reason}`, raw: text.slice(0, 512) });
        continue;
      }
      this.tailWarned = false;
      this.offset += nl + 1 - pos;
      pos = nl + 1;
      const rec = line.record;
      if (rec.id <= this.lastId) {
        items.push({ ok: false, key: `offset:${this.offset}`, cursor: this.cursor(), reason: `record id ${rec.id} not after ${this.lastId}`, raw: text.slice(0, 512) });
        continue;
      }
      if (rec.id !== this.lastId + 1) {
        this.log.warn({ path: this.path, expected: this.lastId + 1, got: rec.id }, 'gap in journal record ids');
      }
      this.lastId = rec.id;
      items.push({ ok: true, key: String(rec.id), cursor: this.cursor(), record: rec });
    }
    return items;
  }

  /** Caught up: if `path` now names another file, switch to it (old file fully read). */
  private async followRotation(): Promise<void> {
    let st;
    try {
      st = await stat(this.path);
    } catch {
      return; // removed and not yet recreated: keep the old one
    }
    if (st.ino === this.ino) {
      const size = (await this.fh.stat()).size;
      if (size < this.offset) {
        this.log.error({ path: this.path, size, offset: this.offset }, 'journal shrank below the read position; rereading it from its header');
        await this.reopen();
      }
      return;
    }
    await this.reopen();
  }

  private async reopen(): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return;
    }
    try {
      const st = await fh.stat();
      const { header, end } = await readJournalHeader(fh, this.path);
      await this.fh.close();
      const previous = this.journalId;
      this.fh = fh;
      this.ino = st.ino;
      this.headerEnd = end;
      if (header.journal_id !== previous) {
        this.journalId = header.journal_id;
        this.offset = end;
        this.lastId = 0;
        this.log.info({ path: this.path, previous, journalId: header.journal_id }, 'journal replaced; reading the new journal from its start');
      } else {
        await this.scanToId(this.lastId);
      }
    } catch (err) {
      await fh.close();
      // A new file without its header yet: try again on the next read.
      this.log.debug({ err, path: this.path }, 'new journal not readable yet');
    }
  }

  private async isLineStart(offset: number): Promise<boolean> {
    if (offset === this.headerEnd) return true;
    const b = Buffer.alloc(1);
    await this.fh.read(b, 0, 1, offset - 1);
    return b[0] === NL;
  }

  /** Positions after record `lastId` by reading from the header. */
  private async scanToId(lastId: number): Promise<void> {
    this.offset = this.headerEnd;
    this.lastId = 0;
    if (lastId === 0) return;
    for (;;) {
      const before = this.offset;
      const items = await this.peekRecords(lastId);
      if (items === 'found' || this.offset === before) return;
    }
  }

  private async peekRecords(lastId: number): Promise<'found' | 'more'> {
    const buf = Buffer.allocUnsafe(CHUNK);
    const { bytesRead } = await this.fh.read(buf, 0, CHUNK, this.offset);
    let pos = 0;
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      if (nl < 0 || nl >= bytesRead) return 'more';
      const line = decodeJournalLine(buf.toString('utf8', pos, nl));
      this.offset += nl + 1 - pos;
      pos = nl + 1;
      if (line.type === 'record') {
        this.lastId = line.record.id;
        if (line.record.id >= lastId) return 'found';
      }
    }
  }
}

function hasValidLineAfter(buf: Buffer, from: number, end: number): boolean {
  let pos = from;
  for (;;) {
    const nl = buf.indexOf(NL, pos);
    if (nl < 0 || nl >= end) return false;
    if (decodeJournalLine(buf.toString('utf8', pos, nl)).type === 'record') return true;
    pos = nl + 1;
  }
}
