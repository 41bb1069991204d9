/**
 * The MariaDB side of the database benchmarks (bench:register, bench:proxy --route provider):
 * a database made for the run and dropped at the end, provisioned with our `sipctl` so both
 * proxies read the same Kamailio tables.
 */
import { spawnSync } from 'node:child_process';

export interface MysqlAdmin {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** Admin access from a mysql:// URL (VOIP_TEST_MYSQL_URL or --mysql). */
export function mysqlAdminOf(url: string): MysqlAdmin {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username) || 'root', password: decodeURIComponent(u.password) };
}

/** The db_url both proxies get for database `db`. */
export function benchDbUrl(a: MysqlAdmin, db: string): string {
  const auth = a.password ? `${encodeURIComponent(a.user)}:${encodeURIComponent(a.password)}` : encodeURIComponent(a.user);
  return `mysql://${auth}@${a.host}:${a.port}/${db}`;
}

/** The mysql client for CREATE/DROP DATABASE (password through the environment, not argv). */
export function mysqlAdminQuery(a: MysqlAdmin, sql: string): void {
  const r = spawnSync('mysql', ['-h', a.host, '-P', String(a.port), '-u', a.user, '-e', sql], {
    encoding: 'utf8',
    env: { ...process.env, ...(a.password ? { MYSQL_PWD: a.password } : {}) },
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`BENCH_ERR_MYSQL: ${sql}: ${(r.stderr || r.error?.message || '').trim()}`);
}

/** Runs our sipctl (its compiled entry point); a failure stops the benchmark with sipctl's reason. */
export function runSipctl(sipctlJs: string, args: string[]): void {
  const r = spawnSync(process.execPath, [sipctlJs, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`BENCH_ERR_SIPCTL: sipctl ${args.filter((a) => !a.startsWith('mysql://')).join(' ')}: ${r.stderr.trim()}`);
}
