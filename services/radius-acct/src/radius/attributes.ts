/**
 * Maps an accounting record to RFC 2866 Accounting-Request attributes, as Kamailio's
 * acc_radius does (dictionary/dictionary.voip documents the numbers).
 */
import type { RadiusAttribute } from 'radius';
import type { StoredAccRecord } from '@voip/acc';

/** Attribute numbers outside node-radius' RFC dictionaries (Kamailio acc_radius numbering). */
export const SIP_METHOD_ATTR = 101;
export const SIP_RESPONSE_CODE_ATTR = 102;
export const SIP_TO_TAG_ATTR = 104;
export const SIP_FROM_TAG_ATTR = 105;
/** RFC 2865 §5 "Implementation Specific" range (224-240). */
export const VOIP_ACCT_UNIQUE_ID_ATTR = 227;

/** RFC 2866 §5.1 Acct-Status-Type values; 15 = Failed as Kamailio's acc_radius sends it. */
export const ACCT_STATUS = { Start: 1, Stop: 2, 'Interim-Update': 3, Failed: 15 } as const;
export type AcctStatus = keyof typeof ACCT_STATUS;

/** Service-Type Sip-Session (draft-schulzrinne-sipping-radius-accounting; Kamailio). */
export const SERVICE_TYPE_SIP_SESSION = 15;

/** Kamailio's METHOD_* bit values (src/core/parser/msg_parser.h), sent as Sip-Method. */
export const SIP_METHOD_CODES: Readonly<Record<string, number>> = {
  INVITE: 1,
  CANCEL: 2,
  ACK: 4,
  BYE: 8,
  INFO: 16,
  REGISTER: 32,
  SUBSCRIBE: 64,
  NOTIFY: 128,
  MESSAGE: 256,
  OPTIONS: 512,
  PRACK: 1024,
  UPDATE: 2048,
  REFER: 4096,
  PUBLISH: 8192,
};
const METHOD_OTHER = 524288;

/** RFC 2865 §5: an attribute's value is at most 253 octets. */
const MAX_VALUE_OCTETS = 253;

/**
 * Status type of a record, as Kamailio's rad_status(): INVITE answered 2xx → Start,
 * BYE or CANCEL → Stop, missed call or any record with a final code ≥ 300 → Failed, other
 * successful transactions → Interim-Update.
 */
export function acctStatusOf(r: StoredAccRecord): AcctStatus {
  if (r.kind === 'missed_call' || r.sip_code >= 300) return 'Failed';
  if (r.method === 'INVITE' && r.sip_code >= 200) return 'Start';
  if (r.method === 'BYE' || r.method === 'CANCEL') return 'Stop';
  return 'Interim-Update';
}

export interface NasIdentity {
  /** NAS-Identifier (RFC 2865 §5.32); an Accounting-Request carries it or NAS-IP-Address. */
  nasIdentifier: string;
  /** NAS-IP-Address (IPv4), optional. */
  nasIpAddress?: string;
}

export type AttributesResult = { ok: true; attributes: RadiusAttribute[]; status: AcctStatus } | { ok: false; reason: string };

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

function sipUri(user: string, domain: string): string {
  if (domain === '') return user;
  return user === '' ? `sip:${domain}` : `sip:${user}@${domain}`;
}

/**
 * Builds the attributes of one record. `delaySeconds` is Acct-Delay-Time (RFC 2866 §5.2):
 * how long the record has waited; the caller recomputes it for each new packet (never for
 * a retransmission, which must be byte-identical, RFC 2866 §3).
 */
export function buildAccountingAttributes(r: StoredAccRecord, uniqueId: string, delaySeconds: number, nas: NasIdentity): AttributesResult {
  const status = acctStatusOf(r);
  const strings: [string | number, string][] = [
    ['Acct-Session-Id', r.callid],
    [SIP_FROM_TAG_ATTR, r.from_tag],
    [SIP_TO_TAG_ATTR, r.to_tag],
    ['User-Name', r.src_user === '' ? '' : sipUri(r.src_user, r.src_domain).replace(/^sip:/, '')],
    ['Calling-Station-Id', sipUri(r.src_user, r.src_domain)],
    ['Called-Station-Id', sipUri(r.dst_user !== '' ? r.dst_user : r.dst_ouser, r.dst_domain)],
    ['NAS-Identifier', nas.nasIdentifier],
    [VOIP_ACCT_UNIQUE_ID_ATTR, uniqueId],
  ];
  const attributes: RadiusAttribute[] = [
    ['Acct-Status-Type', ACCT_STATUS[status]],
    ['Service-Type', SERVICE_TYPE_SIP_SESSION],
    [SIP_METHOD_ATTR, u32(SIP_METHOD_CODES[r.method] ?? METHOD_OTHER)],
    [SIP_RESPONSE_CODE_ATTR, u32(r.sip_code)],
    ['Event-Timestamp', u32(Math.floor(r.time / 1000))],
    ['Acct-Delay-Time', Math.max(0, Math.floor(delaySeconds))],
  ];
  for (const [attr, value] of strings) {
    // RFC 2865 §5: string attributes have at least one octet; empty values are left out.
    if (value === '') continue;
    const buf = Buffer.from(value, 'utf8');
    if (buf.length > MAX_VALUE_OCTETS) {
      return { ok: false, reason: `${typeof attr === 'number' ? `attribute ${attr}` : attr} is ${buf.length} octets, over RFC 2865's 253` };
    }
    attributes.push([attr, typeof attr === 'number' ? buf : value]);
  }
  if (nas.nasIpAddress !== undefined && nas.nasIpAddress !== '') attributes.push(['NAS-IP-Address', nas.nasIpAddress]);
  return { ok: true, attributes, status };
}
