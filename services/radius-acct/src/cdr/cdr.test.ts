import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredAccRecord } from '@voip/acc';
import { buildCdrs, formatCdrs } from './cdr.js';

let nextId = 1;
function rec(over: Partial<StoredAccRecord>): StoredAccRecord {
  return { id: nextId++, kind: 'acc', method: 'INVITE', from_tag: 'a', to_tag: 'b', callid: 'c1', sip_code: 200, sip_reason: 'OK', time: 1_000_000, src_user: 'alice', src_domain: 'x', src_ip: '1.2.3.4', dst_ouser: 'bob', dst_user: 'bob', dst_domain: 'x', user_agent: 'ua', ...over };
}

describe('buildCdrs', () => {
  it('joins Start and Stop with duration; the BYE may come from the callee with swapped tags', () => {
    const cdrs = buildCdrs([rec({}), rec({ method: 'BYE', from_tag: 'b', to_tag: 'a', time: 1_062_250 })]);
    assert.equal(cdrs.length, 1);
    assert.equal(cdrs[0].status, 'completed');
    assert.equal(cdrs[0].duration, 62.25);
    assert.equal(cdrs[0].released_by, 'callee');
    assert.equal(cdrs[0].caller, 'alice@x');
  });
  it('keeps calls apart by tags (forked call ids) and ignores duplicates', () => {
    const cdrs = buildCdrs([
      rec({}),
      rec({ to_tag: 'other' }),
      rec({}),
      rec({ method: 'BYE', time: 1_010_000 }),
      rec({ method: 'BYE', time: 1_020_000 }),
    ]);
    assert.deepEqual(cdrs.map((c) => [c.to_tag, c.status, c.duration]), [['b', 'completed', 10], ['other', 'open', null]]);
  });
  it('reports missed calls as failed and ignores a BYE without Start', () => {
    const cdrs = buildCdrs([rec({ kind: 'missed_call', sip_code: 486, sip_reason: 'Busy Here' }), rec({ method: 'BYE', callid: 'zz' })]);
    assert.deepEqual(cdrs.map((c) => [c.status, c.sip_code]), [['failed', 486]]);
  });
  it('formats csv with quoting, json lines and a table', () => {
    const cdrs = buildCdrs([rec({ callid: 'a,"b"' }), rec({ callid: 'a,"b"', method: 'BYE', time: 1_001_000 })]);
    assert.match(formatCdrs(cdrs, 'csv').split('\n')[1], /^"a,""b""",a,b,completed,/);
    assert.equal(JSON.parse(formatCdrs(cdrs, 'json')).duration, 1);
    assert.match(formatCdrs(cdrs, 'table'), /completed\s+alice@x\s+bob@x\s+1\.000/);
  });
});
