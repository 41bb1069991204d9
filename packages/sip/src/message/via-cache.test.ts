import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from './parse-message.js';
import type { SipRequest } from './sip-message.js';
import { Via } from './via.js';

const RAW =
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a, SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK-b\r\n' +
  'Via: SIP/2.0/TCP 192.0.2.3;branch=z9hG4bK-c\r\n' +
  'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n';

function parsed(): SipRequest {
  const r = parseMessage(Buffer.from(RAW, 'latin1'));
  assert.ok(r.ok);
  return r.message as SipRequest;
}

const branches = (m: SipRequest): (string | null)[] => m.vias.map((v) => v.branch);

test('pushVia adds the new top Via, keeps the parsed ones, and serializes it first', () => {
  const m = parsed();
  const before = m.vias;
  m.pushVia('SIP/2.0/UDP 198.51.100.1:5060;branch=z9hG4bK-proxy;rport');
  assert.deepEqual(branches(m), ['z9hG4bK-proxy', 'z9hG4bK-a', 'z9hG4bK-b', 'z9hG4bK-c']);
  assert.equal(m.vias[1], before[0], 'the received Vias were not parsed again');
  assert.equal(before.length, 3, 'the old cached array is not mutated (clones share it)');
  const again = parseMessage(m.toBuffer());
  assert.ok(again.ok);
  assert.deepEqual(branches(again.message as SipRequest), branches(m));
});

test('popVia removes one value of a multi-value line and keeps the rest in order', () => {
  const m = parsed();
  void m.vias;
  m.popVia();
  assert.deepEqual(branches(m), ['z9hG4bK-b', 'z9hG4bK-c']);
  const again = parseMessage(m.toBuffer());
  assert.ok(again.ok);
  assert.deepEqual(branches(again.message as SipRequest), ['z9hG4bK-b', 'z9hG4bK-c']);
});

test('push/pop without a parsed cache still work (parsed on next access)', () => {
  const m = parsed();
  m.compact();
  m.pushVia('SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-x');
  assert.deepEqual(branches(m), ['z9hG4bK-x', 'z9hG4bK-a', 'z9hG4bK-b', 'z9hG4bK-c']);
  m.compact();
  m.popVia();
  assert.deepEqual(branches(m), ['z9hG4bK-a', 'z9hG4bK-b', 'z9hG4bK-c']);
});

test('replaceTopVia writes back changed parameters and keeps the cache', () => {
  const m = parsed();
  const top = m.topVia;
  top.params.set('received', '203.0.113.9');
  m.replaceTopVia(top);
  assert.equal(m.topVia, top);
  assert.match(m.toBuffer().toString('latin1'), /Via: SIP\/2\.0\/UDP 192\.0\.2\.1:5060;branch=z9hG4bK-a;received=203\.0\.113\.9, SIP\/2\.0\/UDP 192\.0\.2\.2;branch=z9hG4bK-b\r\n/);
  assert.ok(m.vias[1] instanceof Via);
});

test('a clone shares parsed values but its own mutations do not leak into the original', () => {
  const m = parsed();
  const c = m.clone();
  assert.equal(c.vias[0], m.vias[0]);
  c.pushVia('SIP/2.0/UDP 198.51.100.1;branch=z9hG4bK-clone');
  c.headers.set('Max-Forwards', '69');
  assert.deepEqual(branches(m), ['z9hG4bK-a', 'z9hG4bK-b', 'z9hG4bK-c']);
  assert.equal(m.maxForwards, 70);
  assert.equal(c.maxForwards, 69);
  assert.equal(c.from, m.from, 'From parsed once, shared');
});

test('compact parks the message as bytes: serialization, headers and parsed values are unchanged after', () => {
  const folded =
    'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-a\r\n' +
    'Subject: a folded\r\n   subject line\r\n' +
    'From: <sip:alice@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\ni: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n' +
    'Content-Length: 4\r\n\r\nbody';
  const r = parseMessage(Buffer.from(folded, 'latin1'));
  assert.ok(r.ok);
  const m = r.message as SipRequest;
  m.headers.set('Max-Forwards', '69');
  const before = m.toBuffer().toString('latin1');
  m.compact();
  assert.equal(m._headers, null, 'header lines parked');
  assert.equal(m.toBuffer().toString('latin1'), before, 'byte-identical after rebuild (start line, folding, compact form)');
  assert.equal(m.headers.get('subject'), 'a folded subject line');
  assert.equal(m.callId, 'c1');
  assert.equal(m.maxForwards, 69);
  assert.equal(m.body.toString(), 'body');
  m.compact();
  const c = m.clone();
  assert.equal(c.toBuffer().toString('latin1'), before, 'a clone of a parked message serializes the same');
});

test("a response's Contact/Record-Route are parsed on access: a malformed one does not stop the relay", () => {
  const raw =
    'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-a\r\nFrom: <sip:a@x>;tag=1\r\nTo: <sip:b@x>;tag=2\r\n' +
    'Call-ID: c\r\nCSeq: 1 INVITE\r\nContact: <sip:b@192.0.2.9\r\nRecord-Route: <sip:p.example;lr>\r\nContent-Length: 0\r\n\r\n';
  const r = parseMessage(Buffer.from(raw, 'latin1'));
  assert.ok(r.ok, 'responses are not rejected for fields only the UAs use');
  const res = r.message;
  assert.equal(res.recordRoutes[0]!.uri.toString(), 'sip:p.example;lr');
  assert.throws(() => res.contacts, /Contact/);
  assert.equal(res.toBuffer().toString('latin1'), raw, 'relayed byte-exact');
  // Requests are still validated eagerly (RFC 4475 regbadct and friends).
  const req = parseMessage(Buffer.from(raw.replace('SIP/2.0 200 OK', 'INVITE sip:b@x SIP/2.0'), 'latin1'));
  assert.equal(req.ok, false);
});

test('compact parks a SIP Request-URI as text and the body as its own bytes; both read back the same', () => {
  const raw = 'INVITE sip:bob@example.com;transport=udp SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-a\r\n' +
    'From: <sip:a@x>;tag=1\r\nTo: <sip:b@x>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nbody';
  const datagram = Buffer.from(raw, 'latin1');
  const r = parseMessage(datagram);
  assert.ok(r.ok);
  const m = r.message as SipRequest;
  assert.equal(m.body.buffer, datagram.buffer, 'a parsed body is a view of the receive buffer');
  m.uri = m.uri.clone();
  (m.uri as { user: string | null }).user = 'carol';
  const before = m.toBuffer().toString('latin1');
  m.compact();
  assert.equal(typeof m._uri, 'string', 'the Request-URI is parked as text');
  assert.notEqual(m.body.buffer, datagram.buffer, 'the body no longer holds the datagram');
  assert.equal(m.body.toString('latin1'), 'body');
  assert.equal(m.uri.toString(), 'sip:carol@example.com;transport=udp');
  assert.equal(m.toBuffer().toString('latin1'), before, 'the changed Request-URI is serialised as before compact');
  const empty = parseMessage(Buffer.from(raw.replace('Content-Length: 4\r\n\r\nbody', 'Content-Length: 0\r\n\r\n'), 'latin1'));
  assert.ok(empty.ok);
  empty.message.compact();
  assert.equal(empty.message.body.length, 0);
  assert.equal(empty.message.body.buffer.byteLength, 0, 'an empty body holds no receive buffer');
});
