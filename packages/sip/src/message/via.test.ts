import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Via, MAGIC_COOKIE } from './via.js';

function via(s: string): Via {
  const v = Via.parse(s);
  assert.ok(v instanceof Via, `${s}: ${'reason' in v ? v.reason : ''}`);
  return v;
}

describe('Via.parse', () => {
  it('sent-protocol, sent-by and the known parameters', () => {
    const v = via('SIP/2.0/udp pc33.atlanta.com:5066;branch=z9hG4bK776asdhds;received=192.0.2.1;rport=5060;maddr=224.2.0.1;ttl=16;x=y');
    assert.equal(v.protocolName, 'SIP');
    assert.equal(v.protocolVersion, '2.0');
    assert.equal(v.transport, 'UDP');
    assert.equal(v.host, 'pc33.atlanta.com');
    assert.equal(v.port, 5066);
    assert.equal(v.branch, 'z9hG4bK776asdhds');
    assert.equal(v.received, '192.0.2.1');
    assert.equal(v.rport, 5060);
    assert.equal(v.maddr, '224.2.0.1');
    assert.equal(v.ttl, 16);
    assert.equal(v.params.get('x'), 'y');
  });

  it('bare rport, no params, IPv6 sent-by', () => {
    assert.equal(via('SIP/2.0/UDP h;rport').rport, true);
    const v = via('SIP/2.0/TCP [2001:db8::9]:5070');
    assert.equal(v.host, '[2001:db8::9]');
    assert.equal(v.hostNoBrackets(), '2001:db8::9');
    assert.equal(v.port, 5070);
    assert.equal(v.branch, null);
    assert.equal(v.rport, null);
    assert.equal(v.ttl, null);
    assert.equal(via('SIP/2.0/UDP h;received=2001:db8::1').received, '2001:db8::1');
  });

  it('LWS around SLASH, COLON, SEMI and EQUAL (RFC 4475 wsinv)', () => {
    const v = via('SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8');
    assert.equal(v.transport, 'TCP');
    assert.equal(v.host, 'spindle.example.com');
    assert.equal(v.branch, 'z9hG4bK9ikj8');
    assert.equal(via('SIP/2.0/UDP host : 5060 ;branch=z9hG4bKx').port, 5060);
  });

  it('rejects malformed values', () => {
    for (const bad of [
      '', 'SIP/2.0', 'SIP/2.0/UDP', 'SIP/2.0/UDP ', 'SIP/2.0 UDP host', 'SIP/2.0/UDPhost', 'SIP/2.0/UDP host:',
      'SIP/2.0/UDP host:70000', 'SIP/2.0/UDP host;;', 'SIP/2.0/UDP 192.0.2.15;;,;,,', 'SIP/2.0/UDP host;branch=',
      'SIP/2.0/UDP host;branch', 'SIP/2.0/UDP host;ttl=256', 'SIP/2.0/UDP host;rport=x', 'SIP/2.0/UDP host;received',
      'SIP/2.0/UDP [::1', 'SIP/2.0/UDP host junk', 'SIP/2.0/UDP host;branch="q"',
    ]) assert.ok('status' in Via.parse(bad), bad);
  });

  it('toString and clone', () => {
    const v = new Via('udp', '192.0.2.1', 5060, [['branch', MAGIC_COOKIE + 'abc'], ['rport', null]]);
    assert.equal(v.toString(), 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc;rport');
    const c = v.clone();
    c.params.set('received', '10.0.0.1');
    assert.equal(v.received, null);
    assert.equal(via(c.toString()).received, '10.0.0.1');
  });
});
