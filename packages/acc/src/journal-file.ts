/**
 * File-level helpers shared by the journal writer and reader: the header, the last valid
 * line (crash recovery), and durable creation.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AccError } from './errors.js';
import { decodeJournalLine, type JournalHeader } from './journal-format.js';

const NL = 0x0a;
/** A header line is far shorter than this. */
const HEADER_MAX = 4096;

export interface JournalHeaderInfo {
  header: JournalHeader;
  /** Byte offset just after the header line. */
  end: number;
}

/** Reads and checks the header line; throws ACC_ERR_JOURNAL_HEADER when it is not one. */
export async function readJournalHeader(fh: FileHandle, path: string): Promise<JournalHeaderInfo> {
  const buf = Buffer.allocUnsafe(HEADER_MAX);
  const { bytesRead } = await fh.read(buf, 0, HEADER_MAX, 0);
  const nl = buf.subarray(0, bytesRead).indexOf(NL);
  if (nl < 0) throw new AccError('ACC_ERR_JOURNAL_HEADER', path);
  const line = decodeJournalLine(buf.toString('utf8', 0, nl));
  if (line.type !== 'header') throw new AccError('ACC_ERR_JOURNAL_HEADER', path);
  return { header: line.header, end: nl + 1 };
}

export interface JournalTail {
  /** Id of the last valid record, 0 when there is none. */
  lastId: number;
  /** Byte offset just after the last valid line (the header when there is no record). */
  end: number;
}

/**
 * Finds the last valid line by scanning backwards from the end of the file, growing the
 * window until a valid record line or the header is reached. Everything after `end` is a
 * torn write that the writer truncates.
 */
export async function findJournalTail(fh: FileHandle, headerEnd: number, size: number): Promise<JournalTail> {
  let window = 64 * 1024;
  for (;;) {
    const start = Math.max(headerEnd, size - window);
    const len = size - start;
    const buf = Buffer.allocUnsafe(len);
    let got = 0;
    while (got < len) {
      const { bytesRead } = await fh.read(buf, got, len - got, start + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    // Line ends inside the window, last first. The first fragment is only a whole line when
    // the window starts right after the header.
    let lineEnd = buf.lastIndexOf(NL, got - 1);
    while (lineEnd >= 0) {
      const prev = lineEnd === 0 ? -1 : buf.lastIndexOf(NL, lineEnd - 1);
      if (prev < 0 && start > headerEnd) break; // left fragment may be cut: widen the window
      const line = decodeJournalLine(buf.toString('utf8', prev + 1, lineEnd));
      if (line.type === 'record') return { lastId: line.record.id, end: start + lineEnd + 1 };
      lineEnd = prev;
    }
    if (start === headerEnd) return { lastId: 0, end: headerEnd };
    window *= 4;
  }
}

/** fsync of the directory, so a newly created file's entry survives a crash. */
export async function syncDirectory(path: string): Promise<void> {
  let dh: FileHandle | null = null;
  try {
    dh = await open(dirname(path), 'r');
    await dh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the file's own fsync still holds.
  } finally {
    await dh?.close();
  }
}
