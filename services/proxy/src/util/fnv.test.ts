import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fnv1a32, fnv64Hex } from './fnv.js';

test('FNV-1a 32 matches the published test vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('the 64-bit form is 16 hex digits, stable, and its lanes differ', () => {
  const h = fnv64Hex('call-1@host');
  assert.match(h, /^[0-9a-f]{16}$/);
  assert.equal(fnv64Hex('call-1@host'), h);
  assert.notEqual(h.slice(0, 8), h.slice(8));
  assert.notEqual(fnv64Hex('call-2@host'), h);
});

test('the 64-bit form is the 32-bit hash from two offset bases (one pass computes both)', () => {
  for (const s of ['', 'a', 'z9hG4bK-1\0sip:bob@example.com\0' + 'x'.repeat(300)]) {
    const lane = (offset?: number) => fnv1a32(s, offset).toString(16).padStart(8, '0');
    assert.equal(fnv64Hex(s), lane() + lane(0x811c9dc5 ^ 0x5bd1e995));
  }
});
