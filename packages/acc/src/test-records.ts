import type { AccRecord } from './acc-record.js';

/** A valid record for tests; override any field. */
export function sampleAccRecord(over: Partial<AccRecord> = {}): AccRecord {
  return {
    kind: 'acc',
    method: 'INVITE',
    from_tag: 'ft-1',
    to_tag: 'tt-1',
    callid: 'call-1@example.org',
    sip_code: 200,
    sip_reason: 'OK',
    time: 1_700_000_000_000,
    src_user: 'alice',
    src_domain: 'example.org',
    src_ip: '192.0.2.10',
    dst_ouser: 'bob',
    dst_user: 'bob',
    dst_domain: 'example.org',
    user_agent: 'SIPp',
    ...over,
  };
}
