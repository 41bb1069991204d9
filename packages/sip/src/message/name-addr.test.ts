import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { NameAddr, parseContacts } from './name-addr.js';
import type { SipUri } from './uri.js';

function na(s: string): NameAddr {
  const r = NameAddr.parse(s);
  assert.ok(r instanceof NameAddr, `${s}: ${'reason' in r ? r.reason : ''}`);
  return r;
}

describe('NameAddr.parse', () => {
  it('quoted display name with escapes, params with LWS', () => {
    const a = na('"A \\"B\\" C" <sip:a@b.example;lr> ;tag = 123 ; x; q=0.5');
    assert.equal(a.displayName, 'A "B" C');
    assert.equal(a.uri.toString(), 'sip:a@b.example;lr');
    assert.equal(a.tag, '123');
    assert.deepEqual([...a.params], [['tag', '123'], ['x', null], ['q', '0.5']]);
    assert.ok(a.angle);
  });

  it('token display names, none, and no LWS before <', () => {
    assert.equal(na('Bob Smith <sip:bob@b>').displayName, 'Bob Smith');
    assert.equal(na('caller<sip:caller@example.com>;tag=1').displayName, 'caller');
    assert.equal(na('<sip:bob@b>').displayName, null);
  });

  it('addr-spec: parameters after the URI belong to the header', () => {
    const a = na('sip:+1972@gw1.example.net;unknownparam;tag=9');
    assert.ok(!a.angle);
    assert.equal((a.uri as SipUri).params.size, 0);
    assert.deepEqual([...a.params], [['unknownparam', null], ['tag', '9']]);
    assert.equal(na('tel:+1-555').uri.toString(), 'tel:+1-555');
    assert.equal(na('isbn:2983792873').uri.toString(), 'isbn:2983792873');
  });

  it('quoted parameter values keep their quotes', () => {
    const a = na('<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1');
    assert.equal(a.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>"');
    assert.equal(a.toString(), '<sip:a@b>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1');
  });

  it('rejects what RFC 4475 §3.1.2 calls malformed', () => {
    for (const bad of [
      '"Mr. J. User <sip:j.user@example.com>', // quotbal
      '"Watson, Thomas" < sip:t.watson@example.org >', // badaspec
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43', // baddn
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E', // regbadct
      '"Joe" <sip:joe@example.org>;;;;', // badinv01
      '<sip:a@b', '<>', '"x"', 'x <sip:a@b> junk', '<sip:a@b>;tag=', '<sip:a@b>;=x', '', '   ',
      'sip:a@b, sip:c@d',
    ]) assert.ok('status' in NameAddr.parse(bad), bad);
  });

  it('tag setter and toString', () => {
    const a = na('sip:a@b');
    a.tag = 'xyz';
    assert.equal(a.toString(), '<sip:a@b>;tag=xyz');
    a.tag = null;
    assert.equal(a.params.has('tag'), false);
    a.displayName = 'Q "x"';
    assert.equal(a.toString(), '"Q \\"x\\"" <sip:a@b>');
    const c = a.clone();
    c.params.set('tag', '1');
    assert.equal(a.params.has('tag'), false);
  });
});

describe('parseContacts', () => {
  it('star alone', () => {
    assert.deepEqual(parseContacts(['*']), { star: true });
  });
  it('star mixed with addresses is malformed', () => {
    const r = parseContacts(['*', '<sip:a@b>']);
    assert.ok('status' in r && r.reason === 'Bad Request - Malformed Contact');
  });
  it('list with expires and q', () => {
    const r = parseContacts(['<sip:a@b>;expires=3600;q=0.7', '"X" <sip:c@d:5070>']);
    assert.ok(!('status' in r) && !r.star);
    assert.equal(r.contacts.length, 2);
    assert.equal(r.contacts[0].params.get('expires'), '3600');
    assert.equal(r.contacts[1].displayName, 'X');
  });
  it('one bad value fails the list', () => {
    assert.ok('status' in parseContacts(['<sip:a@b>', 'junk junk']));
  });
});
