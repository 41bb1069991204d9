import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { VM_ERRORS, VoicemailError } from './errors.js';

describe('errors', () => {
  it('every code is documented in docs/errors.md with its reason', () => {
    const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## voicemail-bridge'));
    assert.ok(section.startsWith('## voicemail-bridge'), 'docs/errors.md has no voicemail-bridge section');
    for (const [code, info] of Object.entries(VM_ERRORS)) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`${code}\` |`));
      assert.ok(row !== undefined, `${code} missing from docs/errors.md`);
      assert.ok(row.includes(info.reason), `reason of ${code} missing from its docs/errors.md row`);
    }
  });

  it('name is the code, status and reason come from the table, the message carries the detail', () => {
    const e = new VoicemailError('VM_ERR_UNSUPPORTED_MEDIA', 'offer: PT 18');
    assert.equal(e.name, 'VM_ERR_UNSUPPORTED_MEDIA');
    assert.equal(e.status, 488);
    assert.equal(e.message, 'Not Acceptable Here - No Common Codec: offer: PT 18');
  });
});
