/**
 * Helpers for the accounting tests: a throw-away MariaDB database, the radius-acct process,
 * and waiting for radacct rows. Each database has a unique name and is dropped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createConnection, type Connection, type RowDataPacket } from 'mysql2/promise';
import { ACC_SCHEMA_SQL } from '@voip/acc';
import type { Backend, ProgramHandle } from '../harness/index.js';
import { adminAccess } from '../mysql/mysql-database.js';
import { RADACCT_SCHEMA } from './freeradius.js';

/** The MariaDB the suite uses: VOIP_TEST_MYSQL_URL (default 127.0.0.1:3306, root). */
const admin = adminAccess();
export const MYSQL_HOST = admin.host;
export const MYSQL_PORT = admin.port;
export const RADIUS_ACCT_MAIN = fileURLToPath(new URL('../../../services/radius-acct/dist/main.js', import.meta.url));

export interface TestDatabase {
  readonly name: string;
  readonly uri: string;
  readonly conn: Connection;
  drop(): Promise<void>;
}

/** Creates a database with Kamailio's acc/missed_calls (our DDL) and FreeRADIUS' radacct. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = await createConnection({ host: MYSQL_HOST, port: MYSQL_PORT, user: 'root', password: '', multipleStatements: true });
  await admin.query(`CREATE DATABASE \`${name}\``);
  await admin.query(`USE \`${name}\``);
  for (const sql of ACC_SCHEMA_SQL) await admin.query(sql);
  await admin.query(readFileSync(RADACCT_SCHEMA, 'utf8'));
  return {
    name,
    uri: `mysql://root@${MYSQL_HOST}:${MYSQL_PORT}/${name}`,
    conn: admin,
    async drop() {
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``);
      await admin.end();
    },
  };
}

export interface RadacctRow {
  acctsessionid: string;
  acctuniqueid: string;
  acctterminatecause: string;
  username: string;
  connectinfo_start: string;
  connectinfo_stop: string;
}

export async function radacctRows(db: TestDatabase): Promise<RadacctRow[]> {
  const [rows] = await db.conn.query<RowDataPacket[]>(`SELECT acctsessionid, acctuniqueid, acctterminatecause, username, connectinfo_start, connectinfo_stop FROM \`${db.name}\`.radacct ORDER BY radacctid`);
  return rows as RadacctRow[];
}

/** Polls until `check` returns true (or throws the last failure after `timeoutMs`). */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What a test does with a running radius-acct, however it was started. */
export interface RadiusAcctRunner {
  /** Its output so far (stdout and stderr). */
  readonly output: string;
  /** The message of the start-up line saying where delivery resumes. */
  startupLine(): Promise<string>;
  alive(): boolean;
  kill(signal: NodeJS.Signals): Promise<void>;
}

const STARTUP_LINE = /"msg":"(radius-acct [^"]{1,400})"/;

/** A running radius-acct, a local process. */
export class RadiusAcctProcess implements RadiusAcctRunner {
  readonly child: ChildProcess;
  output = '';

  private constructor(child: ChildProcess) {
    this.child = child;
    const onData = (c: Buffer): void => {
      this.output = (this.output + c.toString()).slice(-256 * 1024);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
  }

  static start(args: string[]): RadiusAcctProcess {
    return new RadiusAcctProcess(spawn(process.execPath, [RADIUS_ACCT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  /** The message of the start-up line saying where delivery resumes. */
  async startupLine(): Promise<string> {
    let line = '';
    await waitUntil('radius-acct start-up line', 10_000, () => {
      if (this.child.exitCode !== null) throw new Error(`radius-acct exited ${this.child.exitCode}:\n${this.output}`);
      const m = STARTUP_LINE.exec(this.output);
      if (m !== null) line = m[1];
      return m !== null;
    });
    return line;
  }

  alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async kill(signal: NodeJS.Signals): Promise<void> {
    if (!this.alive()) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill(signal);
    await exited;
  }
}

/**
 * radius-acct started through a backend (Backend.startProgram('radius-acct'): a local process,
 * or the node image's radius-acct in the containers backend).
 */
export class RadiusAcctProgram implements RadiusAcctRunner {
  private constructor(private readonly handle: ProgramHandle) {}

  static async start(lab: Backend, args: string[]): Promise<RadiusAcctProgram> {
    return new RadiusAcctProgram(await lab.startProgram('radius-acct', args));
  }

  get output(): string {
    return this.handle.logTail(16 * 1024);
  }

  async startupLine(): Promise<string> {
    const m = await this.handle.waitForOutput(STARTUP_LINE, 30_000);
    return m[1]!;
  }

  alive(): boolean {
    return this.handle.alive();
  }

  /** Stops it (SIGTERM, then SIGKILL after a grace period, as the backend does). */
  async kill(): Promise<void> {
    await this.handle.stop();
  }
}

/**
 * Runs radius-acct to completion through a backend (cdr, parked). Its stdout and stderr come
 * back together (a container has one log): warnings are JSON lines of pino, as are its
 * records in `--format json`, so readers pick their records by field.
 */
export async function runRadiusAcctIn(lab: Backend, args: string[], timeoutMs = 60_000): Promise<{ code: number; output: string }> {
  const h = await lab.startProgram('radius-acct', args);
  try {
    const exit = await h.waitForExit(timeoutMs);
    return { code: exit.code ?? -1, output: h.logTail(16 * 1024) };
  } finally {
    await h.stop();
  }
}

/** Runs radius-acct to completion (cdr, parked) and returns its stdout. */
export async function runRadiusAcct(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [RADIUS_ACCT_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? -1)));
  return { code, stdout, stderr };
}
