/**
 * Durable mailboxes of the built-in engine, under `<spool>/mailboxes/<domain>/<user>/`:
 * `new/` and `old/` hold `<id>.wav` + `<id>.json` (metadata). A message exists once its
 * JSON is in place. Every file is written to a temporary name, fsynced, renamed into its
 * folder, and the folder fsynced (the rename is only durable once the directory entry is),
 * so a kill -9 or power cut at any instant leaves either the whole message or none of it.
 * Recordings in progress stream into `<spool>/tmp/`; leftovers there are removed at start.
 * Greetings: `<spool>/greetings/<domain>/<user>/{busy,unavailable}.wav`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VoicemailError } from '../errors.js';
import { WavFileWriter } from '../media/wav.js';

export type Folder = 'new' | 'old';
export type GreetingKind = 'busy' | 'unavailable';

export interface MessageInfo {
  id: string;
  /** The caller as the From (or P-Asserted-Identity) named it: `sip:alice@example.com` or display text. */
  caller: string;
  callerName: string | null;
  /** ISO 8601 UTC. */
  received_at: string;
  duration_s: number;
  folder: Folder;
  /** Which greeting the caller heard: b (busy) or u (unavailable). */
  reason: 'busy' | 'unavailable';
  callId: string;
}

export interface MailboxCounts {
  newMessages: number;
  oldMessages: number;
}

/** What the HTTP API and MWI need from either backend. */
export interface MailboxReader {
  list(username: string, domain: string): Promise<MessageInfo[]>;
  counts(username: string, domain: string): Promise<MailboxCounts>;
  /** The message's WAV bytes, or null when there is no such message. */
  audio(username: string, domain: string, id: string): Promise<Buffer | null>;
  remove(username: string, domain: string, id: string): Promise<boolean>;
}

export interface MailboxChangeListener {
  onMailboxChanged(username: string, domain: string, counts: MailboxCounts): void;
}

export const MESSAGE_ID_RE = /^[0-9]{13}-[0-9a-f]{8}$/;

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically: tmp file in the same folder, fsync, rename, fsync folder. */
export async function writeFileAtomic(path: string, dir: string, data: Buffer | string, mode = 0o640): Promise<void> {
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}`);
  const fh = await open(tmp, 'w', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  await fsyncDir(dir);
}

interface MailboxIndex {
  messages: Map<string, MessageInfo>;
}

export class MailboxStore implements MailboxReader {
  readonly root: string;
  private readonly tmpDir: string;
  private readonly index: Map<string, MailboxIndex>;
  private readonly loading: Map<string, Promise<MailboxIndex>>;
  private listener: MailboxChangeListener | null;

  constructor(spool: string) {
    this.root = spool;
    this.tmpDir = join(spool, 'tmp');
    this.index = new Map();
    this.loading = new Map();
    this.listener = null;
    mkdirSync(this.tmpDir, { recursive: true });
    mkdirSync(join(spool, 'mailboxes'), { recursive: true });
    mkdirSync(join(spool, 'greetings'), { recursive: true });
    // Recordings a crash interrupted were never committed: nothing of them is a message.
    for (const f of readdirSync(this.tmpDir)) rmSync(join(this.tmpDir, f), { force: true });
  }

  setListener(l: MailboxChangeListener | null): void {
    this.listener = l;
  }

  private dir(username: string, domain: string): string {
    return join(this.root, 'mailboxes', domain.toLowerCase(), username);
  }

  /** A writer for a new recording in the spool's tmp folder. */
  beginRecording(): WavFileWriter {
    return new WavFileWriter(join(this.tmpDir, `rec-${Date.now()}-${randomBytes(4).toString('hex')}.wav`));
  }

  /** Drops a recording (too short, or the call failed). */
  async discardRecording(w: WavFileWriter): Promise<void> {
    w.abort();
    await rm(w.path, { force: true });
  }

  /**
   * Finishes the recording and makes it a message in `new/`, durably, before returning
   * (the caller then answers the BYE). The WAV goes in first, the JSON (the commit) last.
   */
  async commit(username: string, domain: string, w: WavFileWriter, meta: Omit<MessageInfo, 'id' | 'folder' | 'received_at' | 'duration_s'>, receivedAt: Date): Promise<MessageInfo> {
    const samples = await w.finish();
    const idx = await this.load(username, domain);
    const id = `${receivedAt.getTime().toString().padStart(13, '0')}-${randomBytes(4).toString('hex')}`;
    const folder = join(this.dir(username, domain), 'new');
    const info: MessageInfo = {
      id,
      caller: meta.caller,
      callerName: meta.callerName,
      received_at: receivedAt.toISOString(),
      duration_s: Math.round((samples / 8000) * 100) / 100,
      folder: 'new',
      reason: meta.reason,
      callId: meta.callId,
    };
    try {
      await rename(w.path, join(folder, `${id}.wav`));
      await writeFileAtomic(join(folder, `${id}.json`), folder, JSON.stringify(info, null, 1) + '\n');
    } catch (e) {
      await rm(w.path, { force: true });
      throw new VoicemailError('VM_ERR_STORAGE', (e as Error).message);
    }
    idx.messages.set(id, info);
    this.changed(username, domain, idx);
    return info;
  }

  async list(username: string, domain: string): Promise<MessageInfo[]> {
    const idx = await this.load(username, domain);
    return [...idx.messages.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async counts(username: string, domain: string): Promise<MailboxCounts> {
    return countsOf(await this.load(username, domain));
  }

  async audio(username: string, domain: string, id: string): Promise<Buffer | null> {
    if (!MESSAGE_ID_RE.test(id)) return null;
    const idx = await this.load(username, domain);
    const m = idx.messages.get(id);
    if (m === undefined) return null;
    try {
      return await readFile(join(this.dir(username, domain), m.folder, `${id}.wav`));
    } catch {
      return null;
    }
  }

  /** Deletes a message: the JSON first (the message is gone), then its audio. */
  async remove(username: string, domain: string, id: string): Promise<boolean> {
    if (!MESSAGE_ID_RE.test(id)) return false;
    const idx = await this.load(username, domain);
    const m = idx.messages.get(id);
    if (m === undefined) return false;
    const folder = join(this.dir(username, domain), m.folder);
    await rm(join(folder, `${id}.json`), { force: true });
    await fsyncDir(folder);
    await rm(join(folder, `${id}.wav`), { force: true });
    idx.messages.delete(id);
    this.changed(username, domain, idx);
    return true;
  }

  /** Moves a heard message to `old/` (audio first, then the JSON; `load` repairs a half-done move). */
  async markOld(username: string, domain: string, id: string): Promise<void> {
    const idx = await this.load(username, domain);
    const m = idx.messages.get(id);
    if (m === undefined || m.folder === 'old') return;
    const base = this.dir(username, domain);
    const updated: MessageInfo = { ...m, folder: 'old' };
    await rename(join(base, 'new', `${id}.wav`), join(base, 'old', `${id}.wav`));
    await writeFileAtomic(join(base, 'old', `${id}.json`), join(base, 'old'), JSON.stringify(updated, null, 1) + '\n');
    await rm(join(base, 'new', `${id}.json`), { force: true });
    await fsyncDir(join(base, 'new'));
    idx.messages.set(id, updated);
    this.changed(username, domain, idx);
  }

  async saveGreeting(username: string, domain: string, kind: GreetingKind, wav: Buffer): Promise<void> {
    const dir = join(this.root, 'greetings', domain.toLowerCase(), username);
    await mkdir(dir, { recursive: true });
    await writeFileAtomic(join(dir, `${kind}.wav`), dir, wav);
  }

  /** An uploaded greeting's WAV bytes, or null for the default one. */
  async greeting(username: string, domain: string, kind: GreetingKind): Promise<Buffer | null> {
    try {
      return await readFile(join(this.root, 'greetings', domain.toLowerCase(), username, `${kind}.wav`));
    } catch {
      return null;
    }
  }

  private changed(username: string, domain: string, idx: MailboxIndex): void {
    this.listener?.onMailboxChanged(username, domain, countsOf(idx));
  }

  private load(username: string, domain: string): Promise<MailboxIndex> {
    const key = `${username}@${domain.toLowerCase()}`;
    const hit = this.index.get(key);
    if (hit !== undefined) return Promise.resolve(hit);
    let p = this.loading.get(key);
    if (p === undefined) {
      p = this.scan(username, domain).then((idx) => {
        this.index.set(key, idx);
        this.loading.delete(key);
        return idx;
      });
      p.catch(() => this.loading.delete(key));
      this.loading.set(key, p);
    }
    return p;
  }

  /** Reads a mailbox from disk, repairing what an interrupted move or delete left. */
  private async scan(username: string, domain: string): Promise<MailboxIndex> {
    const base = this.dir(username, domain);
    await mkdir(join(base, 'new'), { recursive: true });
    await mkdir(join(base, 'old'), { recursive: true });
    const messages = new Map<string, MessageInfo>();
    for (const folder of ['old', 'new'] as const) {
      for (const f of await readdir(join(base, folder))) {
        const path = join(base, folder, f);
        if (f.startsWith('.tmp-')) {
          await rm(path, { force: true });
          continue;
        }
        if (!f.endsWith('.json')) continue;
        const id = f.slice(0, -5);
        if (!MESSAGE_ID_RE.test(id)) continue;
        let info: MessageInfo;
        try {
          info = JSON.parse(await readFile(path, 'utf8')) as MessageInfo;
        } catch {
          continue;
        }
        if (messages.has(id)) {
          // A move to old/ finished its JSON but not the removal from new/: old/ wins.
          await rm(join(base, 'new', f), { force: true });
          continue;
        }
        const wav = join(base, folder, `${id}.wav`);
        const other = join(base, folder === 'new' ? 'old' : 'new', `${id}.wav`);
        if (!(await exists(wav))) {
          if (await exists(other)) await rename(other, wav);
          else {
            await rm(path, { force: true });
            continue;
          }
        }
        messages.set(id, { ...info, id, folder });
      }
    }
    // Audio without a JSON is a commit that never finished (or a delete half done).
    for (const folder of ['old', 'new'] as const) {
      for (const f of await readdir(join(base, folder))) {
        if (f.endsWith('.wav') && !messages.has(f.slice(0, -4))) await rm(join(base, folder, f), { force: true });
      }
    }
    return { messages };
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function countsOf(idx: MailboxIndex): MailboxCounts {
  let n = 0;
  let o = 0;
  for (const m of idx.messages.values()) {
    if (m.folder === 'new') n++;
    else o++;
  }
  return { newMessages: n, oldMessages: o };
}
