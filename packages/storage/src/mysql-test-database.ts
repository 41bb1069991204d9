/**
 * Throw-away databases on the real MariaDB for tests (each run creates its own and drops it,
 * also on failure). Admin access comes from VOIP_TEST_MYSQL_URL (default root on 127.0.0.1:3306).
 *
 * `createKamdbctlDatabase` builds one with Kamailio's own tool, kamdbctl, non-interactively: a
 * temporary HOME holds a ~/.kamctlrc (kamdbctl reads it after /etc/kamailio/kamctlrc) that sets
 * the engine, host, root credentials, charset and answers every question with "no" except the
 * standard tables. kamdbctl also creates a read-write and a read-only user; they get unique names
 * and are dropped with the database.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { parseDbUrl, type MysqlUrl } from './db-url.js';

/**
 * Runs a tool with stdin from /dev/null (kamdbctl prompts for an empty root password and must
 * read EOF, not wait on a pipe); resolves with stdout, rejects with the last lines of output.
 */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args[0] ?? ''} exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`));
    });
  });
}

export interface TestDatabase {
  readonly name: string;
  /** URL the code under test uses. */
  readonly url: string;
  readonly parsed: MysqlUrl;
  drop(): Promise<void>;
}

export function adminUrl(): MysqlUrl {
  const u = parseDbUrl(process.env.VOIP_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql');
  if (u.kind !== 'mysql') throw new Error('VOIP_TEST_MYSQL_URL must be a mysql:// URL');
  return u;
}

function urlOf(u: MysqlUrl, user: string, password: string, database: string): string {
  const auth = password ? `${encodeURIComponent(user)}:${encodeURIComponent(password)}` : encodeURIComponent(user);
  const host = u.host.includes(':') ? `[${u.host}]` : u.host;
  return `mysql://${auth}@${host}:${u.port}/${database}`;
}

async function adminExec(sql: string[]): Promise<void> {
  const a = adminUrl();
  const c = await createConnection({ host: a.host, port: a.port, user: a.user, password: a.password, connectTimeout: 5_000 });
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/** An empty database the admin user owns. */
export async function createTestDatabase(prefix = 'voip_test'): Promise<TestDatabase> {
  const a = adminUrl();
  const name = uniqueName(prefix);
  await adminExec([`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`]);
  const url = urlOf(a, a.user, a.password, name);
  return {
    name,
    url,
    parsed: parseDbUrl(url) as MysqlUrl,
    async drop(): Promise<void> {
      await adminExec([`DROP DATABASE IF EXISTS \`${name}\``]);
    },
  };
}

/** A database created by `kamdbctl create` (Kamailio 5.x), accessed as kamdbctl's read-write user. */
export async function createKamdbctlDatabase(prefix = 'voip_kam'): Promise<TestDatabase & { kamctlrc: string }> {
  const a = adminUrl();
  const name = uniqueName(prefix);
  const suffix = randomBytes(3).toString('hex');
  const rwUser = `kamrw_${suffix}`;
  const roUser = `kamro_${suffix}`;
  const rwPassword = randomBytes(9).toString('base64url');
  const home = mkdtempSync(join(tmpdir(), 'kamdbctl-'));
  const rc = [
    'DBENGINE=MYSQL',
    `DBHOST=${a.host}`,
    `DBPORT=${a.port}`,
    `DBNAME=${name}`,
    `DBRWUSER="${rwUser}"`,
    `DBRWPW="${rwPassword}"`,
    `DBROUSER="${roUser}"`,
    `DBROPW="${rwPassword}"`,
    `DBROOTUSER="${a.user}"`,
    `DBROOTPW="${a.password}"`,
    'CHARSET="latin1"',
    'DBINITASK=no',
    'INSTALL_EXTRA_TABLES=no',
    'INSTALL_PRESENCE_TABLES=no',
    'INSTALL_DBUID_TABLES=no',
    // Plaintext passwords next to ha1/ha1b, as kamctl does by default.
    'STORE_PLAINTEXT_PW=1',
    '',
  ].join('\n');
  const kamctlrc = join(home, '.kamctlrc');
  writeFileSync(kamctlrc, rc, { mode: 0o600 });
  const drop = async (): Promise<void> => {
    try {
      await adminExec([
        `DROP DATABASE IF EXISTS \`${name}\``,
        `DROP USER IF EXISTS '${rwUser}'@'${a.host}', '${roUser}'@'${a.host}', '${rwUser}'@'localhost', '${roUser}'@'localhost'`,
      ]);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  };
  try {
    await run('kamdbctl', ['create', name], { ...process.env, HOME: home }, 120_000);
  } catch (err) {
    await drop().catch(() => undefined);
    throw err;
  }
  const url = urlOf(a, rwUser, rwPassword, name);
  return { name, url, parsed: parseDbUrl(url) as MysqlUrl, kamctlrc, drop };
}

/** Runs Kamailio's kamctl against a database made by createKamdbctlDatabase. */
export async function kamctl(kamctlrc: string, args: string[]): Promise<string> {
  const home = join(kamctlrc, '..');
  return run('kamctl', args, { ...process.env, HOME: home }, 60_000);
}
