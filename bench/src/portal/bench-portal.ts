/**
 * bench:portal — how the provider portal's pages and API answer on a provider-sized database:
 * 10,000 subscribers and 1,000,000 `acc` rows (500,000 calls: INVITE + BYE) plus 100,000
 * `missed_calls`, in a throw-away MariaDB database (`sipctl db init`, so the CDR indexes are
 * there), seeded with multi-row INSERTs. It starts voip-portal on it, signs in and prints the
 * median and p95 response time of each page and API call. No peer: SerMyAdmin and Siremis are
 * not packaged for Debian; the target is < 300 ms per page.
 *
 *   npm run bench:portal [-- --subscribers 10000 --calls 500000 --runs 20 --mysql mysql://root@127.0.0.1:3306/mysql --keep]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { createConnection, type Connection } from 'mysql2/promise';
import { benchDbUrl, mysqlAdminOf, mysqlAdminQuery, runSipctl } from '../common/bench-database.js';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const SIPCTL = join(root, 'services', 'proxy', 'dist', 'cli', 'sipctl.js');
const PORTAL = join(root, 'services', 'portal', 'dist', 'main.js');
const DOMAIN = 'example.com';
const ROWS_PER_INSERT = 5_000;

function ts(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

async function insertMany(c: Connection, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    await c.query(`INSERT INTO ${table} (${columns.join(',')}) VALUES ?`, [rows.slice(i, i + ROWS_PER_INSERT)]);
  }
}

async function seed(url: string, subscribers: number, calls: number): Promise<void> {
  const u = new URL(url);
  const c = await createConnection({ host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username), password: decodeURIComponent(u.password), database: u.pathname.slice(1) });
  try {
    const user = (i: number) => `user${String(i).padStart(5, '0')}`;
    const subs: unknown[][] = [];
    for (let i = 0; i < subscribers; i++) subs.push([user(i), DOMAIN, '', randomBytes(16).toString('hex'), randomBytes(16).toString('hex'), `${user(i)}@mail.example`]);
    await insertMany(c, 'subscriber', ['username', 'domain', 'password', 'ha1', 'ha1b', 'email_address'], subs);
    const cols = ['method', 'from_tag', 'to_tag', 'callid', 'sip_code', 'sip_reason', 'time', 'src_user', 'src_domain', 'src_ip', 'dst_ouser', 'dst_user', 'dst_domain', 'user_agent'];
    const start = Date.UTC(2025, 0, 1);
    const span = 365 * 86_400_000;
    // Calls in time order, as the proxy writes them (ids grow with time).
    let batch: unknown[][] = [];
    for (let i = 0; i < calls; i++) {
      const t = start + Math.floor((i / calls) * span);
      const caller = user((i * 7919) % subscribers);
      const pstn = i % 3 === 0;
      const dialled = pstn ? `1212555${String(i % 10_000).padStart(4, '0')}` : user((i * 104_729 + 1) % subscribers);
      const routed = pstn ? `+${dialled}` : dialled;
      const callid = `bench-${i}`;
      batch.push(['INVITE', `f${i}`, `t${i}`, callid, '200', 'OK', ts(t), caller, DOMAIN, '10.0.0.1', dialled, routed, pstn ? '192.0.2.1' : DOMAIN, 'bench']);
      batch.push(['BYE', `f${i}`, `t${i}`, callid, '200', 'OK', ts(t + 1000 * (5 + (i % 600))), caller, DOMAIN, '10.0.0.1', dialled, routed, pstn ? '192.0.2.1' : DOMAIN, 'bench']);
      if (batch.length >= ROWS_PER_INSERT) {
        await insertMany(c, 'acc', cols, batch);
        batch = [];
      }
    }
    await insertMany(c, 'acc', cols, batch);
    const missed: unknown[][] = [];
    for (let i = 0; i < calls / 5; i++) {
      missed.push(['INVITE', `m${i}`, '', `missed-${i}`, '486', 'Busy Here', ts(start + Math.floor((i / (calls / 5)) * span)), user((i * 31) % subscribers), DOMAIN, '10.0.0.1', user((i * 17) % subscribers), user((i * 17) % subscribers), DOMAIN, 'bench']);
    }
    await insertMany(c, 'missed_calls', cols, missed);
    await c.query('ANALYZE TABLE subscriber, acc, missed_calls');
  } finally {
    await c.end();
  }
}

function waitForLine(child: ReturnType<typeof spawn>, re: RegExp, ms: number): Promise<void> {
  return new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error(`voip-portal did not start: ${out.slice(-500)}`)), ms);
    const on = (d: Buffer) => {
      out += d.toString();
      if (re.test(out)) {
        clearTimeout(timer);
        res();
      }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => rej(new Error(`voip-portal exited ${code}: ${out.slice(-500)}`)));
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--subscribers <n>', 'subscribers to seed', '10000')
    .option('--calls <n>', 'answered calls (2 acc rows each)', '500000')
    .option('--runs <n>', 'requests per measured URL', '20')
    .option('--port <n>', 'portal port', '18095')
    .option('--mysql <url>', 'admin access', process.env.VOIP_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/mysql')
    .option('--keep', 'keep the database')
    .parse()
    .opts<{ subscribers: string; calls: string; runs: string; port: string; mysql: string; keep?: boolean }>();
  const admin = mysqlAdminOf(o.mysql);
  const dbName = `voip_bench_portal_${process.pid}`;
  mysqlAdminQuery(admin, `CREATE DATABASE ${dbName} CHARACTER SET utf8mb4`);
  const url = benchDbUrl(admin, dbName);
  let portal: ReturnType<typeof spawn> | null = null;
  try {
    runSipctl(SIPCTL, ['--db', url, 'db', 'init']);
    runSipctl(SIPCTL, ['--db', url, 'domain', 'add', DOMAIN]);
    const t0 = Date.now();
    await seed(url, Number(o.subscribers), Number(o.calls));
    process.stdout.write(`seeded ${o.subscribers} subscribers, ${Number(o.calls) * 2} acc rows, ${Number(o.calls) / 5} missed_calls in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const password = randomBytes(12).toString('base64url');
    portal = spawn(process.execPath, [PORTAL, '--db', url, '--listen', `127.0.0.1:${o.port}`, '--insecure-cookie', '--log-level', 'warn'], {
      env: { ...process.env, VOIP_PORTAL_ADMIN_USER: 'admin', VOIP_PORTAL_ADMIN_PASSWORD: password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForLine(portal, /listening on/, 30_000);
    const base = `http://127.0.0.1:${o.port}`;
    const login = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    if (login.status !== 200) throw new Error(`sign-in failed: ${login.status}`);
    const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
    const deep = await (await fetch(`${base}/api/cdrs?limit=1`, { headers: { cookie } })).json() as { rows: { id: number }[] };
    const midId = Math.floor((deep.rows[0]?.id ?? 2) / 2);
    const urls: [string, string][] = [
      ['admin home (counts)', '/admin'],
      ['subscribers page 1', '/admin/subscribers'],
      ['subscribers search "user0421"', '/admin/subscribers?q=user0421'],
      ['subscribers last page', `/admin/subscribers?offset=${Number(o.subscribers) - 50}`],
      ['API subscribers (50)', '/api/subscribers?limit=50'],
      ['calls page 1 (newest)', '/admin/cdrs'],
      ['calls of one user', '/admin/cdrs?user=user04242'],
      ['calls, number prefix 1212555 (a third of all calls)', '/admin/cdrs?number=1212555'],
      ['calls, number prefix 99999 (no match)', '/admin/cdrs?number=99999'],
      ['calls, one day', '/admin/cdrs?from=2025-06-01&to=2025-06-01'],
      ['calls, page in the middle (keyset)', `/admin/cdrs?before=${midId}`],
      ['missed calls of one user', '/admin/cdrs?kind=missed&user=user04242'],
      ['API calls of one user (100)', '/api/cdrs?user=user04242'],
      ['CSV of one user (all pages)', '/admin/cdrs.csv?user=user04242'],
    ];
    const lines = ['| page / call | median ms | p95 ms | bytes |', '| --- | ---: | ---: | ---: |'];
    for (const [name, path] of urls) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < Number(o.runs) + 2; i++) {
        const t = performance.now();
        const r = await fetch(`${base}${path}`, { headers: { cookie } });
        const body = await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
        // The first two are warm-up (JIT, MariaDB buffer pool).
        if (i >= 2) times.push(performance.now() - t);
        bytes = body.byteLength;
      }
      times.sort((a, b) => a - b);
      lines.push(`| ${name} | ${percentile(times, 50).toFixed(1)} | ${percentile(times, 95).toFixed(1)} | ${bytes} |`);
    }
    process.stdout.write(`\n${lines.join('\n')}\n`);
  } finally {
    portal?.kill('SIGTERM');
    if (!o.keep) mysqlAdminQuery(admin, `DROP DATABASE IF EXISTS ${dbName}`);
    else process.stdout.write(`database kept: ${dbName}\n`);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:portal: ${(err as Error).message}\n`);
  process.exit(1);
});
