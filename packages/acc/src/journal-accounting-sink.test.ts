import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalAccountingSink } from './journal-accounting-sink.js';
import { JournalReader } from './journal-reader.js';
import type { AccReadItem } from './acc-reader.js';
import { sampleAccRecord } from './test-records.js';

let dir = '';
let path = '';
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'acc-journal-'));
  path = join(dir, 'acc.journal');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function readAll(reader: JournalReader): Promise<AccReadItem[]> {
  const out: AccReadItem[] = [];
  for (;;) {
    const items = await reader.read(100);
    if (items.length === 0) return out;
    out.push(...items);
  }
}

function okIds(items: AccReadItem[]): number[] {
  return items.flatMap((i) => (i.ok ? [i.record.id] : []));
}

describe('JournalAccountingSink', () => {
  it('creates a journal with a header and numbers records from 1', async () => {
    const sink = await JournalAccountingSink.open({ path });
    for (let i = 0; i < 5; i++) assert.equal(sink.write(sampleAccRecord({ callid: `c${i}` })), true);
    await sink.flush();
    assert.equal(sink.lastStoredId(), 5);
    assert.equal(sink.stats().stored, 5);
    await sink.close();
    const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 6);
    assert.equal(JSON.parse(lines[0]).journal, 'voip-acc');
    assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l).id), [1, 2, 3, 4, 5]);
  });

  it('continues numbering after reopen and keeps the journal id', async () => {
    const a = await JournalAccountingSink.open({ path });
    a.write(sampleAccRecord());
    a.write(sampleAccRecord());
    await a.close();
    const b = await JournalAccountingSink.open({ path });
    assert.equal(b.journalId, a.journalId);
    b.write(sampleAccRecord());
    await b.close();
    const reader = await JournalReader.open({ path });
    assert.deepEqual(okIds(await readAll(reader)), [1, 2, 3]);
    await reader.close();
  });

  it('refuses invalid records without storing them', async () => {
    const sink = await JournalAccountingSink.open({ path });
    assert.equal(sink.write(sampleAccRecord({ sip_code: 1 })), false);
    assert.equal(sink.stats().rejected, 1);
    await sink.close();
    assert.equal(sink.write(sampleAccRecord()), false, 'write after close');
  });

  it('drops and counts when the queue is full instead of blocking', async () => {
    const sink = await JournalAccountingSink.open({ path, maxPending: 2, flushIntervalMs: 1000 });
    assert.equal(sink.write(sampleAccRecord()), true);
    assert.equal(sink.write(sampleAccRecord()), true);
    assert.equal(sink.write(sampleAccRecord()), false);
    assert.equal(sink.stats().dropped, 1);
    await sink.close();
  });

  it('truncates a torn tail on open and appends on a clean line', async () => {
    const a = await JournalAccountingSink.open({ path });
    a.write(sampleAccRecord({ callid: 'one' }));
    a.write(sampleAccRecord({ callid: 'two' }));
    await a.close();
    const good = statSync(path).size;
    // A crash mid-write: part of record 3 reached the disk, without its newline.
    appendFileSync(path, '{"id":3,"kind":"acc","method":"INV');
    const reader = await JournalReader.open({ path });
    assert.deepEqual(okIds(await readAll(reader)), [1, 2], 'reader ignores the torn line');
    const b = await JournalAccountingSink.open({ path });
    assert.equal(statSync(path).size, good);
    b.write(sampleAccRecord({ callid: 'three' }));
    await b.close();
    const items = await readAll(reader);
    assert.deepEqual(okIds(items), [3]);
    assert.equal(items[0].ok && items[0].record.callid, 'three');
    await reader.close();
  });

  it('treats a complete but corrupt last line as torn (waits), and truncates it on reopen', async () => {
    const a = await JournalAccountingSink.open({ path });
    a.write(sampleAccRecord());
    await a.close();
    appendFileSync(path, '\0\0\0\0\0\0\0\0\n');
    const reader = await JournalReader.open({ path });
    assert.deepEqual(okIds(await readAll(reader)), [1]);
    const b = await JournalAccountingSink.open({ path });
    b.write(sampleAccRecord());
    await b.close();
    const items = await readAll(reader);
    assert.deepEqual(items.map((i) => i.ok), [true]);
    assert.deepEqual(okIds(items), [2]);
    await reader.close();
  });

  it('reports a corrupt line in the middle as a bad item and goes on', async () => {
    const a = await JournalAccountingSink.open({ path });
    for (let i = 0; i < 3; i++) a.write(sampleAccRecord({ callid: `c${i}` }));
    await a.close();
    const text = readFileSync(path, 'utf8').replace('"callid":"c1"', '"callid":"cX"');
    writeFileSync(path, text);
    const reader = await JournalReader.open({ path });
    const items = await readAll(reader);
    assert.deepEqual(items.map((i) => i.ok), [true, false, true]);
    assert.match(items[1].ok ? '' : items[1].reason, /crc mismatch/);
    await reader.close();
  });

  it('reads records as they are appended and resumes from a saved cursor', async () => {
    const sink = await JournalAccountingSink.open({ path });
    const reader = await JournalReader.open({ path });
    assert.deepEqual(await reader.read(10), []);
    sink.write(sampleAccRecord());
    sink.write(sampleAccRecord());
    await sink.flush();
    const first = await reader.read(1);
    assert.deepEqual(okIds(first), [1]);
    const saved = first[0].cursor;
    await reader.close();
    sink.write(sampleAccRecord());
    await sink.close();
    const again = await JournalReader.open({ path });
    assert.ok(again.accepts(saved));
    await again.seek(saved);
    assert.deepEqual(okIds(await readAll(again)), [2, 3]);
    // A cursor whose offset does not fit is recovered by record id.
    assert.equal(saved.source, 'journal');
    if (saved.source === 'journal') await again.seek({ ...saved, offset: saved.offset + 3 });
    assert.deepEqual(okIds(await readAll(again)), [2, 3]);
    await again.close();
  });

  it('finishes a rotated journal, then reads the new one from its start', async () => {
    const a = await JournalAccountingSink.open({ path });
    a.write(sampleAccRecord());
    a.write(sampleAccRecord());
    await a.close();
    const reader = await JournalReader.open({ path });
    assert.deepEqual(okIds(await reader.read(1)), [1]);
    renameSync(path, `${path}.1`);
    const b = await JournalAccountingSink.open({ path });
    b.write(sampleAccRecord({ callid: 'new' }));
    await b.close();
    assert.deepEqual(okIds(await reader.read(10)), [2], 'rest of the old file first');
    assert.deepEqual(await reader.read(10), [], 'switch happens when caught up');
    const items = await reader.read(10);
    assert.deepEqual(okIds(items), [1]);
    assert.equal(reader.streamId, `journal:${b.journalId}`);
    await reader.close();
  });

  it('refuses to append to a file that is not a journal', async () => {
    writeFileSync(path, 'hello\n');
    await assert.rejects(JournalAccountingSink.open({ path }), { code: 'ACC_ERR_JOURNAL_HEADER' });
    truncateSync(path, 0);
    const s = await JournalAccountingSink.open({ path });
    await s.close();
  });
});
