import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSafeRegex, MAX_SUBJECT_LENGTH, safeTest } from './safe-regex.js';

test('nested quantifiers, backreferences and overlong patterns are refused', () => {
  for (const p of ['(a+)+', '(a*)*b', '(x|y+){2,}', '(a)\\1', 'a'.repeat(300), '']) assert.equal(compileSafeRegex(p).ok, false, p);
  for (const p of ['^sip:\\+?[0-9]+@', '[2-9][0-9]{6}', '^(011)([0-9]{1,20})$']) assert.equal(compileSafeRegex(p).ok, true, p);
});

test('anchor wraps the whole pattern once', () => {
  const r = compileSafeRegex('[2-9][0-9]{6}', { anchor: true });
  assert.ok(r.ok);
  assert.equal(r.re.source, '^(?:[2-9][0-9]{6})$');
  assert.equal(safeTest(r.re, '5551234'), true);
  assert.equal(safeTest(r.re, '15551234'), false);
  const already = compileSafeRegex('^1[2-9][0-9]{9}$', { anchor: true });
  assert.ok(already.ok);
  assert.equal(already.re.source, '^(?:1[2-9][0-9]{9})$');
});

test('an oversized subject never matches', () => {
  const r = compileSafeRegex('a');
  assert.ok(r.ok);
  assert.equal(safeTest(r.re, 'a'.repeat(MAX_SUBJECT_LENGTH + 1)), false);
});
