import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createCancel, createNon2xxAck, createResponse, generateBranch, generateTag } from './message-factory.js';
import { defaultReason } from './reason-phrase.js';
import { parseMessage } from './parse-message.js';
import { SipRequest, SipResponse } from './sip-message.js';
import { MAGIC_COOKIE } from './via.js';

const INVITE = [
  'INVITE sip:bob@biloxi.example.com SIP/2.0',
  'Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1;received=192.0.2.9, SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776',
  'Via: SIP/2.0/UDP pc0.example.com;branch=z9hG4bK0',
  'Max-Forwards: 69',
  'Route: <sip:p2.example.com;lr>',
  'Route: <sip:p3.example.com;lr>',
  'To: Bob <sip:bob@biloxi.example.com>',
  'From: Alice <sip:alice@atlanta.example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.atlanta.example.com',
  'CSeq: 314159 INVITE',
  'Timestamp: 54',
  'Contact: <sip:alice@pc33.atlanta.example.com>',
  'Content-Length: 0',
].join('\r\n') + '\r\n\r\n';

function invite(): SipRequest {
  const r = parseMessage(Buffer.from(INVITE, 'latin1'));
  assert.ok(r.ok && r.message instanceof SipRequest);
  return r.message;
}

describe('createResponse (RFC 3261 §8.2.6)', () => {
  it('copies Via lines, From, To, Call-ID, CSeq; adds the To tag', () => {
    const res = createResponse(invite(), 486, undefined, { toTag: 'abc', extra: [['Retry-After', '30']] });
    assert.equal(res.status, 486);
    assert.equal(res.reason, 'Busy Here');
    const again = parseMessage(res.toBuffer());
    assert.ok(again.ok && again.message instanceof SipResponse);
    const m = again.message;
    assert.equal(m.vias.length, 3);
    assert.equal(m.vias[0].received, '192.0.2.9');
    assert.equal(m.to.tag, 'abc');
    assert.equal(m.to.displayName, 'Bob');
    assert.equal(m.from.tag, '1928301774');
    assert.equal(m.callId, 'a84b4c76e66710@pc33.atlanta.example.com');
    assert.equal(m.cseq.toString(), '314159 INVITE');
    assert.equal(m.headers.get('retry-after'), '30');
    assert.equal(m.contentLength, 0);
    assert.ok(!m.headers.has('contact') && !m.headers.has('route') && !m.headers.has('timestamp'));
  });

  it('no tag on 100; an existing tag is kept; Timestamp echoed in 100', () => {
    const trying = createResponse(invite(), 100, undefined, { toTag: 'abc' });
    assert.equal(trying.to.tag, null);
    assert.equal(trying.headers.get('timestamp'), '54');
    const req = invite();
    req.headers.set('to', '<sip:bob@biloxi.example.com>;tag=old');
    assert.equal(createResponse(req, 200, 'OK', { toTag: 'new' }).to.tag, 'old');
  });

  it('carries a body with the right Content-Length', () => {
    const res = createResponse(invite(), 200, 'OK', { toTag: 't', body: Buffer.from('v=0\r\n'), extra: [['Content-Type', 'application/sdp']] });
    assert.match(res.toBuffer().toString('latin1'), /Content-Length: 5\r\n\r\nv=0\r\n$/);
  });

  it('works on the best-effort request of a failed parse', () => {
    const bad = INVITE.replace('CSeq: 314159 INVITE', 'CSeq: 314159 BYE');
    const r = parseMessage(Buffer.from(bad, 'latin1'));
    assert.ok(!r.ok && r.message instanceof SipRequest);
    const res = createResponse(r.message, r.error.status, r.error.reason, { toTag: 'x' });
    assert.match(res.toBuffer().toString('latin1'), /^SIP\/2.0 400 Bad Request - CSeq Method Does Not Match Request Method\r\n/);
  });
});

describe('createCancel (RFC 3261 §9.1) and createNon2xxAck (§17.1.1.3)', () => {
  it('CANCEL: top Via only, same R-URI, To, From, Call-ID, CSeq number, Route', () => {
    const c = createCancel(invite());
    const r = parseMessage(c.toBuffer());
    assert.ok(r.ok && r.message instanceof SipRequest);
    const m = r.message;
    assert.equal(m.method, 'CANCEL');
    assert.equal(m.uri.toString(), 'sip:bob@biloxi.example.com');
    assert.equal(m.vias.length, 1);
    assert.equal(m.topVia.branch, 'z9hG4bKp1');
    assert.equal(m.to.tag, null);
    assert.equal(m.cseq.toString(), '314159 CANCEL');
    assert.equal(m.maxForwards, 70);
    assert.deepEqual(m.routes.map((x) => x.uri.toString()), ['sip:p2.example.com;lr', 'sip:p3.example.com;lr']);
  });

  it('ACK: To from the response, CSeq ACK', () => {
    const inv = invite();
    const res = createResponse(inv, 486, undefined, { toTag: 'busy1' });
    const a = createNon2xxAck(inv, res);
    const r = parseMessage(a.toBuffer());
    assert.ok(r.ok && r.message instanceof SipRequest);
    const m = r.message;
    assert.equal(m.method, 'ACK');
    assert.equal(m.to.tag, 'busy1');
    assert.equal(m.from.tag, '1928301774');
    assert.equal(m.cseq.toString(), '314159 ACK');
    assert.equal(m.vias.length, 1);
    assert.equal(m.topVia.branch, 'z9hG4bKp1');
    assert.equal(m.routes.length, 2);
  });
});

describe('identifiers and reason phrases', () => {
  it('branches carry the magic cookie and differ', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const b = generateBranch();
      assert.ok(b.startsWith(MAGIC_COOKIE) && b.length > MAGIC_COOKIE.length + 16);
      assert.match(b, /^z9hG4bK[0-9a-f]{32}$/);
      seen.add(b);
    }
    assert.equal(seen.size, 1000);
  });
  it('tags are tokens and differ', () => {
    const a = generateTag();
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.notEqual(a, generateTag());
  });
  it('defaultReason', () => {
    assert.equal(defaultReason(404), 'Not Found');
    assert.equal(defaultReason(183), 'Session Progress');
    assert.equal(defaultReason(513), 'Message Too Large');
    assert.equal(defaultReason(499), 'Client Error');
    assert.equal(defaultReason(299), 'Success');
  });
});
