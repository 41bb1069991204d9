import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalHeaderName, formatHeaderName } from './header-name.js';

describe('header names', () => {
  it('compact forms map to full names (RFC 3261 §7.3.3 and extensions)', () => {
    const pairs: [string, string][] = [
      ['i', 'call-id'], ['m', 'contact'], ['f', 'from'], ['t', 'to'], ['v', 'via'], ['l', 'content-length'],
      ['c', 'content-type'], ['e', 'content-encoding'], ['k', 'supported'], ['s', 'subject'], ['o', 'event'],
      ['u', 'allow-events'], ['r', 'refer-to'], ['b', 'referred-by'], ['x', 'session-expires'], ['y', 'identity'],
      ['a', 'accept-contact'],
    ];
    for (const [c, full] of pairs) {
      assert.equal(canonicalHeaderName(c), full);
      assert.equal(canonicalHeaderName(c.toUpperCase()), full);
    }
  });
  it('long names lowercase; unknown single letters stay', () => {
    assert.equal(canonicalHeaderName('VIA'), 'via');
    assert.equal(canonicalHeaderName('Call-ID'), 'call-id');
    assert.equal(canonicalHeaderName('q'), 'q');
  });
  it('formats the usual spelling', () => {
    assert.equal(formatHeaderName('call-id'), 'Call-ID');
    assert.equal(formatHeaderName('cseq'), 'CSeq');
    assert.equal(formatHeaderName('www-authenticate'), 'WWW-Authenticate');
    assert.equal(formatHeaderName('record-route'), 'Record-Route');
    assert.equal(formatHeaderName('x-my-header'), 'X-My-Header');
    assert.equal(formatHeaderName('v'), 'Via');
    assert.equal(formatHeaderName('rseq'), 'RSeq');
  });
});
