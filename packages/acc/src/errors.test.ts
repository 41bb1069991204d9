import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ACC_ERRORS, AccError } from './errors.js';

it('every @voip/acc error code is documented in docs/accounting.md', () => {
  const doc = readFileSync(new URL('../../../docs/accounting.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ACC_ERRORS)) assert.ok(doc.includes(code), code);
});

it('AccError carries its code as name', () => {
  const e = new AccError('ACC_ERR_BAD_URI', 'x');
  assert.equal(e.name, 'ACC_ERR_BAD_URI');
  assert.match(e.message, /x/);
});
