/**
 * Where sipctl finds the running proxy's admin API when no URL is given. sip-proxy's admin API
 * listens on a random port by default (admin.listen 127.0.0.1:0), so sipctl could not guess it
 * and a database change waited for the proxy's periodic reload. sip-proxy therefore writes the
 * URL it listens on to `<stateDir>/admin-url` (the directory that keeps the generated nonce
 * secret) and removes it on a clean shutdown; sipctl reads it when neither --proxy-admin nor
 * SIP_PROXY_ADMIN is given. Kamailio's kamctl/kamcmd do the same with the control socket path
 * (`/var/run/kamailio/kamailio_ctl`) both sides agree on.
 *
 * The file is one JSON line `{"url":…,"pid":…}`, written to a temporary name and renamed, so a
 * reader never sees half of it. A file left by a proxy that was killed names a port nobody
 * listens on any more: sipctl says so in one line (admin-client.ts, StaleAdminFileError).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ADMIN_URL_FILE = 'admin-url';
/** sip-proxy's state directory when it may write there (modules/auth/nonce-secret-store.ts, defaultStateDir). */
const SYSTEM_STATE_DIR = '/var/lib/sip-proxy';
const MAX_FILE_BYTES = 1024;

export interface AdminUrlRecord {
  url: string;
  /** Process id of the proxy that wrote it (for people reading the file; sipctl probes the URL). */
  pid: number;
  /** The file it came from. */
  path: string;
}

/** Writes `<dir>/admin-url` for `url` (creating the directory); returns the file's path. */
export function writeAdminUrlFile(dir: string, url: string, pid: number = process.pid): string {
  const path = join(dir, ADMIN_URL_FILE);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${JSON.stringify({ url, pid })}\n`, { mode: 0o644, flag: 'wx' });
  renameSync(tmp, path);
  return path;
}

/**
 * Removes the file at shutdown, only when it still names this proxy: a second proxy started
 * with the same state directory has replaced it, and its record must stay.
 */
export function removeAdminUrlFile(path: string, url: string, pid: number = process.pid): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const r = parseRecord(text, path);
  if (r === null || r.url !== url || r.pid !== pid) return false;
  try {
    unlinkSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The directories sipctl looks in, in order: the configured one (--state-dir or
 * SIP_PROXY_STATE_DIR, as sip-proxy reads it) alone; else where sip-proxy puts its state by
 * default, /var/lib/sip-proxy, then `.sip-proxy` in the working directory.
 */
export function adminUrlDirs(configured: string | undefined, cwd: string = process.cwd()): string[] {
  if (configured !== undefined && configured !== '') return [resolve(cwd, configured)];
  return [SYSTEM_STATE_DIR, resolve(cwd, '.sip-proxy')];
}

/** The first admin-url file found in `dirs`; null when there is none. Throws on a file that is not ours. */
export function readAdminUrlFile(dirs: readonly string[]): AdminUrlRecord | null {
  for (const dir of dirs) {
    const path = join(dir, ADMIN_URL_FILE);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') continue;
      throw new AdminUrlFileError(`cannot read ${path}: ${code ?? (err as Error).message}`);
    }
    const r = parseRecord(text, path);
    if (r === null) throw new AdminUrlFileError(`${path} does not hold a proxy admin URL; remove it, or give --proxy-admin URL`);
    return r;
  }
  return null;
}

export class AdminUrlFileError extends Error {
  override readonly name = 'AdminUrlFileError';
}

function parseRecord(text: string, path: string): AdminUrlRecord | null {
  if (text.length > MAX_FILE_BYTES) return null;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const o = v as { url?: unknown; pid?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.url !== 'string' || !/^https?:\/\/\S{1,200}$/.test(o.url)) return null;
  return { url: o.url, pid: typeof o.pid === 'number' && Number.isInteger(o.pid) ? o.pid : 0, path };
}
