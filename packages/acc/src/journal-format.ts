/**
 * The journal's line format: NDJSON, one JSON object per line, each ending with a CRC-32 of
 * the rest of the object, so `jq` reads it and a reader can tell a whole line from one torn
 * by a crash (a write that reached the disk only partly, or a tail of zeros after power loss).
 *
 *   {"journal":"voip-acc","version":1,"journal_id":"<uuid>","created":1700000000000,"crc":"1a2b3c4d"}
 *   {"id":1,"kind":"acc","method":"INVITE",...,"user_agent":"...","crc":"89abcdef"}
 *
 * The first line is the header; `journal_id` names the stream, so a reader's progress saved
 * against one journal is never applied to a new file at the same path. Record ids start at 1
 * and grow by one. The CRC covers the line's object without its crc member: the bytes of
 * `JSON.stringify(object)`, which is the line minus `,"crc":"xxxxxxxx"` before the final `}`.
 */
import { crc32 } from 'node:zlib';
import { ACC_KINDS, normalizeAccRecord, type AccRecord, type StoredAccRecord } from './acc-record.js';

export const JOURNAL_FORMAT = 'voip-acc';
export const JOURNAL_VERSION = 1;

export interface JournalHeader {
  journal: typeof JOURNAL_FORMAT;
  version: number;
  journal_id: string;
  created: number;
}

/** `,"crc":"` + 8 hex + `"}` */
const CRC_SUFFIX_LEN = 18;
const CRC_PREFIX = ',"crc":"';
const HEX8 = /^[0-9a-f]{8}$/;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Serialises an object as one journal line, newline included. */
export function encodeJournalObject(obj: object): string {
  const body = JSON.stringify(obj);
  return `${body.slice(0, -1)}${CRC_PREFIX}${hex8(crc32(body))}"}\n`;
}

export function encodeJournalRecord(id: number, record: AccRecord): string {
  // Fixed member order: id first, then the columns, as in the tables.
  return encodeJournalObject({
    id,
    kind: record.kind,
    method: record.method,
    from_tag: record.from_tag,
    to_tag: record.to_tag,
    callid: record.callid,
    sip_code: record.sip_code,
    sip_reason: record.sip_reason,
    time: record.time,
    src_user: record.src_user,
    src_domain: record.src_domain,
    src_ip: record.src_ip,
    dst_ouser: record.dst_ouser,
    dst_user: record.dst_user,
    dst_domain: record.dst_domain,
    user_agent: record.user_agent,
  });
}

export function encodeJournalHeader(header: JournalHeader): string {
  return encodeJournalObject(header);
}

export type JournalLine =
  | { type: 'header'; header: JournalHeader }
  | { type: 'record'; record: StoredAccRecord }
  | { type: 'invalid'; reason: string };

/**
 * Decodes one line (without its newline). Checks the CRC first, so a torn line is reported
 * as invalid and never parsed into a wrong record.
 */
export function decodeJournalLine(line: string): JournalLine {
  if (line.length < CRC_SUFFIX_LEN + 2 || !line.endsWith('"}')) return { type: 'invalid', reason: 'truncated line' };
  const cut = line.length - CRC_SUFFIX_LEN;
  if (line.slice(cut, cut + CRC_PREFIX.length) !== CRC_PREFIX) return { type: 'invalid', reason: 'no crc member' };
  const crcHex = line.slice(cut + CRC_PREFIX.length, line.length - 2);
  if (!HEX8.test(crcHex)) return { type: 'invalid', reason: 'malformed crc' };
  const body = `${line.slice(0, cut)}}`;
  if (hex8(crc32(body)) !== crcHex) return { type: 'invalid', reason: 'crc mismatch' };
  let obj: unknown;
  try {
    obj = JSON.parse(body);
  } catch {
    return { type: 'invalid', reason: 'not JSON' };
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return { type: 'invalid', reason: 'not an object' };
  const o = obj as Record<string, unknown>;
  if (o.journal === JOURNAL_FORMAT) {
    if (typeof o.journal_id !== 'string' || o.journal_id === '' || typeof o.version !== 'number' || typeof o.created !== 'number') {
      return { type: 'invalid', reason: 'malformed header' };
    }
    if (o.version !== JOURNAL_VERSION) return { type: 'invalid', reason: `unsupported journal version ${o.version}` };
    return { type: 'header', header: { journal: JOURNAL_FORMAT, version: o.version, journal_id: o.journal_id, created: o.created } };
  }
  const id = o.id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return { type: 'invalid', reason: 'missing record id' };
  if (!ACC_KINDS.includes(o.kind as never)) return { type: 'invalid', reason: `record ${id}: unknown kind` };
  const checked = normalizeAccRecord(o);
  if (!checked.ok) return { type: 'invalid', reason: `record ${id}: ${checked.reason}` };
  return { type: 'record', record: { ...checked.record, id } };
}
