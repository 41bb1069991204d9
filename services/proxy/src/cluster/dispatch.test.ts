import { test } from 'node:test';
import assert from 'node:assert/strict';
import { callIdHash, ownerOf } from './dispatch.js';

const req = (callId: string): Buffer =>
  Buffer.from(`INVITE sip:b@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-w1-lpdeadbeef.1\r\nCall-ID: ${callId}\r\nCSeq: 1 INVITE\r\n\r\n`, 'latin1');
const res = (topBranch: string, callId: string): Buffer =>
  Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=${topBranch}\r\nVia: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-w2-lpx.1\r\ni: ${callId}\r\n\r\n`, 'latin1');

test('requests go by Call-ID hash, whatever their Via says', () => {
  for (const id of ['a@b', 'call-2', 'x'.repeat(100)]) assert.equal(ownerOf(req(id), 4), callIdHash(id) % 4);
});

test('responses to our worker-tagged branches go to that worker; others by Call-ID', () => {
  assert.equal(ownerOf(res('z9hG4bK-w3-lp0123456789abcdef.5', 'c1'), 4), 3);
  // only the top Via counts: the second Via's tag is someone else's
  assert.equal(ownerOf(res('z9hG4bK-sl0123', 'c1'), 4), callIdHash('c1') % 4);
  // a tag beyond the worker count falls back to the Call-ID
  assert.equal(ownerOf(res('z9hG4bK-w9-lp0123.1', 'c1'), 4), callIdHash('c1') % 4);
});

test('one worker: always 0; no Call-ID: worker 0', () => {
  assert.equal(ownerOf(req('a'), 1), 0);
  assert.equal(ownerOf(Buffer.from('garbage\r\n\r\n'), 3), 0);
});
