import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { silentLogger } from '@voip/sip';
import { parseConfig } from '../../config.js';
import type { DialplanRepository, DialplanRow } from '@voip/storage';
import { DialPlanModule, groupOfAttrs, kamailioReplacement } from './dialplan-module.js';

class FakeDialplan implements DialplanRepository {
  rows: DialplanRow[] = [];
  async list(dpid?: number): Promise<DialplanRow[]> {
    return this.rows.filter((r) => dpid === undefined || r.dpid === dpid);
  }
  async add(): Promise<number> {
    throw new Error('not used');
  }
  async remove(): Promise<boolean> {
    throw new Error('not used');
  }
}

async function plan(repo: DialplanRepository | null, rules?: unknown): Promise<DialPlanModule> {
  const c = parseConfig(rules === undefined ? {} : { dialplan: { rules } }).dialplan;
  const m = new DialPlanModule({ dpid: c.dpid, rules: c.rules, denyReasons: c.denyReasons, reloadIntervalMs: 0 }, repo, silentLogger);
  await m.start();
  return m;
}

describe('dialplan: the book\'s North-American plan is the default configuration', () => {
  test('7 digits → local, +1; 1+10 digits → ld, strip 1, +1; 011… → int, strip 3, +', async () => {
    const m = await plan(null);
    assert.deepEqual(m.match('5551234'), { group: 'local', normalised: '+15551234', denyReason: 'No permissions for local calls' });
    assert.deepEqual(m.match('12125551234'), { group: 'ld', normalised: '+12125551234', denyReason: 'No permissions for long distance' });
    assert.deepEqual(m.match('011442071234567'), { group: 'int', normalised: '+442071234567', denyReason: 'No perm. for internat.calls' });
  });

  test('numbers already in E.164: +1 NANP → ld, any other + → int, unchanged', async () => {
    const m = await plan(null);
    assert.deepEqual(m.match('+12125551234'), { group: 'ld', normalised: '+12125551234', denyReason: 'No permissions for long distance' });
    assert.deepEqual(m.match('+442071234567'), { group: 'int', normalised: '+442071234567', denyReason: 'No perm. for internat.calls' });
    for (const u of ['+1212555123', '+02071234567', '+4420712345678901', '+']) assert.equal(m.match(u), null, u);
  });

  test('anything else is no PSTN number', async () => {
    const m = await plan(null);
    for (const u of ['1555123', '555123', '55512345', '1112555123', 'alice', '011', '', '9'.repeat(100)]) assert.equal(m.match(u), null, u);
  });

  test('rules are data: a configured plan replaces the default', async () => {
    const m = await plan(null, [{ match: '0[1-9][0-9]{8}', group: 'national', strip: 1, prefix: '+49', denyReason: 'Keine Berechtigung' }]);
    assert.deepEqual(m.match('0301234567'), { group: 'national', normalised: '+49301234567', denyReason: 'Keine Berechtigung' });
    assert.equal(m.match('5551234'), null);
  });

  test('a dangerous configured pattern is refused at start', async () => {
    await assert.rejects(plan(null, [{ match: '(1+)+', group: 'x' }]), /nested quantifiers/);
  });
});

describe('dialplan: Kamailio dialplan table rows', () => {
  const row = (p: Partial<DialplanRow>): DialplanRow => ({ id: 1, dpid: 1, pr: 0, matchOp: 1, matchExp: '', matchLen: 0, substExp: '', replExp: '', attrs: '', ...p });

  test('rows of the dpid come first, ordered by pr; subst_exp/repl_exp rewrite with \\1', async () => {
    const repo = new FakeDialplan();
    repo.rows = [
      row({ id: 1, pr: 2, matchExp: '^[2-9][0-9]{6}$', substExp: '^(.*)$', replExp: '+1312\\1', attrs: 'group=local' }),
      row({ id: 2, pr: 1, matchExp: '^5551234$', matchOp: 1, substExp: '', replExp: '+18005550000', attrs: 'group=free' }),
      row({ id: 3, dpid: 2, matchExp: '^.*$', attrs: 'group=other' }),
    ];
    const m = await plan(repo);
    assert.deepEqual(m.match('5551234'), { group: 'free', normalised: '+18005550000', denyReason: 'Forbidden' });
    assert.deepEqual(m.match('5559999'), { group: 'local', normalised: '+13125559999', denyReason: 'No permissions for local calls' });
    // The configured defaults still follow the table.
    assert.equal(m.match('12125551234')?.group, 'ld');
  });

  test('match_op 0 (equal) and match_len; rows without a group or with fnmatch are skipped', async () => {
    const repo = new FakeDialplan();
    repo.rows = [
      row({ id: 1, matchOp: 0, matchExp: '911', replExp: '+1911', attrs: 'group=emergency' }),
      row({ id: 2, matchOp: 1, matchExp: '^4[0-9]*$', matchLen: 4, attrs: 'group=ext' }),
      row({ id: 3, matchOp: 2, matchExp: '8*', attrs: 'group=x' }),
      row({ id: 4, matchOp: 1, matchExp: '^7', attrs: 'nogroup' }),
    ];
    const m = await plan(repo);
    assert.equal(m.match('911')?.normalised, '+1911');
    assert.equal(m.match('4000')?.group, 'ext');
    assert.equal(m.match('40000'), null);
    assert.equal(m.match('8888'), null);
    assert.equal(m.match('7'), null);
  });

  test('helpers: attrs group and Kamailio back-references', () => {
    assert.equal(groupOfAttrs('group=ld'), 'ld');
    assert.equal(groupOfAttrs('x=1;group=int'), 'int');
    assert.equal(groupOfAttrs('grp=int'), null);
    assert.equal(kamailioReplacement('+1\\1'), '+1$1');
    assert.equal(kamailioReplacement('$\\2'), '$$$2');
  });
});
