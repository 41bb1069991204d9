/**
 * Parked records: those that cannot be delivered (corrupt journal line, invalid row, an
 * attribute over RFC 2865's 253 octets, or a record the servers never answer while they
 * answer others). Each is appended as one NDJSON line with its reason and fsynced before
 * the progress moves past it, so nothing is dropped silently and nothing is retried forever.
 * An operator fixes the cause and replays them (docs/accounting.md).
 */
import { mkdir, open, readFile, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';

export interface ParkedEntry {
  parked: string;
  stream: string;
  key: string;
  reason: string;
  /** The record (when it could be read) or the raw stored text. */
  record?: unknown;
  raw?: string;
}

export class ParkingLot {
  readonly path: string;
  private readonly log: Logger;
  private fh: FileHandle | null;
  private chain: Promise<void>;
  count: number;

  constructor(stateDir: string, log: Logger) {
    this.path = join(stateDir, 'parked.ndjson');
    this.log = log;
    this.fh = null;
    this.chain = Promise.resolve();
    this.count = 0;
  }

  /** Appends and fsyncs one entry; entries are written in call order. */
  park(entry: ParkedEntry): Promise<void> {
    const line = `${JSON.stringify(entry)}\n`;
    const p = this.chain.then(() => this.append(line));
    this.chain = p.catch(() => {});
    return p;
  }

  async close(): Promise<void> {
    await this.chain;
    await this.fh?.close();
    this.fh = null;
  }

  static async readAll(stateDir: string): Promise<ParkedEntry[]> {
    let text: string;
    try {
      text = await readFile(join(stateDir, 'parked.ndjson'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: ParkedEntry[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      try {
        out.push(JSON.parse(line) as ParkedEntry);
      } catch {
        // torn last line after a crash: its record was not settled, so it is resent
      }
    }
    return out;
  }

  private async append(line: string): Promise<void> {
    if (this.fh === null) {
      await mkdir(dirname(this.path), { recursive: true });
      this.fh = await open(this.path, 'a');
    }
    await this.fh.write(line);
    await this.fh.datasync();
    this.count++;
    this.log.debug({ path: this.path }, 'parked record written');
  }
}
