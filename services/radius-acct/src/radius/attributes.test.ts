import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import radius from 'radius';
import type { StoredAccRecord } from '@voip/acc';
import { acctStatusOf, buildAccountingAttributes, SIP_FROM_TAG_ATTR, SIP_METHOD_ATTR, SIP_RESPONSE_CODE_ATTR, SIP_TO_TAG_ATTR, VOIP_ACCT_UNIQUE_ID_ATTR } from './attributes.js';

function rec(over: Partial<StoredAccRecord> = {}): StoredAccRecord {
  return { id: 1, kind: 'acc', method: 'INVITE', from_tag: 'ft', to_tag: 'tt', callid: 'c1@x', sip_code: 200, sip_reason: 'OK', time: 1_700_000_000_900, src_user: 'alice', src_domain: 'x.org', src_ip: '127.0.0.1', dst_ouser: '100', dst_user: 'bob', dst_domain: 'x.org', user_agent: '', ...over };
}

function raw(pkt: ReturnType<typeof radius.decode>, id: number): Buffer | undefined {
  return pkt.raw_attributes.find(([t]) => t === id)?.[1];
}

describe('acctStatusOf (Kamailio rad_status)', () => {
  const table: [Partial<StoredAccRecord>, string][] = [
    [{ method: 'INVITE', sip_code: 200 }, 'Start'],
    [{ method: 'BYE', sip_code: 200 }, 'Stop'],
    [{ method: 'BYE', sip_code: 481 }, 'Failed'],
    [{ method: 'CANCEL', sip_code: 200 }, 'Stop'],
    [{ kind: 'missed_call', method: 'INVITE', sip_code: 486 }, 'Failed'],
    [{ kind: 'missed_call', method: 'INVITE', sip_code: 200 }, 'Failed'],
    [{ method: 'MESSAGE', sip_code: 202 }, 'Interim-Update'],
  ];
  for (const [over, status] of table) {
    it(`${over.kind ?? 'acc'} ${over.method} ${over.sip_code} → ${status}`, () => assert.equal(acctStatusOf(rec(over)), status));
  }
});

describe('buildAccountingAttributes', () => {
  it('encodes the Kamailio acc_radius attributes', () => {
    const built = buildAccountingAttributes(rec(), 'a'.repeat(32), 61.7, { nasIdentifier: 'nas1', nasIpAddress: '10.0.0.1' });
    assert.ok(built.ok);
    const pkt = radius.decode({ packet: radius.encode({ code: 'Accounting-Request', secret: 's', identifier: 7, attributes: built.attributes }), secret: 's' });
    assert.equal(pkt.attributes['Acct-Status-Type'], 'Start');
    assert.equal(pkt.attributes['Acct-Session-Id'], 'c1@x');
    assert.equal(pkt.attributes['User-Name'], 'alice@x.org');
    assert.equal(pkt.attributes['Calling-Station-Id'], 'sip:alice@x.org');
    assert.equal(pkt.attributes['Called-Station-Id'], 'sip:bob@x.org');
    assert.equal(pkt.attributes['Acct-Delay-Time'], 61);
    assert.equal(pkt.attributes['NAS-Identifier'], 'nas1');
    assert.equal(pkt.attributes['NAS-IP-Address'], '10.0.0.1');
    assert.equal((pkt.attributes['Event-Timestamp'] as Date).getTime(), 1_700_000_000_000);
    assert.equal(raw(pkt, 6)?.readUInt32BE(0), 15, 'Service-Type Sip-Session');
    assert.equal(raw(pkt, SIP_METHOD_ATTR)?.readUInt32BE(0), 1);
    assert.equal(raw(pkt, SIP_RESPONSE_CODE_ATTR)?.readUInt32BE(0), 200);
    assert.equal(raw(pkt, SIP_FROM_TAG_ATTR)?.toString(), 'ft');
    assert.equal(raw(pkt, SIP_TO_TAG_ATTR)?.toString(), 'tt');
    assert.equal(raw(pkt, VOIP_ACCT_UNIQUE_ID_ATTR)?.toString(), 'a'.repeat(32));
  });
  it('sends Failed (15) for missed calls and BYE as method 8', () => {
    const missed = buildAccountingAttributes(rec({ kind: 'missed_call', sip_code: 486 }), 'u', 0, { nasIdentifier: 'n' });
    assert.ok(missed.ok);
    assert.deepEqual(missed.attributes[0], ['Acct-Status-Type', 15]);
    const bye = buildAccountingAttributes(rec({ method: 'BYE' }), 'u', 0, { nasIdentifier: 'n' });
    assert.ok(bye.ok);
    assert.equal((bye.attributes.find(([t]) => t === SIP_METHOD_ATTR)?.[1] as Buffer).readUInt32BE(0), 8);
  });
  it('leaves out empty strings (RFC 2865 §5: at least one octet)', () => {
    const built = buildAccountingAttributes(rec({ to_tag: '' }), 'u', 0, { nasIdentifier: 'n' });
    assert.ok(built.ok);
    assert.equal(built.attributes.some(([t]) => t === SIP_TO_TAG_ATTR), false);
  });
  it('refuses a value over 253 octets instead of truncating it', () => {
    const built = buildAccountingAttributes(rec({ callid: 'é'.repeat(127) }), 'u', 0, { nasIdentifier: 'n' });
    assert.deepEqual(built, { ok: false, reason: "Acct-Session-Id is 254 octets, over RFC 2865's 253" });
  });
});
