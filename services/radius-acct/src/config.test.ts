import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './config.js';

describe('loadConfig', () => {
  it('takes the issue\'s command line and fills defaults', () => {
    const c = loadConfig({ db: 'mysql://u:p@h/db', radius: ['127.0.0.1:1813', '[::1]:1814'], secret: 's' }, {});
    assert.deepEqual(c.radius, [{ host: '127.0.0.1', port: 1813 }, { host: '::1', port: 1814 }]);
    assert.equal(c.window, 32);
    assert.ok(Object.isFrozen(c));
  });
  it('layers file < env < CLI', () => {
    const dir = mkdtempSync(join(tmpdir(), 'racfg-'));
    try {
      const file = join(dir, 'c.yaml');
      writeFileSync(file, 'journal: /var/j\nradius: ["10.0.0.1:1813"]\nsecret: fromfile\nwindow: 8\n');
      const c = loadConfig({ config: file, window: '4' }, { RADIUS_ACCT_SECRET: 'fromenv' });
      assert.equal(c.secret, 'fromenv');
      assert.equal(c.window, 4);
      assert.equal(c.journal, '/var/j');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  const bad: [string, object][] = [
    ['both sources', { db: 'mysql://h/d', journal: '/j', radius: ['h:1'], secret: 's' }],
    ['no source', { radius: ['h:1'], secret: 's' }],
    ['no server', { journal: '/j', secret: 's' }],
    ['bad port', { journal: '/j', radius: ['h:70000'], secret: 's' }],
    ['no secret', { journal: '/j', radius: ['h:1'] }],
    ['window too big', { journal: '/j', radius: ['h:1'], secret: 's', window: '500' }],
    ['non-number', { journal: '/j', radius: ['h:1'], secret: 's', window: 'many' }],
  ];
  for (const [name, opts] of bad) {
    it(`refuses ${name} with RADIUS_ACCT_ERR_CONFIG`, () => {
      assert.throws(() => loadConfig(opts, {}), { code: 'RADIUS_ACCT_ERR_CONFIG' });
    });
  }
});
