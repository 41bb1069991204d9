/**
 * Database URLs as given to `sip-proxy --db` and `sipctl --db` (or SIP_DB_URL):
 *   mysql://USER:PASS@HOST:PORT/DB[?connectionLimit=N]   MySQL / MariaDB (Kamailio's db_url form)
 *   file:/path/subscribers.yaml                          in-memory, provisioned from YAML or JSON
 *   memory:                                              in-memory, empty
 */
import { StorageError } from './storage-error.js';

export interface MysqlUrl {
  kind: 'mysql';
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  connectionLimit: number;
}

export interface MemoryUrl {
  kind: 'memory';
  /** Provisioning file, or null for an empty store. */
  file: string | null;
}

export type DbUrl = MysqlUrl | MemoryUrl;

const DB_NAME_RE = /^[A-Za-z0-9_$]{1,64}$/;
const DEFAULT_POOL = 8;

export function parseDbUrl(text: string): DbUrl {
  const s = text.trim();
  if (s === 'memory:' || s === 'memory') return { kind: 'memory', file: null };
  if (s.startsWith('file:')) {
    const file = s.startsWith('file://') ? s.slice('file://'.length) : s.slice('file:'.length);
    if (file.length === 0) throw new StorageError('STORAGE_ERR_BAD_URL', 'file: URL needs a path, e.g. file:./subscribers.yaml');
    return { kind: 'memory', file: decodeURIComponent(file) };
  }
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new StorageError('STORAGE_ERR_BAD_URL', `database URL must look like mysql://USER:PASS@HOST:PORT/DB, got "${redactUrl(s)}"`);
  }
  if (u.protocol !== 'mysql:') {
    throw new StorageError('STORAGE_ERR_BAD_URL', `unsupported database scheme "${u.protocol}" (mysql:, file: or memory:)`);
  }
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!DB_NAME_RE.test(database)) {
    throw new StorageError('STORAGE_ERR_BAD_URL', `database name missing or invalid in "${redactUrl(s)}" (letters, digits, _ and $ only)`);
  }
  const port = u.port === '' ? 3306 : Number(u.port);
  let connectionLimit = DEFAULT_POOL;
  const cl = u.searchParams.get('connectionLimit');
  if (cl !== null) {
    connectionLimit = Number(cl);
    if (!Number.isInteger(connectionLimit) || connectionLimit < 1 || connectionLimit > 256) {
      throw new StorageError('STORAGE_ERR_BAD_URL', 'connectionLimit must be 1..256');
    }
  }
  return {
    kind: 'mysql',
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port,
    user: decodeURIComponent(u.username) || 'root',
    password: decodeURIComponent(u.password),
    database,
    connectionLimit,
  };
}

/** The URL with its password replaced, for logs and error messages. */
export function redactUrl(s: string): string {
  return s.replace(/^(\w+:\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

export function describeDbUrl(u: DbUrl): string {
  if (u.kind === 'memory') return u.file === null ? 'memory' : `memory (provisioned from ${u.file})`;
  return `mysql://${u.user}@${u.host.includes(':') ? `[${u.host}]` : u.host}:${u.port}/${u.database}`;
}
