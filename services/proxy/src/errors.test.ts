import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROXY_ERRORS, ProxyError } from './errors.js';

const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');

test('every coded error is documented in docs/errors.md with its status', () => {
  for (const [code, e] of Object.entries(PROXY_ERRORS)) {
    const row = doc.split('\n').find((l) => l.includes(`\`${code}\``));
    assert.ok(row, `${code} missing from docs/errors.md`);
    assert.match(row, new RegExp(`\\|\\s*${e.status}\\s*\\|`), `${code} documented with a different status`);
  }
});

test('ProxyError carries the table status and reason', () => {
  const e = new ProxyError('SIP_ERR_LOOP_DETECTED', 'via 10.0.0.1');
  assert.equal(e.status, 482);
  assert.equal(e.reason, 'Loop Detected');
  assert.match(e.message, /SIP_ERR_LOOP_DETECTED: via 10.0.0.1/);
});
