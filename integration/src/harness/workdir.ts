/**
 * One temporary directory per test file for logs, traces and generated configs. It is
 * removed at the end unless INTEGRATION_KEEP_LOGS=1 (or the tests failed and
 * INTEGRATION_KEEP_LOGS=on-failure), so a failure can be investigated afterwards.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class WorkDir {
  readonly path: string;
  private failed: boolean;

  constructor(label: string) {
    this.path = mkdtempSync(join(tmpdir(), `voip-it-${label.replace(/[^A-Za-z0-9_-]/g, '_')}-`));
    this.failed = false;
  }

  /** A sub-directory (created) for one run, e.g. one SIPp invocation. */
  sub(name: string): string {
    const p = join(this.path, name.replace(/[^A-Za-z0-9_.-]/g, '_'));
    mkdirSync(p, { recursive: true });
    return p;
  }

  file(name: string): string {
    return join(this.path, name);
  }

  markFailed(): void {
    this.failed = true;
  }

  /** Removes the directory unless the environment asks to keep it; returns whether kept. */
  cleanup(): boolean {
    const keep = process.env.INTEGRATION_KEEP_LOGS;
    if (keep === '1' || keep === 'always' || (keep === 'on-failure' && this.failed)) {
      process.stderr.write(`integration logs kept in ${this.path}\n`);
      return true;
    }
    rmSync(this.path, { recursive: true, force: true });
    return false;
  }
}
