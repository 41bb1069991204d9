import { randomUUID } from 'node:crypto';
import { HeaderList } from './header-list.js';
import { NameAddr } from './name-addr.js';
import { defaultReason } from './reason-phrase.js';
import { SipRequest, SipResponse } from './sip-message.js';
import { splitCommas } from './chars.js';
import { MAGIC_COOKIE } from './via.js';
import { CSeq } from './cseq.js';

/** 32 hex digits of randomness (122 random bits of a v4 UUID, plus fixed version bits). */
function randomHex(): string {
  const u = randomUUID();
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18) + u.slice(19, 23) + u.slice(24);
}

/** RFC 3261 §8.1.1.7: branch = magic cookie + a value unique across space and time. */
export function generateBranch(): string {
  return MAGIC_COOKIE + randomHex();
}

/** RFC 3261 §19.3: tags need at least 32 random bits; we use 64. */
export function generateTag(): string {
  return randomHex().slice(0, 16);
}

/** Copies every line of `lname` from `src` to `dst` (values as received, one line each). */
function copyLines(src: HeaderList, dst: HeaderList, lname: string): void {
  const ln = src.lnames;
  for (let i = 0; i < ln.length; i++) if (ln[i] === lname) dst.append(lname, src.vals[i]);
}

/** True when the To value has a tag parameter (a parse failure counts as "no tag"). */
function hasTag(to: string): boolean {
  const na = NameAddr.parse(to);
  return !('status' in na) && na.tag !== null;
}

/**
 * RFC 3261 §8.2.6: a response built from a request. Copies all Via lines, From, To,
 * Call-ID, CSeq (values as received, so it also works on the best-effort request of a
 * failed parse); adds the To tag `toTag` when given, the status is above 100 and To has
 * none; Timestamp is echoed in a 100 (§8.2.6.1); Content-Length states the body length.
 * `extra` headers are appended in order.
 */
export function createResponse(
  req: SipRequest,
  status: number,
  reason?: string,
  opts?: { toTag?: string; extra?: [string, string][]; body?: Buffer },
): SipResponse {
  const src = req.headers;
  const h = new HeaderList();
  copyLines(src, h, 'via');
  copyLines(src, h, 'from');
  const to = src.get('to');
  if (to !== undefined) {
    const tag = opts?.toTag;
    h.append('to', tag !== undefined && status > 100 && !hasTag(to) ? to + ';tag=' + tag : to);
  }
  copyLines(src, h, 'call-id');
  copyLines(src, h, 'cseq');
  if (status === 100) copyLines(src, h, 'timestamp');
  if (opts?.extra !== undefined) for (const [n, v] of opts.extra) h.append(n, v);
  const body = opts?.body;
  h.append('content-length', String(body === undefined ? 0 : body.length));
  return new SipResponse(status, reason ?? defaultReason(status), h, body);
}

/** Top Via value of a request (first comma value of the first Via line). */
function topViaValue(req: SipRequest): string | undefined {
  const first = req.headers.get('via');
  if (first === undefined) return undefined;
  const parts: string[] = [];
  splitCommas(first, parts);
  return parts[0];
}

/**
 * RFC 3261 §9.1: CANCEL for a client INVITE: same Request-URI, Call-ID, To, From and CSeq
 * number (method CANCEL), a single Via equal to the INVITE's top Via (same branch), the
 * INVITE's Route headers; Max-Forwards 70.
 */
export function createCancel(invite: SipRequest): SipRequest {
  return ackOrCancel(invite, 'CANCEL', invite.headers.get('to'));
}

/**
 * RFC 3261 §17.1.1.3: ACK for a non-2xx final response to `invite`: Request-URI, Call-ID,
 * From and CSeq number of the INVITE (method ACK), To of the response (with its tag), the
 * INVITE's top Via only, and its Route headers; Max-Forwards 70.
 */
export function createNon2xxAck(invite: SipRequest, response: SipResponse): SipRequest {
  return ackOrCancel(invite, 'ACK', response.headers.get('to'));
}

function ackOrCancel(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string | undefined): SipRequest {
  const src = invite.headers;
  const h = new HeaderList();
  const via = topViaValue(invite);
  if (via !== undefined) h.append('via', via);
  h.append('max-forwards', '70');
  if (to !== undefined) h.append('to', to);
  copyLines(src, h, 'from');
  copyLines(src, h, 'call-id');
  h.append('cseq', new CSeq(invite.cseq.seq, method).toString());
  copyLines(src, h, 'route');
  h.append('content-length', '0');
  return new SipRequest(method, invite.uri.clone(), h);
}
