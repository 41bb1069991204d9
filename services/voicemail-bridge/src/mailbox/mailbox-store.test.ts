import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { MailboxStore, type MailboxCounts } from './mailbox-store.js';

const root = mkdtempSync(join(tmpdir(), 'vm-store-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function record(store: MailboxStore, user: string, samples: number, at = new Date()) {
  const w = store.beginRecording();
  w.writeSilence(samples);
  return store.commit(user, 'example.com', w, { caller: 'sip:carol@example.com', callerName: 'Carol', reason: 'busy', callId: 'c1' }, at);
}

describe('MailboxStore', () => {
  it('commit → list/counts/audio; markOld moves to old/; remove deletes; every change is announced', async () => {
    const spool = join(root, 'a');
    const store = new MailboxStore(spool);
    const changes: MailboxCounts[] = [];
    store.setListener({ onMailboxChanged: (_u, _d, c) => changes.push(c) });
    const m1 = await record(store, 'alice', 16000, new Date('2026-01-01T10:00:00Z'));
    const m2 = await record(store, 'alice', 8000, new Date('2026-01-01T11:00:00Z'));
    assert.equal(m1.duration_s, 2);
    assert.equal(m1.received_at, '2026-01-01T10:00:00.000Z');
    assert.deepEqual((await store.list('alice', 'example.com')).map((m) => m.id), [m1.id, m2.id]);
    assert.equal((await store.audio('alice', 'example.com', m1.id))?.length, 44 + 32000);
    await store.markOld('alice', 'example.com', m1.id);
    assert.deepEqual(await store.counts('alice', 'example.com'), { newMessages: 1, oldMessages: 1 });
    assert.ok(existsSync(join(spool, 'mailboxes/example.com/alice/old', `${m1.id}.wav`)));
    assert.equal(await store.remove('alice', 'example.com', m1.id), true);
    assert.equal(await store.remove('alice', 'example.com', m1.id), false);
    assert.equal(await store.audio('alice', 'example.com', '../../etc/passwd'), null);
    assert.deepEqual(changes, [
      { newMessages: 1, oldMessages: 0 },
      { newMessages: 2, oldMessages: 0 },
      { newMessages: 1, oldMessages: 1 },
      { newMessages: 1, oldMessages: 0 },
    ]);
    assert.deepEqual(readdirSync(join(spool, 'tmp')), [], 'the recording moved out of tmp/');
  });

  it('after a crash: tmp recordings are gone, a half-finished commit or move is repaired on load', async () => {
    const spool = join(root, 'b');
    const first = new MailboxStore(spool);
    const kept = await record(first, 'bob', 8000);
    const moved = await record(first, 'bob', 8000);
    const box = join(spool, 'mailboxes/example.com/bob');
    // A recording in progress when the process died.
    writeFileSync(join(spool, 'tmp', 'rec-1-abcd.wav'), 'partial');
    // A commit that renamed its WAV but died before the JSON.
    writeFileSync(join(box, 'new', '1700000000000-deadbeef.wav'), 'orphan');
    // A move to old/ that renamed the WAV but not yet the JSON.
    renameSync(join(box, 'new', `${moved.id}.wav`), join(box, 'old', `${moved.id}.wav`));
    // A temporary file of an atomic write.
    writeFileSync(join(box, 'new', '.tmp-123456'), 'x');

    const again = new MailboxStore(spool);
    assert.deepEqual(readdirSync(join(spool, 'tmp')), []);
    const list = await again.list('bob', 'example.com');
    assert.deepEqual(list.map((m) => [m.id, m.folder]), [
      [kept.id, 'new'],
      [moved.id, 'new'],
    ]);
    assert.ok((await again.audio('bob', 'example.com', moved.id)) !== null, 'the moved WAV is found again');
    assert.ok(!existsSync(join(box, 'new', '1700000000000-deadbeef.wav')), 'audio without metadata is removed');
    assert.ok(!existsSync(join(box, 'new', '.tmp-123456')));
  });

  it('greetings are stored per mailbox and kind', async () => {
    const store = new MailboxStore(join(root, 'c'));
    assert.equal(await store.greeting('carol', 'example.com', 'busy'), null);
    await store.saveGreeting('carol', 'Example.COM', 'busy', Buffer.from('RIFF'));
    assert.deepEqual(await store.greeting('carol', 'example.com', 'busy'), Buffer.from('RIFF'));
    assert.equal(await store.greeting('carol', 'example.com', 'unavailable'), null);
  });

  it('a recording dropped (too short) leaves nothing', async () => {
    const spool = join(root, 'd');
    mkdirSync(spool, { recursive: true });
    const store = new MailboxStore(spool);
    const w = store.beginRecording();
    w.writeSilence(100);
    await store.discardRecording(w);
    assert.deepEqual(readdirSync(join(spool, 'tmp')), []);
  });
});
