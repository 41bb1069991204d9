/**
 * MySQL / MariaDB Storage over Kamailio 5.x tables (mysql2): one connection pool, prepared
 * statements (`execute`) for every fixed-shape query, client-side escaped multi-row statements
 * for batches, start-up connect with exponential back-off, one retry when a pooled connection
 * turns out to be dead, and coded errors with a one-line reason (unreachable, access denied,
 * no such database, schema missing).
 */
import { ACC_EXTRA_COLUMNS, ACC_SCHEMA_SQL, ACC_TABLE, ACC_TABLE_VERSIONS, MISSED_CALLS_TABLE } from '@voip/acc';
import { createPool, type Pool, type PoolConnection, type ResultSetHeader, type RowDataPacket } from 'mysql2/promise';
import { describeDbUrl, type MysqlUrl } from './db-url.js';
import { EXTENSION_COLUMNS, EXTENSION_INDEXES, readSchemaBlocks } from './mysql-schema.js';
import { silentStorageLogger, type StorageLogger } from './storage-logger.js';
import { StorageError } from './storage-error.js';
import type {
  AddressRepository,
  AddressRow,
  AliasRepository,
  AliasRow,
  DialplanRepository,
  DialplanRow,
  DomainRepository,
  DomainRow,
  GroupRepository,
  GroupRow,
  LcrGatewayRow,
  LcrRepository,
  LcrRuleRow,
  LcrRuleTargetRow,
  LocationRepository,
  LocationRow,
  NewRow,
  PreferenceRepository,
  PreferenceRow,
  SchemaReport,
  SpeedDialRepository,
  SpeedDialRow,
  Storage,
  Subscriber,
  SubscriberRepository,
  TrustedRepository,
  TrustedRow,
} from './storage.js';

export interface MysqlStorageOptions {
  logger?: StorageLogger;
  /** Start-up attempts before giving up with STORAGE_ERR_UNREACHABLE (1 = no retry). */
  connectAttempts?: number;
  /** First back-off delay; doubles per attempt up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Pending queries beyond the pool size before new ones fail fast (bounded memory under load). */
  queueLimit?: number;
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE']);
/** Errors that mean the pooled connection died: the query is retried once on a fresh one. */
const RETRYABLE_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ER_CON_COUNT_ERROR']);

/** Multi-row statements are cut into chunks of this many rows (max_allowed_packet stays far). */
const BATCH_ROWS = 500;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function errCode(err: unknown): string {
  return (err as { code?: unknown }).code?.toString() ?? '';
}

/** Kamailio writes DATETIME in the server's local time; mysql2's 'local' timezone does the same. */
function toDate(ms: number): Date {
  // usrloc stores a permanent binding (expires 0) as the epoch's zero DATETIME.
  return ms === 0 ? new Date(1970, 0, 1, 0, 0, 0) : new Date(ms);
}

function fromDate(v: unknown): number {
  if (!(v instanceof Date)) return 0;
  const t = v.getTime();
  if (Number.isNaN(t)) return 0;
  return v.getFullYear() <= 1970 ? 0 : t;
}

const LOCATION_COLUMNS = [
  'ruid', 'username', 'domain', 'contact', 'received', 'path', 'expires', 'q', 'callid', 'cseq', 'last_modified',
  'flags', 'cflags', 'user_agent', 'socket', 'methods', 'instance', 'reg_id', 'server_id', 'connection_id', 'keepalive', 'partition',
] as const;
const LOCATION_COLUMN_LIST = LOCATION_COLUMNS.map((c) => `\`${c}\``).join(', ');
const LOCATION_UPDATE_LIST = LOCATION_COLUMNS.filter((c) => c !== 'ruid')
  .map((c) => `\`${c}\` = VALUES(\`${c}\`)`)
  .join(', ');
const LOCATION_UPSERT_ONE = `INSERT INTO location (${LOCATION_COLUMN_LIST}) VALUES (${LOCATION_COLUMNS.map(() => '?').join(', ')}) ON DUPLICATE KEY UPDATE ${LOCATION_UPDATE_LIST}`;

function locationValues(r: LocationRow): unknown[] {
  return [
    r.ruid, r.username, r.domain, r.contact, r.received, r.path, toDate(r.expires), r.q, r.callid, r.cseq, toDate(r.lastModified),
    r.flags, r.cflags, r.userAgent, r.socket, r.methods, r.instance, r.regId, r.serverId, r.connectionId, r.keepalive, r.partition,
  ];
}

function locationRow(x: RowDataPacket): LocationRow {
  return {
    ruid: String(x.ruid),
    username: String(x.username),
    domain: x.domain === null ? null : String(x.domain),
    contact: String(x.contact),
    received: x.received === null ? null : String(x.received),
    path: x.path === null ? null : String(x.path),
    expires: fromDate(x.expires),
    q: Math.round(Number(x.q) * 100) / 100,
    callid: String(x.callid),
    cseq: Number(x.cseq),
    lastModified: fromDate(x.last_modified),
    flags: Number(x.flags),
    cflags: Number(x.cflags),
    userAgent: String(x.user_agent),
    socket: x.socket === null ? null : String(x.socket),
    methods: x.methods === null ? null : Number(x.methods),
    instance: x.instance === null ? null : String(x.instance),
    regId: Number(x.reg_id),
    serverId: Number(x.server_id),
    connectionId: Number(x.connection_id),
    keepalive: Number(x.keepalive),
    partition: Number(x.partition),
  };
}

export class MysqlStorage implements Storage {
  readonly kind = 'mysql';
  readonly description: string;
  readonly subscribers: SubscriberRepository;
  readonly aliases: AliasRepository;
  readonly domains: DomainRepository;
  readonly groups: GroupRepository;
  readonly preferences: PreferenceRepository;
  readonly location: LocationRepository;
  readonly trusted: TrustedRepository;
  readonly addresses: AddressRepository;
  readonly lcr: LcrRepository;
  readonly speedDial: SpeedDialRepository;
  readonly dialplan: DialplanRepository;
  /** Whether subscriber has our email_address column (absent in a kamdbctl-created database). */
  hasEmailColumn = false;
  private readonly pool: Pool;
  private readonly log: StorageLogger;
  private closed = false;

  private constructor(
    private readonly url: MysqlUrl,
    opts: MysqlStorageOptions,
  ) {
    this.description = describeDbUrl(url);
    this.log = opts.logger ?? silentStorageLogger;
    this.pool = createPool({
      host: url.host,
      port: url.port,
      user: url.user,
      password: url.password,
      database: url.database,
      connectionLimit: url.connectionLimit,
      waitForConnections: true,
      queueLimit: opts.queueLimit ?? 10_000,
      connectTimeout: 5_000,
      enableKeepAlive: true,
      timezone: 'local',
      charset: 'utf8mb4',
      // mysql2 otherwise captures a stack trace for every query (a third of its per-query CPU
      // on the provider route); mapError names the failed operation, which is what an operator reads.
      trace: false,
    });
    // Idle pooled connections that die emit 'error' on the connection; the pool drops them.
    this.pool.on('connection', (c) => {
      c.on('error', (err: unknown) => this.log.warn({ code: errCode(err) }, 'mysql connection lost; the pool will open a new one'));
    });
    this.subscribers = new MysqlSubscribers(this);
    this.aliases = new MysqlAliases(this);
    this.domains = new MysqlDomains(this);
    this.groups = new MysqlGroups(this);
    this.preferences = new MysqlPreferences(this);
    this.location = new MysqlLocation(this);
    this.trusted = new MysqlTrusted(this);
    this.addresses = new MysqlAddresses(this);
    this.lcr = new MysqlLcr(this);
    this.speedDial = new MysqlSpeedDial(this);
    this.dialplan = new MysqlDialplan(this);
  }

  /**
   * Opens the pool and waits until the server answers, retrying with exponential back-off.
   * Access denied and unknown database are not retried: waiting does not fix them.
   */
  static async connect(url: MysqlUrl, opts: MysqlStorageOptions = {}): Promise<MysqlStorage> {
    const s = new MysqlStorage(url, opts);
    const attempts = Math.max(1, opts.connectAttempts ?? 5);
    let delay = opts.initialBackoffMs ?? 200;
    const maxDelay = opts.maxBackoffMs ?? 5_000;
    for (let i = 1; ; i++) {
      try {
        const c = await s.pool.getConnection();
        try {
          await c.ping();
        } finally {
          c.release();
        }
        break;
      } catch (err) {
        const mapped = s.mapError(err, 'connect');
        if (mapped.code !== 'STORAGE_ERR_UNREACHABLE' || i >= attempts) {
          await s.pool.end().catch(() => undefined);
          throw mapped;
        }
        s.log.warn({ attempt: i, of: attempts, retryInMs: delay, code: errCode(err) }, `${s.description} not reachable yet; retrying`);
        await sleep(delay);
        delay = Math.min(maxDelay, delay * 2);
      }
    }
    await s.detectColumns();
    return s;
  }

  /** Turns a mysql2/net error into a coded StorageError with one line an operator can act on. */
  mapError(err: unknown, what: string): StorageError {
    if (err instanceof StorageError) return err;
    const code = errCode(err);
    const msg = (err as Error).message?.split('\n')[0] ?? String(err);
    const where = this.description;
    if (UNREACHABLE_CODES.has(code) || /connect ETIMEDOUT|Pool is closed/.test(msg)) {
      return new StorageError('STORAGE_ERR_UNREACHABLE', `cannot reach database ${where}: ${code || msg}`, { cause: err });
    }
    if (code === 'ER_ACCESS_DENIED_ERROR' || code === 'ER_DBACCESS_DENIED_ERROR' || code === 'ER_TABLEACCESS_DENIED_ERROR') {
      return new StorageError('STORAGE_ERR_ACCESS_DENIED', `database ${where} refused access: ${msg}`, { cause: err });
    }
    if (code === 'ER_BAD_DB_ERROR') {
      return new StorageError('STORAGE_ERR_NO_DATABASE', `database ${this.url.database} does not exist on ${this.url.host}:${this.url.port} (create it, then run sipctl db init)`, { cause: err });
    }
    if (code === 'ER_NO_SUCH_TABLE' || code === 'ER_BAD_FIELD_ERROR') {
      return new StorageError('STORAGE_ERR_SCHEMA', `schema problem in ${where} (${msg}); run sipctl db init`, { cause: err });
    }
    if (code === 'ER_DUP_ENTRY') return new StorageError('STORAGE_ERR_DUPLICATE', `${what}: already exists`, { cause: err });
    if (code === 'ER_DATA_TOO_LONG' || code === 'ER_TRUNCATED_WRONG_VALUE') {
      return new StorageError('STORAGE_ERR_INVALID', `${what}: ${msg}`, { cause: err });
    }
    return new StorageError('STORAGE_ERR_QUERY', `${what} failed on ${where}: ${msg}`, { cause: err });
  }

  /** Prepared statement; retried once when the pooled connection had died. */
  async execute<T extends RowDataPacket[] | ResultSetHeader>(sql: string, params: unknown[], what: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [rows] = await this.pool.execute<T>(sql, params as never);
        return rows;
      } catch (err) {
        if (attempt === 1 && RETRYABLE_CODES.has(errCode(err)) && !this.closed) continue;
        throw this.mapError(err, what);
      }
    }
  }

  /** Client-side escaped statement for variable-length batches (prepared statements are cached per text). */
  async query<T extends RowDataPacket[] | ResultSetHeader>(sql: string, params: unknown[], what: string): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const [rows] = await this.pool.query<T>(sql, params);
        return rows;
      } catch (err) {
        if (attempt === 1 && RETRYABLE_CODES.has(errCode(err)) && !this.closed) continue;
        throw this.mapError(err, what);
      }
    }
  }

  /**
   * Runs `fn` in one transaction on one pooled connection (removals that span two tables, like
   * a gateway and its rule targets); rolled back when `fn` throws.
   */
  async transaction<T>(what: string, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (err) {
      throw this.mapError(err, what);
    }
    try {
      await conn.beginTransaction();
      const r = await fn(conn);
      await conn.commit();
      return r;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw this.mapError(err, what);
    } finally {
      conn.release();
    }
  }

  private async detectColumns(): Promise<void> {
    const rows = await this.execute<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [this.url.database, 'subscriber'],
      'reading the subscriber columns',
    );
    this.hasEmailColumn = rows.some((r) => String(r.c).toLowerCase() === 'email_address');
  }

  async initSchema(): Promise<SchemaReport> {
    const report: SchemaReport = { created: [], existing: [], altered: [] };
    let conn: PoolConnection;
    try {
      conn = await this.pool.getConnection();
    } catch (err) {
      throw this.mapError(err, 'db init');
    }
    try {
      const [tables] = await conn.query<RowDataPacket[]>('SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [this.url.database]);
      const present = new Set(tables.map((r) => String(r.t).toLowerCase()));
      for (const block of readSchemaBlocks()) {
        if (present.has(block.table.toLowerCase())) {
          report.existing.push(block.table);
          continue;
        }
        for (const st of block.statements) await conn.query(st);
        report.created.push(block.table);
      }
      // Database accounting (issue 5): Kamailio's acc and missed_calls, their version rows, and
      // our db_extra columns on tables kamdbctl created without them.
      for (const table of [ACC_TABLE, MISSED_CALLS_TABLE]) {
        if (present.has(table)) {
          report.existing.push(table);
          for (const extra of ACC_EXTRA_COLUMNS) {
            const [cols] = await conn.query<RowDataPacket[]>(
              'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?',
              [this.url.database, table, extra.column],
            );
            if (cols.length === 0) {
              await conn.query(extra.ddl(table));
              report.altered.push(`${table}.${extra.column}`);
            }
          }
        } else {
          report.created.push(table);
        }
      }
      for (const st of ACC_SCHEMA_SQL) await conn.query(st);
      for (const v of ACC_TABLE_VERSIONS) {
        await conn.query('INSERT INTO version (table_name, table_version) SELECT ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM version WHERE table_name = ?)', [v.table_name, v.table_version, v.table_name]);
      }
      for (const ext of EXTENSION_COLUMNS) {
        const [cols] = await conn.query<RowDataPacket[]>(
          'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?',
          [this.url.database, ext.table, ext.column],
        );
        if (cols.length === 0) {
          await conn.query(ext.ddl);
          report.altered.push(`${ext.table}.${ext.column}`);
        }
      }
      for (const ix of EXTENSION_INDEXES) {
        const [idx] = await conn.query<RowDataPacket[]>(
          'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = ? LIMIT 1',
          [this.url.database, ix.table, ix.index],
        );
        if (idx.length === 0) {
          await conn.query(ix.ddl);
          // A table created just now is reported as created; only a completed one lists its additions.
          if (present.has(ix.table)) report.altered.push(`${ix.table}.${ix.index}`);
        }
      }
    } catch (err) {
      throw this.mapError(err, 'db init');
    } finally {
      conn.release();
    }
    await this.detectColumns();
    this.log.info({ ...report }, `schema ready in ${this.description}`);
    return report;
  }

  async versions(): Promise<Map<string, number>> {
    const rows = await this.execute<RowDataPacket[]>('SELECT table_name, table_version FROM version', [], 'reading table versions');
    return new Map(rows.map((r) => [String(r.table_name), Number(r.table_version)]));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

class MysqlSubscribers implements SubscriberRepository {
  constructor(private readonly db: MysqlStorage) {}

  private columns(): string {
    return this.db.hasEmailColumn ? 'username, domain, password, ha1, ha1b, email_address' : 'username, domain, password, ha1, ha1b';
  }

  private row(x: RowDataPacket): Subscriber {
    return {
      username: String(x.username),
      domain: String(x.domain),
      password: String(x.password),
      ha1: String(x.ha1),
      ha1b: String(x.ha1b),
      emailAddress: this.db.hasEmailColumn ? String(x.email_address) : null,
    };
  }

  async get(username: string, domain: string): Promise<Subscriber | null> {
    const rows = await this.db.execute<RowDataPacket[]>(
      `SELECT ${this.columns()} FROM subscriber WHERE username = ? AND domain = ? LIMIT 1`,
      [username, domain],
      `reading subscriber ${username}@${domain}`,
    );
    return rows.length > 0 ? this.row(rows[0]!) : null;
  }

  async add(s: Subscriber): Promise<void> {
    try {
      if (this.db.hasEmailColumn) {
        await this.db.execute<ResultSetHeader>(
          'INSERT INTO subscriber (username, domain, password, ha1, ha1b, email_address) VALUES (?, ?, ?, ?, ?, ?)',
          [s.username, s.domain, s.password, s.ha1, s.ha1b, s.emailAddress ?? ''],
          `adding subscriber ${s.username}@${s.domain}`,
        );
      } else {
        if (s.emailAddress) {
          throw new StorageError('STORAGE_ERR_SCHEMA', 'subscriber has no email_address column (Kamailio 5.x schema); run sipctl db init to add it');
        }
        await this.db.execute<ResultSetHeader>(
          'INSERT INTO subscriber (username, domain, password, ha1, ha1b) VALUES (?, ?, ?, ?, ?)',
          [s.username, s.domain, s.password, s.ha1, s.ha1b],
          `adding subscriber ${s.username}@${s.domain}`,
        );
      }
    } catch (err) {
      if (err instanceof StorageError && err.code === 'STORAGE_ERR_DUPLICATE') {
        throw new StorageError('STORAGE_ERR_DUPLICATE', `subscriber ${s.username}@${s.domain} already exists`);
      }
      throw err;
    }
  }

  async setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>(
      'UPDATE subscriber SET password = ?, ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?',
      [password, ha1, ha1b, username, domain],
      `changing the password of ${username}@${domain}`,
    );
    return r.affectedRows > 0;
  }

  async remove(username: string, domain: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM subscriber WHERE username = ? AND domain = ?', [username, domain], `removing ${username}@${domain}`);
    return r.affectedRows > 0;
  }

  async list(domain?: string): Promise<Subscriber[]> {
    const rows =
      domain === undefined
        ? await this.db.execute<RowDataPacket[]>(`SELECT ${this.columns()} FROM subscriber ORDER BY domain, username`, [], 'listing subscribers')
        : await this.db.execute<RowDataPacket[]>(`SELECT ${this.columns()} FROM subscriber WHERE domain = ? ORDER BY username`, [domain], 'listing subscribers');
    return rows.map((r) => this.row(r));
  }
}

function aliasRow(x: RowDataPacket): AliasRow {
  return { aliasUsername: String(x.alias_username), aliasDomain: String(x.alias_domain), username: String(x.username), domain: String(x.domain) };
}

class MysqlAliases implements AliasRepository {
  constructor(private readonly db: MysqlStorage) {}

  async resolve(aliasUsername: string, aliasDomain: string): Promise<AliasRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>(
      'SELECT alias_username, alias_domain, username, domain FROM dbaliases WHERE alias_username = ? AND alias_domain = ? ORDER BY id',
      [aliasUsername, aliasDomain],
      `looking up alias ${aliasUsername}@${aliasDomain}`,
    );
    return rows.map(aliasRow);
  }

  async add(row: AliasRow): Promise<void> {
    // dbaliases has no unique key (alias_db may fork); refuse exact duplicates ourselves.
    const dup = await this.db.execute<RowDataPacket[]>(
      'SELECT id FROM dbaliases WHERE alias_username = ? AND alias_domain = ? AND username = ? AND domain = ? LIMIT 1',
      [row.aliasUsername, row.aliasDomain, row.username, row.domain],
      'checking alias',
    );
    if (dup.length > 0) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `alias ${row.aliasUsername}@${row.aliasDomain} -> ${row.username}@${row.domain} already exists`);
    }
    await this.db.execute<ResultSetHeader>(
      'INSERT INTO dbaliases (alias_username, alias_domain, username, domain) VALUES (?, ?, ?, ?)',
      [row.aliasUsername, row.aliasDomain, row.username, row.domain],
      `adding alias ${row.aliasUsername}@${row.aliasDomain}`,
    );
  }

  async remove(aliasUsername: string, aliasDomain: string): Promise<number> {
    const r = await this.db.execute<ResultSetHeader>(
      'DELETE FROM dbaliases WHERE alias_username = ? AND alias_domain = ?',
      [aliasUsername, aliasDomain],
      `removing alias ${aliasUsername}@${aliasDomain}`,
    );
    return r.affectedRows;
  }

  async list(target?: { username: string; domain: string }): Promise<AliasRow[]> {
    const rows =
      target === undefined
        ? await this.db.execute<RowDataPacket[]>('SELECT alias_username, alias_domain, username, domain FROM dbaliases ORDER BY alias_domain, alias_username, id', [], 'listing aliases')
        : await this.db.execute<RowDataPacket[]>(
            'SELECT alias_username, alias_domain, username, domain FROM dbaliases WHERE username = ? AND domain = ? ORDER BY alias_domain, alias_username, id',
            [target.username, target.domain],
            'listing aliases',
          );
    return rows.map(aliasRow);
  }
}

class MysqlDomains implements DomainRepository {
  constructor(private readonly db: MysqlStorage) {}

  async list(): Promise<DomainRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT domain, did, last_modified FROM domain ORDER BY domain', [], 'listing domains');
    return rows.map((x) => ({ domain: String(x.domain), did: x.did === null ? null : String(x.did), lastModified: fromDate(x.last_modified) }));
  }

  async add(domain: string, did: string | null = null): Promise<void> {
    try {
      await this.db.execute<ResultSetHeader>('INSERT INTO domain (domain, did, last_modified) VALUES (?, ?, NOW())', [domain, did], `adding domain ${domain}`);
    } catch (err) {
      if (err instanceof StorageError && err.code === 'STORAGE_ERR_DUPLICATE') throw new StorageError('STORAGE_ERR_DUPLICATE', `domain ${domain} already exists`);
      throw err;
    }
  }

  async remove(domain: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM domain WHERE domain = ?', [domain], `removing domain ${domain}`);
    return r.affectedRows > 0;
  }
}

class MysqlGroups implements GroupRepository {
  constructor(private readonly db: MysqlStorage) {}

  async groupsOf(username: string, domain: string): Promise<string[]> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT grp FROM grp WHERE username = ? AND domain = ? ORDER BY grp', [username, domain], `reading groups of ${username}@${domain}`);
    return rows.map((r) => String(r.grp));
  }

  async grant(username: string, domain: string, grp: string): Promise<void> {
    try {
      await this.db.execute<ResultSetHeader>(
        'INSERT INTO grp (username, domain, grp, last_modified) VALUES (?, ?, ?, NOW())',
        [username, domain, grp],
        `granting ${grp} to ${username}@${domain}`,
      );
    } catch (err) {
      if (err instanceof StorageError && err.code === 'STORAGE_ERR_DUPLICATE') throw new StorageError('STORAGE_ERR_DUPLICATE', `${username}@${domain} is already in group ${grp}`);
      throw err;
    }
  }

  async revoke(username: string, domain: string, grp?: string): Promise<number> {
    const r =
      grp === undefined
        ? await this.db.execute<ResultSetHeader>('DELETE FROM grp WHERE username = ? AND domain = ?', [username, domain], `revoking groups of ${username}@${domain}`)
        : await this.db.execute<ResultSetHeader>('DELETE FROM grp WHERE username = ? AND domain = ? AND grp = ?', [username, domain, grp], `revoking ${grp} of ${username}@${domain}`);
    return r.affectedRows;
  }

  async list(account?: { username: string; domain: string }): Promise<GroupRow[]> {
    const rows =
      account === undefined
        ? await this.db.execute<RowDataPacket[]>('SELECT username, domain, grp, last_modified FROM grp ORDER BY domain, username, grp', [], 'listing groups')
        : await this.db.execute<RowDataPacket[]>(
            'SELECT username, domain, grp, last_modified FROM grp WHERE username = ? AND domain = ? ORDER BY grp',
            [account.username, account.domain],
            'listing groups',
          );
    return rows.map((x) => ({ username: String(x.username), domain: String(x.domain), grp: String(x.grp), lastModified: fromDate(x.last_modified) }));
  }
}

class MysqlPreferences implements PreferenceRepository {
  constructor(private readonly db: MysqlStorage) {}

  async list(filter: { username?: string; domain?: string; attribute?: string } = {}): Promise<PreferenceRow[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.username !== undefined) {
      where.push('username = ?');
      params.push(filter.username);
    }
    if (filter.domain !== undefined) {
      where.push('domain = ?');
      params.push(filter.domain);
    }
    if (filter.attribute !== undefined) {
      where.push('attribute = ?');
      params.push(filter.attribute);
    }
    const rows = await this.db.execute<RowDataPacket[]>(
      `SELECT uuid, username, domain, attribute, type, value, last_modified FROM usr_preferences${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY domain, username, attribute, id`,
      params,
      'listing preferences',
    );
    return rows.map((x) => ({
      uuid: String(x.uuid),
      username: String(x.username),
      domain: String(x.domain),
      attribute: String(x.attribute),
      type: Number(x.type),
      value: String(x.value),
      lastModified: fromDate(x.last_modified),
    }));
  }

  async add(row: Omit<PreferenceRow, 'lastModified'>): Promise<void> {
    await this.db.execute<ResultSetHeader>(
      'INSERT INTO usr_preferences (uuid, username, domain, attribute, type, value, last_modified) VALUES (?, ?, ?, ?, ?, ?, NOW())',
      [row.uuid, row.username, row.domain, row.attribute, row.type, row.value],
      `adding preference ${row.attribute} of ${row.username}@${row.domain}`,
    );
  }

  async remove(username: string, domain: string, attribute?: string): Promise<number> {
    const r =
      attribute === undefined
        ? await this.db.execute<ResultSetHeader>('DELETE FROM usr_preferences WHERE username = ? AND domain = ?', [username, domain], 'removing preferences')
        : await this.db.execute<ResultSetHeader>('DELETE FROM usr_preferences WHERE username = ? AND domain = ? AND attribute = ?', [username, domain, attribute], 'removing preferences');
    return r.affectedRows;
  }
}

class MysqlLocation implements LocationRepository {
  constructor(private readonly db: MysqlStorage) {}

  async upsert(row: LocationRow): Promise<void> {
    await this.db.execute<ResultSetHeader>(LOCATION_UPSERT_ONE, locationValues(row), `saving binding ${row.ruid}`);
  }

  async upsertMany(rows: readonly LocationRow[]): Promise<void> {
    for (let i = 0; i < rows.length; i += BATCH_ROWS) {
      const chunk = rows.slice(i, i + BATCH_ROWS);
      await this.db.query<ResultSetHeader>(
        `INSERT INTO location (${LOCATION_COLUMN_LIST}) VALUES ? ON DUPLICATE KEY UPDATE ${LOCATION_UPDATE_LIST}`,
        [chunk.map(locationValues)],
        `saving ${chunk.length} bindings`,
      );
    }
  }

  async remove(ruid: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM location WHERE ruid = ?', [ruid], `deleting binding ${ruid}`);
    return r.affectedRows > 0;
  }

  async removeMany(ruids: readonly string[]): Promise<number> {
    let n = 0;
    for (let i = 0; i < ruids.length; i += BATCH_ROWS) {
      const chunk = ruids.slice(i, i + BATCH_ROWS);
      const r = await this.db.query<ResultSetHeader>('DELETE FROM location WHERE ruid IN (?)', [chunk], `deleting ${chunk.length} bindings`);
      n += r.affectedRows;
    }
    return n;
  }

  async byAor(username: string, domain: string | null): Promise<LocationRow[]> {
    const rows =
      domain === null
        ? await this.db.execute<RowDataPacket[]>(`SELECT ${LOCATION_COLUMN_LIST} FROM location WHERE username = ? AND domain IS NULL`, [username], `reading bindings of ${username}`)
        : await this.db.execute<RowDataPacket[]>(`SELECT ${LOCATION_COLUMN_LIST} FROM location WHERE username = ? AND domain = ?`, [username, domain], `reading bindings of ${username}@${domain}`);
    return rows.map(locationRow);
  }

  async live(now: number): Promise<LocationRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>(
      `SELECT ${LOCATION_COLUMN_LIST} FROM location WHERE expires > ? OR expires <= ?`,
      [new Date(now), new Date(1970, 0, 2)],
      'loading bindings',
    );
    return rows.map(locationRow);
  }

  async removeExpired(now: number): Promise<number> {
    const r = await this.db.execute<ResultSetHeader>(
      'DELETE FROM location WHERE expires <= ? AND expires > ?',
      [new Date(now), new Date(1970, 0, 2)],
      'deleting expired bindings',
    );
    return r.affectedRows;
  }
}

/** A nullable VARCHAR column as string | null. */
function str(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}

/** A nullable integer column as number | null. */
function num(v: unknown): number | null {
  return v === null || v === undefined ? null : Number(v);
}

/** A duplicate-key failure re-worded for the row at hand; other errors pass unchanged. */
function renameDuplicate(err: unknown, message: string): unknown {
  return err instanceof StorageError && err.code === 'STORAGE_ERR_DUPLICATE' ? new StorageError('STORAGE_ERR_DUPLICATE', message, { cause: err }) : err;
}

const TRUSTED_COLUMNS = 'id, src_ip, proto, from_pattern, ruri_pattern, tag, priority';

function trustedRow(x: RowDataPacket): TrustedRow {
  return {
    id: Number(x.id),
    srcIp: String(x.src_ip),
    proto: String(x.proto).toLowerCase(),
    fromPattern: str(x.from_pattern),
    ruriPattern: str(x.ruri_pattern),
    tag: str(x.tag),
    priority: Number(x.priority),
  };
}

class MysqlTrusted implements TrustedRepository {
  constructor(private readonly db: MysqlStorage) {}

  async list(): Promise<TrustedRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>(`SELECT ${TRUSTED_COLUMNS} FROM trusted ORDER BY id`, [], 'listing trusted peers');
    return rows.map(trustedRow);
  }

  async add(row: NewRow<TrustedRow>): Promise<number> {
    // No unique key in Kamailio's table (several patterns per peer are legal); an identical row
    // would only shadow the first, so it is refused. `<=>` compares NULL patterns as equal.
    const dup = await this.db.execute<RowDataPacket[]>(
      'SELECT id FROM trusted WHERE src_ip = ? AND proto = ? AND from_pattern <=> ? AND ruri_pattern <=> ? LIMIT 1',
      [row.srcIp, row.proto, row.fromPattern, row.ruriPattern],
      'checking trusted peer',
    );
    if (dup.length > 0) {
      throw new StorageError('STORAGE_ERR_DUPLICATE', `trusted peer ${row.srcIp} (${row.proto}${row.fromPattern === null ? '' : `, ${row.fromPattern}`}) already exists`);
    }
    const r = await this.db.execute<ResultSetHeader>(
      'INSERT INTO trusted (src_ip, proto, from_pattern, ruri_pattern, tag, priority) VALUES (?, ?, ?, ?, ?, ?)',
      [row.srcIp, row.proto, row.fromPattern, row.ruriPattern, row.tag, row.priority],
      `adding trusted peer ${row.srcIp}`,
    );
    return r.insertId;
  }

  async removeBySrcIp(srcIp: string): Promise<number> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM trusted WHERE src_ip = ?', [srcIp], `removing trusted peer ${srcIp}`);
    return r.affectedRows;
  }
}

class MysqlAddresses implements AddressRepository {
  constructor(private readonly db: MysqlStorage) {}

  async list(): Promise<AddressRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT id, grp, ip_addr, mask, port, tag FROM address ORDER BY id', [], 'listing addresses');
    return rows.map((x) => ({ id: Number(x.id), grp: Number(x.grp), ipAddr: String(x.ip_addr), mask: Number(x.mask), port: Number(x.port), tag: str(x.tag) }));
  }

  async add(row: NewRow<AddressRow>): Promise<number> {
    const dup = await this.db.execute<RowDataPacket[]>(
      'SELECT id FROM address WHERE grp = ? AND ip_addr = ? AND mask = ? AND port = ? LIMIT 1',
      [row.grp, row.ipAddr, row.mask, row.port],
      'checking address',
    );
    if (dup.length > 0) throw new StorageError('STORAGE_ERR_DUPLICATE', `address ${row.ipAddr}/${row.mask} port ${row.port} is already in group ${row.grp}`);
    const r = await this.db.execute<ResultSetHeader>(
      'INSERT INTO address (grp, ip_addr, mask, port, tag) VALUES (?, ?, ?, ?, ?)',
      [row.grp, row.ipAddr, row.mask, row.port, row.tag],
      `adding address ${row.ipAddr}/${row.mask}`,
    );
    return r.insertId;
  }

  async remove(id: number): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM address WHERE id = ?', [id], `removing address ${id}`);
    return r.affectedRows > 0;
  }
}

const LCR_GW_COLUMNS = 'id, lcr_id, gw_name, ip_addr, hostname, port, params, uri_scheme, transport, strip, prefix, tag, flags, defunct';

function lcrGatewayRow(x: RowDataPacket): LcrGatewayRow {
  return {
    id: Number(x.id),
    lcrId: Number(x.lcr_id),
    gwName: str(x.gw_name),
    ipAddr: str(x.ip_addr),
    hostname: str(x.hostname),
    port: num(x.port),
    params: str(x.params),
    uriScheme: num(x.uri_scheme),
    transport: num(x.transport),
    strip: num(x.strip),
    prefix: str(x.prefix),
    tag: str(x.tag),
    flags: Number(x.flags),
    defunct: num(x.defunct),
  };
}

class MysqlLcr implements LcrRepository {
  constructor(private readonly db: MysqlStorage) {}

  async gateways(): Promise<LcrGatewayRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>(`SELECT ${LCR_GW_COLUMNS} FROM lcr_gw ORDER BY id`, [], 'loading lcr_gw');
    return rows.map(lcrGatewayRow);
  }

  async rules(): Promise<LcrRuleRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>(
      'SELECT id, lcr_id, prefix, from_uri, request_uri, mt_tvalue, stopper, enabled FROM lcr_rule ORDER BY id',
      [],
      'loading lcr_rule',
    );
    return rows.map((x) => ({
      id: Number(x.id),
      lcrId: Number(x.lcr_id),
      prefix: str(x.prefix),
      fromUri: str(x.from_uri),
      requestUri: str(x.request_uri),
      mtTvalue: str(x.mt_tvalue),
      stopper: Number(x.stopper),
      enabled: Number(x.enabled),
    }));
  }

  async targets(): Promise<LcrRuleTargetRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT id, lcr_id, rule_id, gw_id, priority, weight FROM lcr_rule_target ORDER BY id', [], 'loading lcr_rule_target');
    return rows.map((x) => ({ id: Number(x.id), lcrId: Number(x.lcr_id), ruleId: Number(x.rule_id), gwId: Number(x.gw_id), priority: Number(x.priority), weight: Number(x.weight) }));
  }

  async addGateway(row: NewRow<LcrGatewayRow>): Promise<number> {
    // lcr_gw has no unique key on gw_name; sipctl and the route address gateways by name.
    if (row.gwName !== null) {
      const dup = await this.db.execute<RowDataPacket[]>('SELECT id FROM lcr_gw WHERE lcr_id = ? AND gw_name = ? LIMIT 1', [row.lcrId, row.gwName], 'checking gateway');
      if (dup.length > 0) throw new StorageError('STORAGE_ERR_DUPLICATE', `gateway ${row.gwName} already exists in LCR instance ${row.lcrId}`);
    }
    const r = await this.db.execute<ResultSetHeader>(
      'INSERT INTO lcr_gw (lcr_id, gw_name, ip_addr, hostname, port, params, uri_scheme, transport, strip, prefix, tag, flags, defunct) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      [row.lcrId, row.gwName, row.ipAddr, row.hostname, row.port, row.params, row.uriScheme, row.transport, row.strip, row.prefix, row.tag, row.flags, row.defunct],
      `adding gateway ${row.gwName ?? row.ipAddr ?? row.hostname ?? ''}`,
    );
    return r.insertId;
  }

  async removeGateway(lcrId: number, gwName: string): Promise<boolean> {
    return this.db.transaction(`removing gateway ${gwName}`, async (conn) => {
      const [rows] = await conn.execute<RowDataPacket[]>('SELECT id FROM lcr_gw WHERE lcr_id = ? AND gw_name = ? FOR UPDATE', [lcrId, gwName]);
      if (rows.length === 0) return false;
      const ids = rows.map((r) => Number(r.id));
      await conn.query('DELETE FROM lcr_rule_target WHERE gw_id IN (?)', [ids]);
      await conn.query('DELETE FROM lcr_gw WHERE id IN (?)', [ids]);
      return true;
    });
  }

  async addRule(row: NewRow<LcrRuleRow>): Promise<number> {
    // The unique key (lcr_id, prefix, from_uri) lets NULLs repeat; `<=>` treats them as equal,
    // since two such rules are the same rule to load_gws().
    const message = `LCR rule for prefix ${row.prefix ?? '(any)'}${row.fromUri === null ? '' : ` from ${row.fromUri}`} already exists in LCR instance ${row.lcrId}`;
    const dup = await this.db.execute<RowDataPacket[]>(
      'SELECT id FROM lcr_rule WHERE lcr_id = ? AND prefix <=> ? AND from_uri <=> ? LIMIT 1',
      [row.lcrId, row.prefix, row.fromUri],
      'checking LCR rule',
    );
    if (dup.length > 0) throw new StorageError('STORAGE_ERR_DUPLICATE', message);
    try {
      const r = await this.db.execute<ResultSetHeader>(
        'INSERT INTO lcr_rule (lcr_id, prefix, from_uri, request_uri, mt_tvalue, stopper, enabled) VALUES (?, ?, ?, ?, ?, ?, ?)',
        [row.lcrId, row.prefix, row.fromUri, row.requestUri, row.mtTvalue, row.stopper, row.enabled],
        `adding LCR rule ${row.prefix ?? ''}`,
      );
      return r.insertId;
    } catch (err) {
      throw renameDuplicate(err, message);
    }
  }

  async removeRule(id: number): Promise<boolean> {
    return this.db.transaction(`removing LCR rule ${id}`, async (conn) => {
      const [r] = await conn.execute<ResultSetHeader>('DELETE FROM lcr_rule WHERE id = ?', [id]);
      if (r.affectedRows === 0) return false;
      await conn.execute('DELETE FROM lcr_rule_target WHERE rule_id = ?', [id]);
      return true;
    });
  }

  async addTarget(row: NewRow<LcrRuleTargetRow>): Promise<number> {
    try {
      const r = await this.db.execute<ResultSetHeader>(
        'INSERT INTO lcr_rule_target (lcr_id, rule_id, gw_id, priority, weight) VALUES (?, ?, ?, ?, ?)',
        [row.lcrId, row.ruleId, row.gwId, row.priority, row.weight],
        `adding gateway ${row.gwId} to LCR rule ${row.ruleId}`,
      );
      return r.insertId;
    } catch (err) {
      throw renameDuplicate(err, `gateway ${row.gwId} is already a target of LCR rule ${row.ruleId}`);
    }
  }
}

const SPEED_DIAL_COLUMNS = 'id, username, domain, sd_username, sd_domain, new_uri, fname, lname, description';

function speedDialRow(x: RowDataPacket): SpeedDialRow {
  return {
    id: Number(x.id),
    username: String(x.username),
    domain: String(x.domain),
    sdUsername: String(x.sd_username),
    sdDomain: String(x.sd_domain),
    newUri: String(x.new_uri),
    fname: String(x.fname),
    lname: String(x.lname),
    description: String(x.description),
  };
}

class MysqlSpeedDial implements SpeedDialRepository {
  constructor(private readonly db: MysqlStorage) {}

  async lookup(username: string, domain: string, sdUsername: string): Promise<SpeedDialRow | null> {
    // speeddial's sd_lookup() with use_domain=0 on the short number: owner and short number.
    const rows = await this.db.execute<RowDataPacket[]>(
      `SELECT ${SPEED_DIAL_COLUMNS} FROM speed_dial WHERE username = ? AND domain = ? AND sd_username = ? ORDER BY id LIMIT 1`,
      [username, domain, sdUsername],
      `looking up speed dial ${sdUsername} of ${username}@${domain}`,
    );
    return rows.length > 0 ? speedDialRow(rows[0]!) : null;
  }

  async list(account?: { username: string; domain: string }): Promise<SpeedDialRow[]> {
    const rows =
      account === undefined
        ? await this.db.execute<RowDataPacket[]>(`SELECT ${SPEED_DIAL_COLUMNS} FROM speed_dial ORDER BY domain, username, sd_username`, [], 'listing speed dials')
        : await this.db.execute<RowDataPacket[]>(
            `SELECT ${SPEED_DIAL_COLUMNS} FROM speed_dial WHERE username = ? AND domain = ? ORDER BY sd_username`,
            [account.username, account.domain],
            'listing speed dials',
          );
    return rows.map(speedDialRow);
  }

  async add(row: NewRow<SpeedDialRow>): Promise<number> {
    try {
      const r = await this.db.execute<ResultSetHeader>(
        'INSERT INTO speed_dial (username, domain, sd_username, sd_domain, new_uri, fname, lname, description) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        [row.username, row.domain, row.sdUsername, row.sdDomain, row.newUri, row.fname, row.lname, row.description],
        `adding speed dial ${row.sdUsername} of ${row.username}@${row.domain}`,
      );
      return r.insertId;
    } catch (err) {
      throw renameDuplicate(err, `speed dial ${row.sdUsername} of ${row.username}@${row.domain} already exists`);
    }
  }

  async remove(username: string, domain: string, sdUsername: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>(
      'DELETE FROM speed_dial WHERE username = ? AND domain = ? AND sd_username = ?',
      [username, domain, sdUsername],
      `removing speed dial ${sdUsername} of ${username}@${domain}`,
    );
    return r.affectedRows > 0;
  }
}

class MysqlDialplan implements DialplanRepository {
  constructor(private readonly db: MysqlStorage) {}

  async list(dpid?: number): Promise<DialplanRow[]> {
    const columns = 'id, dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs';
    // The dialplan module's load order: by dpid, then priority (lower first).
    const rows =
      dpid === undefined
        ? await this.db.execute<RowDataPacket[]>(`SELECT ${columns} FROM dialplan ORDER BY dpid, pr, id`, [], 'loading dialplan')
        : await this.db.execute<RowDataPacket[]>(`SELECT ${columns} FROM dialplan WHERE dpid = ? ORDER BY pr, id`, [dpid], `loading dial plan ${dpid}`);
    return rows.map((x) => ({
      id: Number(x.id),
      dpid: Number(x.dpid),
      pr: Number(x.pr),
      matchOp: Number(x.match_op),
      matchExp: String(x.match_exp),
      matchLen: Number(x.match_len),
      substExp: String(x.subst_exp),
      replExp: String(x.repl_exp),
      attrs: String(x.attrs),
    }));
  }

  async add(row: NewRow<DialplanRow>): Promise<number> {
    const r = await this.db.execute<ResultSetHeader>(
      'INSERT INTO dialplan (dpid, pr, match_op, match_exp, match_len, subst_exp, repl_exp, attrs) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [row.dpid, row.pr, row.matchOp, row.matchExp, row.matchLen, row.substExp, row.replExp, row.attrs],
      `adding dial plan rule ${row.matchExp}`,
    );
    return r.insertId;
  }

  async remove(id: number): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('DELETE FROM dialplan WHERE id = ?', [id], `removing dial plan rule ${id}`);
    return r.affectedRows > 0;
  }
}
