import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PORTAL_ERRORS, PortalError } from './errors.js';

describe('errors', () => {
  it('every code is documented in docs/errors.md with its status and reason', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## voip-portal'));
    assert.ok(section.startsWith('## voip-portal'), 'docs/errors.md has no voip-portal section');
    for (const [code, info] of Object.entries(PORTAL_ERRORS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row !== undefined, `${code} missing from docs/errors.md`);
      assert.ok(row.includes(info.reason), `reason of ${code} missing from its row`);
      assert.ok(row.includes(info.status === 0 ? '—' : String(info.status)), `status of ${code} missing from its row`);
    }
  });

  it('name is the code, status comes from the table, the message carries the detail', () => {
    const e = new PortalError('PORTAL_ERR_READ_ONLY', 'edit the file');
    assert.equal(e.name, 'PORTAL_ERR_READ_ONLY');
    assert.equal(e.status, 409);
    assert.equal(e.message, 'Read-only: the portal serves a provisioning file: edit the file');
  });
});
