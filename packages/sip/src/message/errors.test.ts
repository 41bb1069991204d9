import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { frozenError, isSipParseError, SIP_ERRORS, sipError, SipMessageError, type SipErrorCode } from './errors.js';

// The README sits next to the sources: dist/message -> ../../src/message
const README = readFileSync(new URL('../../src/message/README.md', import.meta.url), 'utf8');

describe('message-layer error codes', () => {
  it('every code is documented with its status and reason', () => {
    const codes = Object.keys(SIP_ERRORS) as SipErrorCode[];
    assert.ok(codes.length >= 14);
    for (const code of codes) {
      const { status, reason } = SIP_ERRORS[code];
      assert.ok(README.includes(`| \`${code}\` | ${status} | ${reason} |`), `${code} missing from README.md`);
      assert.ok(code.startsWith('SIP_ERR_'));
    }
  });

  it('reasons name the fault; statuses are 400, 505 or 513', () => {
    assert.deepEqual(sipError('SIP_ERR_MISSING_HEADER', 'Call-ID'), { status: 400, reason: 'Bad Request - Missing Call-ID', code: 'SIP_ERR_MISSING_HEADER' });
    assert.equal(sipError('SIP_ERR_MALFORMED_HEADER').reason, 'Bad Request - Malformed');
    assert.equal(sipError('SIP_ERR_TOO_LARGE').status, 513);
    for (const t of Object.values(SIP_ERRORS)) assert.ok([400, 505, 513].includes(t.status));
  });

  it('frozen errors cannot be altered; SipMessageError carries the error', () => {
    const e = frozenError('SIP_ERR_MALFORMED_URI');
    assert.throws(() => {
      (e as { status: number }).status = 200;
    });
    assert.ok(isSipParseError(e));
    assert.ok(!isSipParseError({ status: 200 }));
    const x = new SipMessageError(e);
    assert.equal(x.message, 'Bad Request - Malformed URI');
    assert.equal(x.error, e);
  });
});
