/**
 * Call detail records: joins the Start record (INVITE answered 2xx) with the Stop record
 * (BYE) of the same dialog into one row with a duration, the shape rating tools such as
 * CDRTool consume. A dialog is the Call-ID plus its two tags (RFC 3261 §12); the BYE may
 * come from either side, so its From/To tags are matched in either order. Missed calls are
 * CDRs with status "failed" and no duration; a Start without a Stop yet is "open".
 */
import type { StoredAccRecord } from '@voip/acc';

export type CdrStatus = 'completed' | 'open' | 'failed';

export interface Cdr {
  callid: string;
  from_tag: string;
  to_tag: string;
  status: CdrStatus;
  caller: string;
  callee: string;
  src_ip: string;
  user_agent: string;
  /** ISO 8601: answer time (Start) or failure time. */
  start_time: string;
  end_time: string | null;
  /** Seconds from answer to BYE (millisecond precision where the source keeps it). */
  duration: number | null;
  sip_code: number;
  sip_reason: string;
  /** Who hung up: "caller" (BYE from the From side) or "callee". */
  released_by: 'caller' | 'callee' | null;
}

function dialogKey(callid: string, a: string, b: string): string {
  return a <= b ? `${callid}\n${a}\n${b}` : `${callid}\n${b}\n${a}`;
}

function party(user: string, domain: string): string {
  return domain === '' ? user : `${user}@${domain}`;
}

/** Builds CDRs from records in stream order. */
export function buildCdrs(records: Iterable<StoredAccRecord>): Cdr[] {
  const out: Cdr[] = [];
  const open = new Map<string, { cdr: Cdr; startMs: number }>();
  for (const r of records) {
    if (r.kind === 'missed_call') {
      out.push({
        callid: r.callid,
        from_tag: r.from_tag,
        to_tag: r.to_tag,
        status: 'failed',
        caller: party(r.src_user, r.src_domain),
        callee: party(r.dst_user !== '' ? r.dst_user : r.dst_ouser, r.dst_domain),
        src_ip: r.src_ip,
        user_agent: r.user_agent,
        start_time: new Date(r.time).toISOString(),
        end_time: null,
        duration: null,
        sip_code: r.sip_code,
        sip_reason: r.sip_reason,
        released_by: null,
      });
      continue;
    }
    if (r.method === 'INVITE' && r.sip_code >= 200 && r.sip_code < 300) {
      const key = dialogKey(r.callid, r.from_tag, r.to_tag);
      if (open.has(key)) continue; // the same Start delivered twice
      const cdr: Cdr = {
        callid: r.callid,
        from_tag: r.from_tag,
        to_tag: r.to_tag,
        status: 'open',
        caller: party(r.src_user, r.src_domain),
        callee: party(r.dst_user !== '' ? r.dst_user : r.dst_ouser, r.dst_domain),
        src_ip: r.src_ip,
        user_agent: r.user_agent,
        start_time: new Date(r.time).toISOString(),
        end_time: null,
        duration: null,
        sip_code: r.sip_code,
        sip_reason: r.sip_reason,
        released_by: null,
      };
      open.set(key, { cdr, startMs: r.time });
      out.push(cdr);
      continue;
    }
    if (r.method === 'BYE') {
      const key = dialogKey(r.callid, r.from_tag, r.to_tag);
      const o = open.get(key);
      if (o === undefined || o.cdr.status !== 'open') continue; // BYE without Start, or a second BYE
      o.cdr.status = 'completed';
      o.cdr.end_time = new Date(r.time).toISOString();
      o.cdr.duration = Math.max(0, (r.time - o.startMs) / 1000);
      o.cdr.released_by = r.from_tag === o.cdr.from_tag ? 'caller' : 'callee';
    }
  }
  return out;
}

const CSV_COLUMNS: (keyof Cdr)[] = ['callid', 'from_tag', 'to_tag', 'status', 'caller', 'callee', 'src_ip', 'start_time', 'end_time', 'duration', 'sip_code', 'sip_reason', 'released_by', 'user_agent'];

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function formatCdrs(cdrs: Cdr[], format: 'json' | 'csv' | 'table'): string {
  if (format === 'json') return cdrs.map((c) => JSON.stringify(c)).join('\n') + (cdrs.length > 0 ? '\n' : '');
  if (format === 'csv') {
    const lines = [CSV_COLUMNS.join(',')];
    for (const c of cdrs) lines.push(CSV_COLUMNS.map((k) => csvCell(c[k])).join(','));
    return `${lines.join('\n')}\n`;
  }
  const cols: (keyof Cdr)[] = ['start_time', 'status', 'caller', 'callee', 'duration', 'sip_code', 'callid'];
  const rows = cdrs.map((c) => cols.map((k) => (k === 'duration' && c.duration !== null ? c.duration.toFixed(3) : c[k] === null ? '-' : String(c[k]))));
  const widths = cols.map((k, i) => Math.max(k.length, ...rows.map((r) => r[i].length)));
  const fmt = (cells: string[]): string => cells.map((s, i) => s.padEnd(widths[i])).join('  ').trimEnd();
  return `${[fmt(cols), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n')}\n`;
}
