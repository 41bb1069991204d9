/**
 * A real FreeRADIUS 3.2 (Debian freeradius) for tests: a generated config directory, an
 * accounting listener on a free loopback port, our dictionary.voip included, every
 * Accounting-Request written to a detail file, and optionally to a MariaDB `radacct` table
 * (stock FreeRADIUS schema) with Acct-Unique-Session-Id taken from Voip-Acct-Unique-Id, so
 * radacct's UNIQUE key stores each record once however often it arrives.
 *
 *   const fr = await startFreeRadius({ secret: 's3cret', database: 'radius_t1' });
 *   ... radius-acct --radius ${fr.address} --secret s3cret ...
 *   fr.readDetail()  // what the server received
 *   await fr.stop(); await fr.start();  // outage
 *   await fr.close();                   // stop + remove the directory
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, ProgramHandle } from '../harness/index.js';

export const FREERADIUS_BIN = '/usr/sbin/freeradius';
export const RADACCT_SCHEMA = '/etc/freeradius/3.0/mods-config/sql/main/mysql/schema.sql';
export const VOIP_DICTIONARY = fileURLToPath(new URL('../../../services/radius-acct/dictionary/dictionary.voip', import.meta.url));

export interface FreeRadiusOptions {
  secret: string;
  /** MariaDB database (must exist, with radacct) for rlm_sql; detail file only when absent. */
  database?: string;
  mysqlHost?: string;
  mysqlPort?: number;
  host?: string;
  /**
   * Start it through this backend (`freeradius` of harness/programs.ts: the local binary, or
   * voip-stack/freeradius:dev in the containers backend). The config directory is then made
   * inside the backend's work directory, which a container sees at the same path.
   */
  lab?: Backend;
}

/** One Accounting-Request as FreeRADIUS logged it in the detail file. */
export interface DetailEntry {
  received: string;
  attrs: Record<string, string>;
}

export interface FreeRadiusServer {
  readonly host: string;
  readonly port: number;
  /** `host:port` for radius-acct's --radius. */
  readonly address: string;
  readonly dir: string;
  readonly detailPath: string;
  running(): boolean;
  start(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  readDetail(): DetailEntry[];
  logTail(): string;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** A UDP port free right now on `host`. */
export async function freeUdpPort(host = '127.0.0.1'): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, resolve));
  const { port } = sock.address();
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  return port;
}

function radiusdConf(dir: string, host: string, port: number, opts: FreeRadiusOptions): string {
  const sql = opts.database === undefined ? '' : `
  sql {
    dialect = "mysql"
    driver = "rlm_sql_mysql"
    mysql {
      warnings = auto
    }
    server = "${opts.mysqlHost ?? '127.0.0.1'}"
    port = ${opts.mysqlPort ?? 3306}
    login = "root"
    password = ""
    radius_db = "${opts.database}"
    acct_table1 = "radacct"
    acct_table2 = "radacct"
    postauth_table = "radpostauth"
    authcheck_table = "radcheck"
    groupcheck_table = "radgroupcheck"
    authreply_table = "radreply"
    groupreply_table = "radgroupreply"
    usergroup_table = "radusergroup"
    read_groups = no
    read_clients = no
    client_table = "nas"
    group_attribute = "SQL-Group"
    sql_user_name = "%{User-Name}"
    pool {
      start = 1
      min = 1
      max = 4
      spare = 1
      uses = 0
      retry_delay = 1
      lifetime = 0
      idle_timeout = 60
    }
    # One radacct row per accounting record, keyed by its stable unique id: INSERT IGNORE
    # makes a record delivered twice (after a restart or a failover) one row.
    accounting {
      reference = "type.%{Acct-Status-Type}.query"
      column_list = "acctsessionid, acctuniqueid, username, nasipaddress, acctstarttime, acctstoptime, acctupdatetime, callingstationid, calledstationid, acctterminatecause, servicetype, connectinfo_start, connectinfo_stop"
      type {
        Start {
          query = "INSERT IGNORE INTO \${....acct_table1} (\${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{User-Name}', '%{%{NAS-IP-Address}:-%{Packet-Src-IP-Address}}', FROM_UNIXTIME(%{integer:Event-Timestamp}), NULL, NOW(), '%{Calling-Station-Id}', '%{Called-Station-Id}', 'Start', '%{Service-Type}', '%{Sip-From-Tag}', '%{Sip-To-Tag}')"
        }
        Stop {
          query = "INSERT IGNORE INTO \${....acct_table1} (\${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{User-Name}', '%{%{NAS-IP-Address}:-%{Packet-Src-IP-Address}}', NULL, FROM_UNIXTIME(%{integer:Event-Timestamp}), NOW(), '%{Calling-Station-Id}', '%{Called-Station-Id}', 'Stop', '%{Service-Type}', '%{Sip-From-Tag}', '%{Sip-To-Tag}')"
        }
        Failed {
          query = "INSERT IGNORE INTO \${....acct_table1} (\${...column_list}) VALUES ('%{Acct-Session-Id}', '%{Acct-Unique-Session-Id}', '%{User-Name}', '%{%{NAS-IP-Address}:-%{Packet-Src-IP-Address}}', NULL, FROM_UNIXTIME(%{integer:Event-Timestamp}), NOW(), '%{Calling-Station-Id}', '%{Called-Station-Id}', 'Failed', '%{Service-Type}', '%{Sip-From-Tag}', '%{Sip-To-Tag}')"
        }
      }
    }
    post-auth {
      reference = ".query"
      query = ""
    }
  }`;
  return `# Generated by integration/src/radius/freeradius.ts
prefix = /usr
exec_prefix = /usr
sysconfdir = /etc
localstatedir = /var
sbindir = /usr/sbin
logdir = ${dir}/log
raddbdir = ${dir}
radacctdir = ${dir}/radacct
name = freeradius
confdir = \${raddbdir}
modconfdir = \${confdir}/mods-config
run_dir = ${dir}/run
db_dir = \${raddbdir}
libdir = /usr/lib/freeradius
pidfile = \${run_dir}/radiusd.pid
max_request_time = 30
cleanup_delay = 5
max_requests = 16384
hostname_lookups = no
log {
  destination = stdout
  stripped_names = no
  auth = no
}
security {
  allow_core_dumps = no
  max_attributes = 200
  reject_delay = 0
  status_server = yes
}
client test {
  ipaddr = ${host}
  secret = ${opts.secret}
  require_message_authenticator = no
}
thread pool {
  start_servers = 2
  max_servers = 4
  min_spare_servers = 1
  max_spare_servers = 2
  max_requests_per_server = 0
}
modules {
  detail {
    filename = \${radacctdir}/detail
    escape_filenames = no
    permissions = 0600
    header = "%t"
    locking = no
  }
${sql}
}
server default {
  listen {
    type = acct
    ipaddr = ${host}
    port = ${port}
  }
  preacct {
    # The record's stable id makes a resent record recognisable (dictionary.voip).
    if (&Voip-Acct-Unique-Id) {
      update request {
        &Acct-Unique-Session-Id := "%{Voip-Acct-Unique-Id}"
      }
    }
  }
  accounting {
    detail
${opts.database === undefined ? '' : '    sql\n'}  }
}
`;
}

/** Parses FreeRADIUS detail file text into entries. */
export function parseDetail(text: string): DetailEntry[] {
  const out: DetailEntry[] = [];
  for (const block of text.split(/\n\n+/)) {
    const lines = block.split('\n').filter((l) => l !== '');
    if (lines.length === 0) continue;
    const attrs: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const m = /^\t([A-Za-z0-9-]{1,64}) = (.*)$/.exec(l);
      if (m !== null) attrs[m[1]] = m[2].startsWith('"') && m[2].endsWith('"') ? m[2].slice(1, -1) : m[2];
    }
    out.push({ received: lines[0], attrs });
  }
  return out;
}

/** What both ways of running it share: the generated directory and the detail file. */
abstract class FreeRadiusBase implements FreeRadiusServer {
  readonly detailPath: string;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly dir: string,
  ) {
    this.detailPath = join(dir, 'radacct', 'detail');
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  abstract running(): boolean;
  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;
  abstract logTail(): string;

  readDetail(): DetailEntry[] {
    return existsSync(this.detailPath) ? parseDetail(readFileSync(this.detailPath, 'utf8')) : [];
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The arguments of a foreground run on the generated directory. */
function freeradiusArgs(dir: string): string[] {
  return ['-f', '-l', 'stdout', '-d', dir];
}
const READY = 'Ready to process requests';

class FreeRadiusProcess extends FreeRadiusBase {
  private child: ChildProcess | null = null;
  private log = '';

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const child = spawn(FREERADIUS_BIN, freeradiusArgs(this.dir), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        this.log = (this.log + chunk.toString()).slice(-32 * 1024);
        if (this.log.includes(READY)) resolve();
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', (code) => reject(new Error(`freeradius exited (${code}) before it was ready:\n${this.log}`)));
      child.once('error', reject);
    });
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`freeradius not ready in 15 s:\n${this.log}`)), 15_000).unref());
    try {
      await Promise.race([ready, timeout]);
    } catch (err) {
      child.kill('SIGKILL');
      throw err;
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === null || !this.running()) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
    this.child = null;
  }

  logTail(): string {
    return this.log;
  }
}

/** FreeRADIUS started through a backend (Backend.startProgram('freeradius')). */
class FreeRadiusProgram extends FreeRadiusBase {
  private handle: ProgramHandle | null = null;

  constructor(
    private readonly lab: Backend,
    host: string,
    port: number,
    dir: string,
  ) {
    super(host, port, dir);
  }

  running(): boolean {
    return this.handle !== null && this.handle.alive();
  }

  async start(): Promise<void> {
    if (this.running()) return;
    this.handle = await this.lab.startProgram('freeradius', freeradiusArgs(this.dir), {
      readyPattern: new RegExp(READY),
      // A container's first start (image check, engine) takes longer than a local spawn.
      readyTimeoutMs: this.lab.name === 'native' ? 15_000 : 60_000,
    });
  }

  async stop(): Promise<void> {
    await this.handle?.stop();
    this.handle = null;
  }

  logTail(): string {
    return this.handle?.logTail(32 * 1024) ?? '';
  }
}

/**
 * Generates a config directory and starts FreeRADIUS on a free loopback port: a local
 * process, or through `opts.lab` (in its image in the containers backend).
 */
export async function startFreeRadius(opts: FreeRadiusOptions): Promise<FreeRadiusServer> {
  const host = opts.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(opts.lab?.workDir.path ?? tmpdir(), 'freeradius-'));
  for (const d of ['log', 'radacct', 'run']) mkdirSync(join(dir, d));
  // Our dictionary is copied in: a container sees this directory, not the repository's services/.
  copyFileSync(VOIP_DICTIONARY, join(dir, 'dictionary.voip'));
  writeFileSync(join(dir, 'dictionary'), `$INCLUDE ${join(dir, 'dictionary.voip')}\n`);
  const port = await freeUdpPort(host);
  writeFileSync(join(dir, 'radiusd.conf'), radiusdConf(dir, host, port, opts));
  const server = opts.lab === undefined ? new FreeRadiusProcess(host, port, dir) : new FreeRadiusProgram(opts.lab, host, port, dir);
  try {
    await server.start();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
