/**
 * The nonce secret when none is configured: generated on the first start and kept in the state
 * directory, so a restarted proxy and every worker thread verify each other's nonces (a phone
 * that was challenged just before a restart is not refused afterwards). Kamailio's auth module
 * has `secret` for the same purpose and, when unset, a random one per start.
 *
 * The file holds 32 random bytes as 64 hex characters, mode 0600 in a 0700 directory: whoever
 * reads it can mint nonces our proxy accepts (still useless without a password, but not to be
 * shared). It is written to a temporary name and renamed, so two processes starting at once
 * never read half a secret; the one that loses the rename race reads the winner's.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants, chmodSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const NONCE_SECRET_FILE = 'nonce-secret';
const SYSTEM_STATE_DIR = '/var/lib/sip-proxy';
const SECRET_RE = /^[0-9a-f]{64}$/;

/**
 * The configured state directory, else /var/lib/sip-proxy when it exists and is writable (a
 * packaged install), else `.sip-proxy` in the working directory.
 */
export function defaultStateDir(configured: string | undefined, cwd: string = process.cwd()): string {
  if (configured !== undefined) return resolve(cwd, configured);
  try {
    if (statSync(SYSTEM_STATE_DIR).isDirectory()) {
      accessSync(SYSTEM_STATE_DIR, constants.W_OK);
      return SYSTEM_STATE_DIR;
    }
  } catch {
    // Not there or not ours: fall back to the working directory.
  }
  return resolve(cwd, '.sip-proxy');
}

export interface StoredSecret {
  secret: string;
  path: string;
  /** True when this call generated it (first start). */
  created: boolean;
}

/** Reads the secret kept in `dir`, creating the directory and the secret on first use. */
export function loadOrCreateNonceSecret(dir: string): StoredSecret {
  const path = join(dir, NONCE_SECRET_FILE);
  const existing = readSecret(path);
  if (existing !== null) return { secret: existing, path, created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  let created = true;
  try {
    // link() fails when the name exists: the first process to get there wins, no overwrite.
    linkSync(tmp, path);
  } catch (err) {
    created = false;
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      unlinkSync(tmp);
      throw err;
    }
  }
  unlinkSync(tmp);
  const secret = readSecret(path);
  if (secret === null) throw new Error(`${path} does not hold a nonce secret (64 hex characters); remove it to have a new one generated`);
  return { secret, path, created };
}

function readSecret(path: string): string | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const s = text.trim();
  if (!SECRET_RE.test(s)) throw new Error(`${path} does not hold a nonce secret (64 hex characters); remove it to have a new one generated`);
  return s;
}
