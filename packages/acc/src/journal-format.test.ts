import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJournalLine, encodeJournalHeader, encodeJournalRecord } from './journal-format.js';
import { sampleAccRecord } from './test-records.js';

describe('journal line format', () => {
  it('round-trips a record and is plain JSON', () => {
    const line = encodeJournalRecord(7, sampleAccRecord({ user_agent: 'Ünïcode "quoted" \\ agent' }));
    assert.ok(line.endsWith('\n'));
    const obj = JSON.parse(line) as Record<string, unknown>;
    assert.equal(obj.id, 7);
    assert.match(String(obj.crc), /^[0-9a-f]{8}$/);
    const d = decodeJournalLine(line.slice(0, -1));
    assert.equal(d.type, 'record');
    if (d.type === 'record') assert.deepEqual(d.record, { ...sampleAccRecord({ user_agent: 'Ünïcode "quoted" \\ agent' }), id: 7 });
  });
  it('round-trips the header', () => {
    const line = encodeJournalHeader({ journal: 'voip-acc', version: 1, journal_id: 'j-1', created: 5 });
    const d = decodeJournalLine(line.slice(0, -1));
    assert.deepEqual(d, { type: 'header', header: { journal: 'voip-acc', version: 1, journal_id: 'j-1', created: 5 } });
  });
  it('rejects every proper prefix of a line (torn writes)', () => {
    const line = encodeJournalRecord(1, sampleAccRecord()).slice(0, -1);
    for (let n = 0; n < line.length; n++) {
      assert.equal(decodeJournalLine(line.slice(0, n)).type, 'invalid', `prefix of ${n} bytes`);
    }
  });
  it('rejects a flipped character', () => {
    const line = encodeJournalRecord(1, sampleAccRecord()).slice(0, -1);
    const flipped = line.replace('alice', 'alicf');
    assert.deepEqual(decodeJournalLine(flipped), { type: 'invalid', reason: 'crc mismatch' });
  });
  it('rejects zero bytes left by a crash', () => {
    assert.equal(decodeJournalLine('\0'.repeat(300)).type, 'invalid');
  });
  it('rejects a record with a valid crc but bad values', () => {
    const line = encodeJournalRecord(3, { ...sampleAccRecord(), sip_code: 42 }).slice(0, -1);
    const d = decodeJournalLine(line);
    assert.equal(d.type, 'invalid');
  });
});
