import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CSeq } from './cseq.js';

describe('CSeq.parse', () => {
  it('number and method, leading zeros, LWS', () => {
    const c = CSeq.parse('0009   INVITE');
    assert.ok(c instanceof CSeq);
    assert.equal(c.seq, 9);
    assert.equal(c.method, 'INVITE');
    assert.equal(c.toString(), '9 INVITE');
    const u = CSeq.parse("139122385 !interesting-Method0123456789_*+`.%indeed'~");
    assert.ok(u instanceof CSeq && u.method === "!interesting-Method0123456789_*+`.%indeed'~");
    const max = CSeq.parse('2147483647 ACK');
    assert.ok(max instanceof CSeq && max.seq === 2147483647);
  });

  it('rejects malformed values (RFC 3261 §8.1.1.5: below 2**31)', () => {
    for (const bad of ['', 'INVITE', '1', '1INVITE', '2147483648 INVITE', '36893488147419103232 REGISTER', '-1 INVITE', '1 INVITE x', '1 INV@ITE', 'a1 INVITE'])
      assert.ok('status' in CSeq.parse(bad), bad);
  });
});
