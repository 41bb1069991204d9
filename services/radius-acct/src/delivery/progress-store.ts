/**
 * The accounting spool's durable progress: the cursor after the last record whose delivery
 * is settled (acknowledged by an Accounting-Response, or parked), for one stream. Saved
 * atomically (write temp file, fsync, rename, fsync directory), so a crash leaves either the
 * old or the new progress, never a torn file. Saves are coalesced: while one is in flight
 * only the newest pending cursor is kept.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AccCursor } from '@voip/acc';
import type { Logger } from 'pino';

export interface SavedProgress {
  stream: string;
  cursor: AccCursor;
  /** Records settled since this progress file was created (informational). */
  settled: number;
  updated: string;
}

export class ProgressStore {
  readonly path: string;
  private readonly log: Logger;
  private saving: Promise<void> | null;
  private next: SavedProgress | null;
  private last: SavedProgress | null;

  constructor(stateDir: string, log: Logger) {
    this.path = join(stateDir, 'progress.json');
    this.log = log;
    this.saving = null;
    this.next = null;
    this.last = null;
  }

  /** The saved progress, or null when there is none (first start). A corrupt file is an error:
   *  guessing a position could resend or skip records. */
  async load(): Promise<SavedProgress | null> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    const p = JSON.parse(text) as SavedProgress;
    if (typeof p.stream !== 'string' || typeof p.cursor !== 'object' || p.cursor === null) {
      throw new Error(`progress file ${this.path} is malformed`);
    }
    this.last = p;
    return p;
  }

  current(): SavedProgress | null {
    return this.next ?? this.last;
  }

  /** Records `progress` to be saved; resolves when it (or a newer one) is durable. */
  save(progress: SavedProgress): Promise<void> {
    this.next = progress;
    if (this.saving === null) this.saving = this.drain();
    return this.saving;
  }

  /** Waits for pending saves. */
  async settle(): Promise<void> {
    while (this.saving !== null) await this.saving;
  }

  private async drain(): Promise<void> {
    try {
      while (this.next !== null) {
        const p = this.next;
        this.next = null;
        await writeAtomic(this.path, `${JSON.stringify(p)}\n`);
        this.last = p;
      }
    } catch (err) {
      this.log.error({ err, path: this.path }, 'saving progress failed; records after the saved position will be resent');
    } finally {
      this.saving = null;
    }
  }
}

export async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(text, 'utf8');
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dirname(path), 'r');
  try {
    await dh.sync();
  } catch {
    // fsync on a directory is refused by some filesystems; rename is still atomic.
  } finally {
    await dh.close();
  }
}
