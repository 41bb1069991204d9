import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { RADIUS_ACCT_ERRORS } from './errors.js';

it('every radius-acct error code is documented in docs/accounting.md', () => {
  const doc = readFileSync(new URL('../../../docs/accounting.md', import.meta.url), 'utf8');
  for (const code of Object.keys(RADIUS_ACCT_ERRORS)) assert.ok(doc.includes(code), code);
});
