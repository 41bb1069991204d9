/**
 * Throw-away MariaDB databases for the chapter-5 suite: each run creates its own and drops it
 * (and kamdbctl's users) even when a test fails. Admin access from VOIP_TEST_MYSQL_URL
 * (default root@127.0.0.1:3306 without password, as the CI machine sets it up).
 *
 * `createKamdbctlDatabase` runs Kamailio's own kamdbctl non-interactively: a temporary HOME
 * holds the ~/.kamctlrc kamdbctl reads after /etc/kamailio/kamctlrc (engine, host, root
 * credentials, charset, no questions, standard tables only); stdin is /dev/null so its prompt
 * for an empty root password reads EOF.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { runToCompletion } from '../harness/index.js';

export interface AdminAccess {
  host: string;
  port: number;
  user: string;
  password: string;
}

export interface TestDatabase {
  readonly name: string;
  /** mysql:// URL for the proxy and sipctl. */
  readonly url: string;
  drop(): Promise<void>;
}

export function adminAccess(): AdminAccess {
  const u = new URL(process.env.VOIP_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql');
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password) };
}

function url(a: AdminAccess, user: string, password: string, db: string): string {
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  return `mysql://${auth}@${a.host}:${a.port}/${db}`;
}

export async function adminQuery<T = unknown>(sql: string, params: unknown[] = [], database?: string): Promise<T> {
  const a = adminAccess();
  const c = await createConnection({ host: a.host, port: a.port, user: a.user, password: a.password, connectTimeout: 5_000, ...(database ? { database } : {}) });
  try {
    const [rows] = await c.query(sql, params);
    return rows as T;
  } finally {
    await c.end();
  }
}

function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export async function createTestDatabase(prefix = 'voip_it'): Promise<TestDatabase> {
  const a = adminAccess();
  const name = uniqueName(prefix);
  await adminQuery(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  return { name, url: url(a, a.user, a.password, name), drop: () => adminQuery(`DROP DATABASE IF EXISTS \`${name}\``).then(() => undefined) };
}

export interface KamailioDatabase extends TestDatabase {
  /** HOME holding the .kamctlrc, for kamctl. */
  readonly home: string;
  kamctl(args: string[]): Promise<string>;
}

export async function createKamdbctlDatabase(prefix = 'voip_it_kam'): Promise<KamailioDatabase> {
  const a = adminAccess();
  const name = uniqueName(prefix);
  const suffix = randomBytes(3).toString('hex');
  const rwUser = `kamrw_${suffix}`;
  const roUser = `kamro_${suffix}`;
  const pw = randomBytes(9).toString('base64url');
  const home = mkdtempSync(join(tmpdir(), 'kamctl-'));
  writeFileSync(
    join(home, '.kamctlrc'),
    [
      'DBENGINE=MYSQL', `DBHOST=${a.host}`, `DBPORT=${a.port}`, `DBNAME=${name}`,
      `DBRWUSER="${rwUser}"`, `DBRWPW="${pw}"`, `DBROUSER="${roUser}"`, `DBROPW="${pw}"`,
      `DBROOTUSER="${a.user}"`, `DBROOTPW="${a.password}"`, 'CHARSET="latin1"', 'DBINITASK=no',
      'INSTALL_EXTRA_TABLES=no', 'INSTALL_PRESENCE_TABLES=no', 'INSTALL_DBUID_TABLES=no', 'STORE_PLAINTEXT_PW=1', '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env = { ...process.env, HOME: home };
  const drop = async (): Promise<void> => {
    try {
      await adminQuery(`DROP DATABASE IF EXISTS \`${name}\``);
      await adminQuery(`DROP USER IF EXISTS '${rwUser}'@'${a.host}', '${roUser}'@'${a.host}', '${rwUser}'@'localhost', '${roUser}'@'localhost'`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  const r = await runToCompletion('kamdbctl', ['create', name], 120_000, env);
  if (r.code !== 0) {
    await drop().catch(() => undefined);
    throw new Error(`kamdbctl create failed (${r.code}): ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
  return {
    name,
    url: url(a, rwUser, pw, name),
    home,
    drop,
    async kamctl(args: string[]): Promise<string> {
      const k = await runToCompletion('kamctl', args, 60_000, env);
      if (k.code !== 0) throw new Error(`kamctl ${args[0]} failed (${k.code}): ${(k.stderr || k.stdout).trim().split('\n').slice(-2).join(' | ')}`);
      return k.stdout;
    },
  };
}
