import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeAccRecord, ACC_STRING_COLUMNS } from './acc-record.js';
import { sampleAccRecord } from './test-records.js';

describe('normalizeAccRecord', () => {
  it('accepts a complete record unchanged', () => {
    const r = sampleAccRecord();
    assert.deepEqual(normalizeAccRecord(r), { ok: true, record: r });
  });
  it('fills missing optional strings with empty strings', () => {
    const { user_agent: _ua, src_ip: _ip, ...partial } = sampleAccRecord();
    const res = normalizeAccRecord(partial);
    assert.ok(res.ok);
    assert.equal(res.record.user_agent, '');
    assert.equal(res.record.src_ip, '');
  });
  it('truncates strings to their column length', () => {
    const res = normalizeAccRecord(sampleAccRecord({ sip_reason: 'x'.repeat(500) }));
    assert.ok(res.ok);
    assert.equal(res.record.sip_reason.length, ACC_STRING_COLUMNS.sip_reason);
  });
  const bad: [string, unknown][] = [
    ['not an object', 42],
    ['null', null],
    ['unknown kind', sampleAccRecord({ kind: 'start' as never })],
    ['code below 100', sampleAccRecord({ sip_code: 99 })],
    ['code above 699', sampleAccRecord({ sip_code: 700 })],
    ['fractional code', sampleAccRecord({ sip_code: 200.5 })],
    ['NaN time', sampleAccRecord({ time: Number.NaN })],
    ['empty callid', sampleAccRecord({ callid: '' })],
    ['empty method', sampleAccRecord({ method: '' })],
    ['non-string tag', { ...sampleAccRecord(), from_tag: 5 }],
  ];
  for (const [name, input] of bad) {
    it(`refuses ${name}`, () => {
      const res = normalizeAccRecord(input);
      assert.equal(res.ok, false);
    });
  }
});
