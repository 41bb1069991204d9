import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SIP_TRANSACTION_ERRORS } from './errors.js';

// The README sits next to the sources: dist/transaction -> ../../src/transaction
const README = readFileSync(new URL('../../src/transaction/README.md', import.meta.url), 'utf8');

describe('transaction error codes', () => {
  it('every code is documented in README.md with its meaning', () => {
    for (const [code, meaning] of Object.entries(SIP_TRANSACTION_ERRORS)) {
      assert.ok(README.includes(`| \`${code}\` | ${meaning} |`), `${code} missing from README.md`);
    }
  });
});
