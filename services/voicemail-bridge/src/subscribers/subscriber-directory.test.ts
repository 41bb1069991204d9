import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStorage, subscriberHashes } from '@voip/storage';
import { createTestDatabase, type TestDatabase } from '@voip/storage/testing';
import { StorageSubscriberSource, SubscriberDirectory } from './subscriber-directory.js';

describe('SubscriberDirectory over @voip/storage', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vm-subs-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a provisioning file anew on every refresh and resolves mailboxes by user part', async () => {
    const file = join(dir, 'subs.yaml');
    writeFileSync(file, 'subscribers:\n  - { username: alice, domain: Example.com, password: a }\n');
    const d = new SubscriberDirectory(new StorageSubscriberSource(`file:${file}`));
    await d.refresh();
    assert.equal(d.size, 1);
    assert.ok(d.has('alice', 'example.com'));
    writeFileSync(file, 'subscribers:\n  - { username: alice, domain: example.com, password: a }\n  - { username: bob, domain: example.com, password: b }\n  - { username: bob, domain: example.org, password: b }\n');
    await d.refresh();
    assert.equal(d.size, 3);
    assert.deepEqual(d.resolve('bob', [null, 'EXAMPLE.org']), { username: 'bob', domain: 'example.org' });
    assert.equal(d.resolve('bob', [null]), null, 'ambiguous without a domain hint');
    await d.close();
  });

  it('keeps the last good list when a refresh fails, and says why', async () => {
    const file = join(dir, 'keep.yaml');
    writeFileSync(file, 'subscribers:\n  - { username: carol, domain: example.com, password: c }\n');
    const d = new SubscriberDirectory(new StorageSubscriberSource(`file:${file}`));
    await d.refresh();
    rmSync(file);
    await assert.rejects(d.refresh(), /VM_ERR_SUBSCRIBERS|keep\.yaml/);
    assert.ok(d.has('carol', 'example.com'));
    assert.match(d.lastError ?? '', /keep\.yaml/);
  });
});

describe('SubscriberDirectory on MariaDB (Kamailio subscriber table)', () => {
  let db: TestDatabase | undefined;
  before(async () => {
    db = await createTestDatabase('voip_vmsubs');
    const s = await openStorage(db.url);
    await s.initSchema();
    for (const username of ['alice', 'bob', '../etc']) {
      await s.subscribers.add({ username, domain: 'example.com', password: 'pw', ...subscriberHashes(username, 'example.com', 'pw'), emailAddress: null });
    }
    await s.close();
  });
  after(async () => db?.drop());

  it('lists the subscribers through one kept pool; a name that could escape the spool is no mailbox', async () => {
    const source = new StorageSubscriberSource(db!.url);
    assert.ok(!source.description.includes('@'), `no credentials in ${source.description}`);
    const d = new SubscriberDirectory(source);
    await d.refresh();
    await d.refresh();
    assert.deepEqual(d.all().map((s) => s.username).sort(), ['alice', 'bob']);
    await d.close();
  });
});
