import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultStateDir, loadOrCreateNonceSecret, NONCE_SECRET_FILE } from './nonce-secret-store.js';

const root = mkdtempSync(join(tmpdir(), 'nonce-secret-'));
after(() => rmSync(root, { recursive: true, force: true }));

describe('nonce secret kept in the state directory', () => {
  it('is generated on the first start (0600 in a 0700 directory) and read back on the next', () => {
    const dir = join(root, 'a', 'state');
    const first = loadOrCreateNonceSecret(dir);
    assert.equal(first.created, true);
    assert.match(first.secret, /^[0-9a-f]{64}$/);
    assert.equal(statSync(first.path).mode & 0o777, 0o600);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const second = loadOrCreateNonceSecret(dir);
    assert.deepEqual(second, { ...first, created: false });
    assert.equal(readFileSync(join(dir, NONCE_SECRET_FILE), 'utf8').trim(), first.secret);
  });

  it('refuses a damaged file instead of silently replacing the secret', () => {
    const dir = join(root, 'b');
    loadOrCreateNonceSecret(dir);
    writeFileSync(join(dir, NONCE_SECRET_FILE), 'not a secret\n');
    assert.throws(() => loadOrCreateNonceSecret(dir), /does not hold a nonce secret/);
  });

  it('state directory: the configured one (relative to the working directory), else a default', () => {
    assert.equal(defaultStateDir('st', '/srv/proxy'), '/srv/proxy/st');
    assert.equal(defaultStateDir('/var/tmp/x', '/srv/proxy'), '/var/tmp/x');
    assert.match(defaultStateDir(undefined, '/srv/proxy'), /^(\/var\/lib\/sip-proxy|\/srv\/proxy\/\.sip-proxy)$/);
  });
});
