import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { calculateHa1 } from './ha1.js';
import { MemoryStorage } from './memory-storage.js';
import { openStorage } from './open-storage.js';
import { provisionMemoryStorage } from './provisioning-file.js';
import { describeStorageContract } from './storage-contract.js';
import { isStorageError } from './storage-error.js';

describeStorageContract('memory', async () => new MemoryStorage());

describe('provisioning file', () => {
  it('fills subscribers (hashing plaintext passwords), aliases, domains, groups, preferences', async () => {
    const s = await provisionMemoryStorage({
      domains: ['example.com'],
      subscribers: [
        { username: 'alice', domain: 'example.com', password: 'secret', email: 'alice@example.com' },
        { username: 'bob', domain: 'example.com', ha1: 'B1726872C344B6DC8365B774F8FD6412' },
      ],
      aliases: [{ alias: '8590@example.com', target: 'flavio@example.com' }],
      groups: [{ account: 'alice@example.com', groups: ['local', 'ld'] }],
      preferences: [{ account: 'alice@example.com', attribute: 'callfwd', value: 'sip:bob@example.com' }],
    });
    const alice = await s.subscribers.get('alice', 'example.com');
    assert.equal(alice?.ha1, calculateHa1('alice', 'example.com', 'secret'));
    assert.equal(alice?.ha1b, calculateHa1('alice@example.com', 'example.com', 'secret'));
    assert.equal((await s.subscribers.get('bob', 'example.com'))?.ha1, 'b1726872c344b6dc8365b774f8fd6412');
    assert.equal((await s.subscribers.get('bob', 'example.com'))?.password, '');
    assert.deepEqual((await s.aliases.resolve('8590', 'example.com')).map((a) => `${a.username}@${a.domain}`), ['flavio@example.com']);
    assert.deepEqual((await s.domains.list()).map((d) => d.domain), ['example.com']);
    assert.deepEqual((await s.groups.groupsOf('alice', 'example.com')).sort(), ['ld', 'local']);
    assert.equal((await s.preferences.list({ attribute: 'callfwd' }))[0]?.value, 'sip:bob@example.com');
  });

  it('refuses bad entries with the path of the problem', async () => {
    await assert.rejects(provisionMemoryStorage({ subscribers: [{ username: 'x', domain: 'example.com' }] }, 'users.yaml'), (e: unknown) => {
      return isStorageError(e, 'STORAGE_ERR_PROVISIONING') && /users\.yaml: subscribers\.0/.test((e as Error).message);
    });
    await assert.rejects(provisionMemoryStorage({ subscriber: [] }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
    await assert.rejects(provisionMemoryStorage({ aliases: [{ alias: 'no-domain', target: 'a@b' }] }), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
  });

  it('is opened from a file: URL (YAML), and reports unreadable or invalid files', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'prov-'));
    try {
      const f = join(dir, 'users.yaml');
      writeFileSync(f, 'subscribers:\n  - { username: alice, domain: example.com, password: secret }\n');
      const s = await openStorage(`file:${f}`);
      assert.equal(s.kind, 'memory');
      assert.ok(await s.subscribers.get('alice', 'example.com'));
      writeFileSync(f, 'subscribers: [ {');
      await assert.rejects(openStorage(`file:${f}`), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
      await assert.rejects(openStorage(`file:${join(dir, 'missing.yaml')}`), (e: unknown) => isStorageError(e, 'STORAGE_ERR_PROVISIONING'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
