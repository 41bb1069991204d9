import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GenericUri, parseUri, SipUri, TelUri, uriEquals, type Uri } from './uri.js';

function sip(s: string): SipUri {
  const u = SipUri.parse(s);
  assert.ok(u instanceof SipUri, `${s}: ${'reason' in u ? u.reason : ''}`);
  return u;
}

function uri(s: string): Uri {
  const u = parseUri(s);
  assert.ok(!('status' in u), `${s} rejected`);
  return u;
}

describe('SipUri.parse', () => {
  it('user, host, port, params, headers', () => {
    const u = sip('sip:alice:secret@atlanta.example.com:5070;transport=TCP;lr;Maddr=239.255.255.1?subject=project%20x&priority=urgent');
    assert.equal(u.scheme, 'sip');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'secret');
    assert.equal(u.host, 'atlanta.example.com');
    assert.equal(u.port, 5070);
    assert.deepEqual([...u.params.keys()], ['transport', 'lr', 'maddr']);
    assert.equal(u.transport, 'tcp');
    assert.equal(u.lr, true);
    assert.equal(u.maddr, '239.255.255.1');
    assert.deepEqual([...u.headers], [['subject', 'project%20x'], ['priority', 'urgent']]);
  });

  it('no user part, sips, case-insensitive scheme', () => {
    const u = sip('SIPS:example.com');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, null);
    assert.equal(u.port, null);
    assert.equal(u.lr, false);
    assert.equal(u.transport, null);
  });

  it('IPv6 references', () => {
    const u = sip('sip:bob@[2001:db8::10]:5060;transport=udp');
    assert.equal(u.host, '[2001:db8::10]');
    assert.equal(u.hostNoBrackets(), '2001:db8::10');
    assert.equal(u.port, 5060);
    assert.equal(sip('sip:[::1]').host, '[::1]');
    assert.equal(sip('sip:[::ffff:192.0.2.1]').hostNoBrackets(), '::ffff:192.0.2.1');
  });

  it('telephone-subscriber users and user-unreserved characters', () => {
    assert.equal(sip('sip:+1-212-555-1212:1234@gateway.com;user=phone').user, '+1-212-555-1212');
    assert.equal(sip('sip:user;par=u%40example.net@example.com').user, 'user;par=u%40example.net');
  });

  it('rejects malformed URIs', () => {
    for (const bad of [
      'sip:', 'sip:@host', 'sip:user@', 'sip:host:', 'sip:host:65536', 'sip:host:123456', 'sip:ho st',
      'sip:user@ho st', 'sip:us er@host', 'sip:host;', 'sip:host;=v', 'sip:host;p=', 'sip:%G1@host',
      'sip:%4@host', 'sip:host?', 'sip:host?x', 'sip:host?=v', 'sip:[::1', 'sip:[zz::1]', 'sip:host>',
      'sip:.host', 'sip:host;a=b c', 'sipx:host', 'http://x', '<sip:host>',
    ]) {
      assert.ok('status' in SipUri.parse(bad), bad);
    }
  });

  it('toString reproduces the URI; clone is independent', () => {
    for (const s of [
      'sip:alice@atlanta.example.com', 'sips:bob:pw@[2001:db8::1]:5061;transport=tls;lr',
      'sip:example.com;maddr=10.0.0.1;ttl=15?Route=%3Csip:a%3E&x=y', 'sip:+15551234@gw;user=phone',
    ]) assert.equal(sip(s).toString(), s);
    const a = sip('sip:a@b;lr');
    const b = a.clone();
    b.params.delete('lr');
    b.host = 'c';
    assert.equal(a.toString(), 'sip:a@b;lr');
    assert.equal(b.toString(), 'sip:a@c');
    assert.equal(new SipUri({ host: 'h', user: 'u', port: 5, params: [['LR', null]] }).toString(), 'sip:u@h:5;lr');
  });
});

describe('TelUri and GenericUri', () => {
  it('tel: global and local numbers with params', () => {
    const t = uri('tel:+1-201-555-0123;Phone-Context=example.com');
    assert.ok(t instanceof TelUri);
    assert.equal(t.number, '+1-201-555-0123');
    assert.equal(t.params.get('phone-context'), 'example.com');
    assert.equal(t.toString(), 'tel:+1-201-555-0123;phone-context=example.com');
    assert.equal((uri('tel:7042;phone-context=+1-201') as TelUri).number, '7042');
    for (const bad of ['tel:', 'tel:+', 'tel:12 34', 'tel:1+2', 'tel:123;', 'tel:123;=x', 'tel:123;x='])
      assert.ok('status' in parseUri(bad), bad);
  });

  it('other schemes stay opaque', () => {
    const g = uri('mailto:alice@example.com');
    assert.ok(g instanceof GenericUri);
    assert.equal(g.scheme, 'mailto');
    assert.equal(g.toString(), 'mailto:alice@example.com');
    assert.equal((uri('soap.beep://192.0.2.103:3002') as GenericUri).scheme, 'soap.beep');
    for (const bad of ['', 'nocolon', ':x', '1abc:x', 'x:', 'x:a b', 'x:a<b', 'x:a"b'])
      assert.ok('status' in parseUri(bad), bad);
  });
});

describe('uriEquals (RFC 3261 §19.1.4)', () => {
  const equal: [string, string][] = [
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ['sip:[2001:DB8::1]', 'sip:[2001:db8::1]'],
    ['tel:+1-201-555-0123', 'tel:+1(201)5550123'],
    ['mailto:a@b', 'mailto:a@b'],
  ];
  const different: [string, string][] = [
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:a@b', 'sips:a@b'],
    ['sip:a:x@b', 'sip:a@b'],
    ['sip:a@b;maddr=1.2.3.4', 'sip:a@b;maddr=1.2.3.5'],
    ['sip:%3b@b', 'sip:;@b'],
    ['sip:a@b', 'tel:123'],
    ['tel:123', 'tel:123;ext=1'],
    ['mailto:a@b', 'mailto:A@b'],
  ];
  for (const [a, b] of equal) {
    it(`${a} == ${b}`, () => {
      assert.ok(uriEquals(uri(a), uri(b)));
      assert.ok(uriEquals(uri(b), uri(a)));
    });
  }
  for (const [a, b] of different) {
    it(`${a} != ${b}`, () => {
      assert.ok(!uriEquals(uri(a), uri(b)));
      assert.ok(!uriEquals(uri(b), uri(a)));
    });
  }
});
