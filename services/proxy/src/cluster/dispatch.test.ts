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

test('the native receiver (udpIo native) steers every message to the same worker as ownerOf', async (t) => {
  const { requireNative } = await import('@voip/udp-native/test-support');
  const n = requireNative(t);
  if (n === null) return;
  const corpus: Buffer[] = [];
  const ids = ['a@b', 'call-2', 'x'.repeat(100), 'y'.repeat(700), ' padded\t', '\u00a0nbsp\u00a0', '', 'ümlaut@host'];
  for (const id of ids) {
    corpus.push(req(id));
    corpus.push(Buffer.from(`BYE sip:b@x SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK-w1-lp1\r\nCALL-ID:${id}\r\n\r\n`, 'latin1'));
    corpus.push(Buffer.from(`ACK sip:b@x SIP/2.0\ni  :   ${id}\n\n`, 'latin1'));
    corpus.push(Buffer.from(`OPTIONS sip:b@x SIP/2.0\r\nCall-ID:\r\nCall-Id: ${id}\r\n\r\n`, 'latin1'));
    for (const branch of ['z9hG4bK-w3-lp0123456789abcdef.5', 'z9hG4bK-w1-lpx', 'Z9HG4BK-W2-LPx', 'z9hG4bK-w12-lp1', 'z9hG4bK-w1234-lp1', 'z9hG4bK-sl0123', 'z9hG4bK-w-lp1']) {
      corpus.push(res(branch, id));
      corpus.push(Buffer.from(`SIP/2.0 180 Ringing\r\nVIA : SIP/2.0/UDP 127.0.0.1;rport;branch = ${branch}\r\nCall-ID: ${id}\r\n\r\n`, 'latin1'));
      corpus.push(Buffer.from(`SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=other;x=branch=${branch}\r\nCall-ID: ${id}\r\n\r\n`, 'latin1'));
    }
  }
  corpus.push(Buffer.from('garbage\r\n\r\n'), Buffer.alloc(0), Buffer.from('SIP/'), Buffer.from(`SIP/2.0 200 OK\r\n${'X-Pad: p\r\n'.repeat(500)}Call-ID: late\r\n\r\n`));
  for (const workers of [1, 2, 3, 4, 7]) {
    for (const m of corpus) assert.equal(n.steer(m, workers), ownerOf(m, workers), `${workers} workers: ${JSON.stringify(m.toString('latin1').slice(0, 120))}`);
  }
});
