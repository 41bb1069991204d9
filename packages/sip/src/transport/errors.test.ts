import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { SIP_TRANSPORT_ERRORS, SipTransportError } from './errors.js';

// The README sits next to the sources: dist/transport -> ../../src/transport
const README = readFileSync(new URL('../../src/transport/README.md', import.meta.url), 'utf8');

describe('transport error codes', () => {
  it('every code is documented in README.md with its meaning', () => {
    for (const [code, meaning] of Object.entries(SIP_TRANSPORT_ERRORS)) {
      assert.ok(README.includes(`| \`${code}\` | ${meaning} |`), `${code} missing from README.md`);
    }
  });
  it('errors carry their code and name', () => {
    const e = new SipTransportError('SIP_ERR_NO_TRANSPORT', 'x');
    assert.equal(e.code, 'SIP_ERR_NO_TRANSPORT');
    assert.equal(e.name, 'SipTransportError');
  });
});
