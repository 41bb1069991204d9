import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { RTP_ERRORS, RtpError, type RtpErrorCode } from './errors.js';

describe('errors', () => {
  it('every code is documented in docs/rtpproxy.md with its reason', () => {
    const doc = readFileSync(new URL('../../../docs/rtpproxy.md', import.meta.url), 'utf8');
    for (const [code, reason] of Object.entries(RTP_ERRORS)) {
      assert.ok(doc.includes(code), `${code} missing from docs/rtpproxy.md`);
      assert.ok(doc.includes(reason), `reason of ${code} missing from docs/rtpproxy.md`);
    }
  });

  it('name is the code and the message carries the detail', () => {
    const e = new RtpError('RTP_ERR_PORTS_EXHAUSTED' satisfies RtpErrorCode, '0 left');
    assert.equal(e.name, 'RTP_ERR_PORTS_EXHAUSTED');
    assert.equal(e.message, 'Ran out of ports: 0 left');
  });
});
