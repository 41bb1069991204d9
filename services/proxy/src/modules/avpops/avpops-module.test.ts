import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '@voip/sip';
import type { PreferenceRepository, PreferenceRow } from '@voip/storage';
import { CallForwardModule, forwardingPreferences } from './avpops-module.js';

function pref(attribute: string, value: string): PreferenceRow {
  return { uuid: '', username: 'bob', domain: 'example.com', attribute, type: 0, value, lastModified: 0 };
}

test('forwarding attributes of usr_preferences; a bad timeout is ignored', () => {
  assert.deepEqual(forwardingPreferences([pref('callfwd', 'sip:a@x'), pref('fwdbusy', 'sip:b@x'), pref('fwdnoanswer', 'sip:c@x'), pref('fwdnoanswer_timeout', '20'), pref('other', 'y')]), {
    callfwd: 'sip:a@x',
    fwdbusy: 'sip:b@x',
    fwdnoanswer: 'sip:c@x',
    fwdnoanswerTimeout: 20,
  });
  assert.equal(forwardingPreferences([pref('fwdnoanswer_timeout', '-3')]).fwdnoanswerTimeout, null);
  assert.equal(forwardingPreferences([pref('fwdnoanswer_timeout', '1e9')]).fwdnoanswerTimeout, null);
});

test('preferences are cached for the TTL and flushed on demand', async () => {
  let queries = 0;
  let rows = [pref('callfwd', 'sip:a@x')];
  const repo: PreferenceRepository = {
    async list() {
      queries++;
      return rows;
    },
    async add() {},
    async remove() {
      return 0;
    },
  };
  let now = 1_000;
  const m = new CallForwardModule({ cacheTtlMs: 5_000, cacheSize: 10, noAnswerTimeoutMs: 30_000, maxChain: 5 }, repo, silentLogger, () => now);
  const bob = { username: 'bob', domain: 'example.com' };
  assert.equal((await m.preferences(bob)).callfwd, 'sip:a@x');
  rows = [pref('callfwd', 'sip:z@x')];
  assert.equal((await m.preferences(bob)).callfwd, 'sip:a@x');
  assert.equal(queries, 1);
  now += 5_001;
  assert.equal((await m.preferences(bob)).callfwd, 'sip:z@x');
  rows = [];
  assert.equal(m.flush(), 1);
  assert.equal((await m.preferences(bob)).callfwd, null);
  assert.equal(queries, 3);
});
