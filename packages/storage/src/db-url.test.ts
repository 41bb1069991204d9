import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeDbUrl, parseDbUrl, redactUrl } from './db-url.js';
import { isStorageError } from './storage-error.js';

describe('parseDbUrl', () => {
  it('reads Kamailio-style mysql URLs', () => {
    assert.deepEqual(parseDbUrl('mysql://kamailio:kamailiorw@db.example.com:3307/kamailio'), {
      kind: 'mysql', host: 'db.example.com', port: 3307, user: 'kamailio', password: 'kamailiorw', database: 'kamailio', connectionLimit: 8,
    });
    const u = parseDbUrl('mysql://u:p%40ss@127.0.0.1/voip?connectionLimit=3');
    assert.equal(u.kind, 'mysql');
    if (u.kind === 'mysql') {
      assert.equal(u.password, 'p@ss');
      assert.equal(u.port, 3306);
      assert.equal(u.connectionLimit, 3);
    }
    const v6 = parseDbUrl('mysql://root@[::1]:3306/voip');
    assert.equal(v6.kind === 'mysql' && v6.host, '::1');
  });

  it('reads memory and file URLs', () => {
    assert.deepEqual(parseDbUrl('memory:'), { kind: 'memory', file: null });
    assert.deepEqual(parseDbUrl('file:./users.yaml'), { kind: 'memory', file: './users.yaml' });
    assert.deepEqual(parseDbUrl('file:///etc/voip/users.json'), { kind: 'memory', file: '/etc/voip/users.json' });
  });

  it('rejects bad URLs with a coded error that never shows the password', () => {
    for (const bad of ['postgres://u:secretpw@h/db', 'mysql://u:secretpw@h/', 'mysql://u:secretpw@h/bad-name;drop', 'not a url', 'file:', 'mysql://u@h/db?connectionLimit=0']) {
      assert.throws(() => parseDbUrl(bad), (e: unknown) => isStorageError(e, 'STORAGE_ERR_BAD_URL') && !(e as Error).message.includes('secretpw'), bad);
    }
  });

  it('describes and redacts without secrets', () => {
    assert.equal(redactUrl('mysql://kamailio:kamailiorw@h:3306/k'), 'mysql://kamailio:***@h:3306/k');
    assert.equal(describeDbUrl(parseDbUrl('mysql://kamailio:kamailiorw@h:3306/k')), 'mysql://kamailio@h:3306/k');
  });
});
