/**
 * The accounting record: one row of Kamailio's `acc` / `missed_calls` tables plus the
 * `db_extra` columns Kamailio's stock kamailio.cfg configures
 * (`src_user=$fU;src_domain=$fd;src_ip=$si;dst_ouser=$tU;dst_user=$rU;dst_domain=$rd`)
 * and `user_agent` ($ua). Field names are the column names, so the journal, the SQL tables
 * and docs/accounting.md share one vocabulary.
 */

/** `acc` = a transaction accounted on success (INVITE 2xx, BYE); `missed_call` = an INVITE
 *  that ended with a final response >= 300 (Kamailio's missed_calls table). */
export type AccKind = 'acc' | 'missed_call';

export const ACC_KINDS: readonly AccKind[] = ['acc', 'missed_call'];

export interface AccRecord {
  kind: AccKind;
  /** Request method of the accounted transaction (INVITE, BYE, ...). */
  method: string;
  /** From tag of the accounted request. */
  from_tag: string;
  /** To tag of the final response (INVITE) or of the request (BYE). */
  to_tag: string;
  callid: string;
  /** Final response status code, 100..699. */
  sip_code: number;
  sip_reason: string;
  /** When the transaction completed: milliseconds since the Unix epoch (UTC). */
  time: number;
  /** Caller: From URI user and host. */
  src_user: string;
  src_domain: string;
  /** Source IP address of the request as the proxy received it. */
  src_ip: string;
  /** Callee as dialled: To URI user. */
  dst_ouser: string;
  /** Callee after routing: Request-URI user and host. */
  dst_user: string;
  dst_domain: string;
  /** User-Agent header of the request. */
  user_agent: string;
}

/** A record as read back from a journal or table: `id` orders records within their stream
 *  (the journal's sequence number, or the table's AUTO_INCREMENT id). */
export interface StoredAccRecord extends AccRecord {
  id: number;
}

/** String columns and their lengths in characters (VARCHAR(n) of Kamailio 5.x acc-create.sql
 *  and of the ALTER TABLE lines in Kamailio's kamailio.cfg; user_agent is ours). */
export const ACC_STRING_COLUMNS = {
  method: 16,
  from_tag: 128,
  to_tag: 128,
  callid: 255,
  sip_reason: 128,
  src_user: 64,
  src_domain: 128,
  src_ip: 64,
  dst_ouser: 64,
  dst_user: 64,
  dst_domain: 128,
  user_agent: 255,
} as const;

export type AccStringColumn = keyof typeof ACC_STRING_COLUMNS;

export const ACC_STRING_COLUMN_NAMES = Object.keys(ACC_STRING_COLUMNS) as AccStringColumn[];

/** Result of validating a record: the normalised record, or why it cannot be stored. */
export type AccRecordCheck = { ok: true; record: AccRecord } | { ok: false; reason: string };

/**
 * Validates a record and normalises it for storage: strings longer than their column are
 * cut to the column length (as Kamailio's db layer would store them), everything else that
 * is wrong is a reason to refuse the record. Never throws.
 */
export function normalizeAccRecord(input: unknown): AccRecordCheck {
  if (typeof input !== 'object' || input === null) return { ok: false, reason: 'record is not an object' };
  const r = input as Record<string, unknown>;
  if (r.kind !== 'acc' && r.kind !== 'missed_call') return { ok: false, reason: `unknown kind ${String(r.kind)}` };
  const code = r.sip_code;
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 100 || code > 699) {
    return { ok: false, reason: `sip_code ${String(code)} is not a SIP status code` };
  }
  const time = r.time;
  if (typeof time !== 'number' || !Number.isFinite(time) || time < 0) {
    return { ok: false, reason: `time ${String(time)} is not a timestamp in ms` };
  }
  const out: AccRecord = {
    kind: r.kind,
    method: '',
    from_tag: '',
    to_tag: '',
    callid: '',
    sip_code: code,
    sip_reason: '',
    time: Math.floor(time),
    src_user: '',
    src_domain: '',
    src_ip: '',
    dst_ouser: '',
    dst_user: '',
    dst_domain: '',
    user_agent: '',
  };
  for (const col of ACC_STRING_COLUMN_NAMES) {
    const v = r[col];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'string') return { ok: false, reason: `${col} is not a string` };
    const max = ACC_STRING_COLUMNS[col];
    out[col] = v.length > max ? v.slice(0, max) : v;
  }
  if (out.method === '') return { ok: false, reason: 'method is empty' };
  if (out.callid === '') return { ok: false, reason: 'callid is empty' };
  return { ok: true, record: out };
}
