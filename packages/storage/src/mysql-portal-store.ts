/**
 * PortalStore over MySQL/MariaDB: the portal's own tables (portal_account, portal_disabled,
 * portal_signup — sql/schema-mysql.sql) and read queries over Kamailio's subscriber, acc and
 * missed_calls. Every statement is prepared (`execute`) with ? parameters; user input never
 * becomes SQL text. CDR pages are keyset-paginated on the AUTO_INCREMENT id (no OFFSET scan,
 * no COUNT over a million rows) and use the time / user indexes `db init` adds.
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { MysqlStorage } from './mysql-storage.js';
import { StorageError } from './storage-error.js';
import type { Subscriber } from './storage.js';
import {
  likeLiteral,
  lockedCredentials,
  type CdrPage,
  type CdrQuery,
  type PortalAccountRow,
  type PortalStore,
  type SignupRow,
  type SubscriberPage,
  type SubscriberPageQuery,
} from './portal-store.js';

/** acc `time` is written as UTC by @voip/acc's sinks: read and compare it as UTC text, whatever the session zone. */
function utcText(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

function fromUtcText(v: unknown): number {
  const t = Date.parse(`${String(v).replace(' ', 'T')}Z`);
  return Number.isNaN(t) ? 0 : t;
}

export class MysqlPortalStore implements PortalStore {
  constructor(private readonly db: MysqlStorage) {}

  async subscriberPage(q: SubscriberPageQuery): Promise<SubscriberPage> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (q.domain !== undefined && q.domain !== '') {
      where.push('s.domain = ?');
      params.push(q.domain);
    }
    if (q.search !== undefined && q.search !== '') {
      const like = `%${likeLiteral(q.search)}%`;
      where.push(this.db.hasEmailColumn ? '(s.username LIKE ? OR s.domain LIKE ? OR s.email_address LIKE ?)' : '(s.username LIKE ? OR s.domain LIKE ?)');
      params.push(like, like);
      if (this.db.hasEmailColumn) params.push(like);
    }
    const w = where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '';
    const [count] = await this.db.execute<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM subscriber s${w}`, params, 'counting subscribers');
    const email = this.db.hasEmailColumn ? 's.email_address' : 'NULL';
    // LIMIT/OFFSET as integers in the text: mysql2 prepared statements reject them as parameters on some servers.
    const limit = Math.max(1, Math.min(500, Math.trunc(q.limit)));
    const offset = Math.max(0, Math.trunc(q.offset));
    const rows = await this.db.execute<RowDataPacket[]>(
      `SELECT s.username, s.domain, ${email} AS email_address, (d.id IS NOT NULL) AS disabled FROM subscriber s ` +
        `LEFT JOIN portal_disabled d ON d.username = s.username AND d.domain = s.domain${w} ORDER BY s.domain, s.username LIMIT ${limit} OFFSET ${offset}`,
      params,
      'listing subscribers',
    );
    return {
      total: Number(count!.n),
      rows: rows.map((r) => ({
        username: String(r.username),
        domain: String(r.domain),
        emailAddress: r.email_address === null ? null : String(r.email_address),
        disabled: Number(r.disabled) === 1,
      })),
    };
  }

  async isDisabled(username: string, domain: string): Promise<boolean> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT 1 FROM portal_disabled WHERE username = ? AND domain = ? LIMIT 1', [username, domain], 'reading portal_disabled');
    return rows.length > 0;
  }

  async disable(username: string, domain: string, reason: 'admin' | 'signup'): Promise<boolean> {
    return this.db.transaction(`disabling ${username}@${domain}`, async (conn: PoolConnection) => {
      const [rows] = await conn.execute<RowDataPacket[]>('SELECT password, ha1, ha1b FROM subscriber WHERE username = ? AND domain = ? FOR UPDATE', [username, domain]);
      if (rows.length === 0) return false;
      const [already] = await conn.execute<RowDataPacket[]>('SELECT 1 FROM portal_disabled WHERE username = ? AND domain = ? FOR UPDATE', [username, domain]);
      if (already.length > 0) return false;
      const s = rows[0]!;
      await conn.execute(
        'INSERT INTO portal_disabled (username, domain, password, ha1, ha1b, reason, disabled_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())',
        [username, domain, String(s.password), String(s.ha1), String(s.ha1b), reason],
      );
      const l = lockedCredentials();
      await conn.execute('UPDATE subscriber SET password = ?, ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?', [l.password, l.ha1, l.ha1b, username, domain]);
      return true;
    });
  }

  async addDisabled(s: Subscriber, reason: 'admin' | 'signup'): Promise<void> {
    await this.db.subscribers.add({ ...s, ...lockedCredentials() });
    try {
      await this.db.execute<ResultSetHeader>(
        'INSERT INTO portal_disabled (username, domain, password, ha1, ha1b, reason, disabled_at) VALUES (?, ?, ?, ?, ?, ?, UTC_TIMESTAMP())',
        [s.username, s.domain, s.password, s.ha1, s.ha1b, reason],
        `disabling ${s.username}@${s.domain}`,
      );
    } catch (err) {
      await this.db.subscribers.remove(s.username, s.domain).catch(() => undefined);
      throw err;
    }
  }

  async enable(username: string, domain: string): Promise<boolean> {
    return this.db.transaction(`enabling ${username}@${domain}`, async (conn: PoolConnection) => {
      const [rows] = await conn.execute<RowDataPacket[]>('SELECT password, ha1, ha1b FROM portal_disabled WHERE username = ? AND domain = ? FOR UPDATE', [username, domain]);
      if (rows.length === 0) return false;
      const s = rows[0]!;
      await conn.execute('UPDATE subscriber SET password = ?, ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?', [String(s.password), String(s.ha1), String(s.ha1b), username, domain]);
      await conn.execute('DELETE FROM portal_disabled WHERE username = ? AND domain = ?', [username, domain]);
      return true;
    });
  }

  async setCredentials(username: string, domain: string, password: string, ha1: string, ha1b: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>(
      'UPDATE portal_disabled SET password = ?, ha1 = ?, ha1b = ? WHERE username = ? AND domain = ?',
      [password, ha1, ha1b, username, domain],
      `changing the saved password of ${username}@${domain}`,
    );
    if (r.affectedRows > 0) return true;
    return this.db.subscribers.setCredentials(username, domain, password, ha1, ha1b);
  }

  async setEmail(username: string, domain: string, email: string): Promise<boolean> {
    if (!this.db.hasEmailColumn) throw new StorageError('STORAGE_ERR_SCHEMA', 'subscriber has no email_address column (Kamailio 5.x schema); run sipctl db init to add it');
    const r = await this.db.execute<ResultSetHeader>('UPDATE subscriber SET email_address = ? WHERE username = ? AND domain = ?', [email, username, domain], `changing the e-mail address of ${username}@${domain}`);
    // affectedRows counts matched rows here only when the value changed: check existence instead.
    if (r.affectedRows > 0) return true;
    return (await this.db.subscribers.get(username, domain)) !== null;
  }

  async savedCredentials(username: string, domain: string): Promise<{ password: string; ha1: string; ha1b: string } | null> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT password, ha1, ha1b FROM portal_disabled WHERE username = ? AND domain = ?', [username, domain], 'reading portal_disabled');
    if (rows.length === 0) return null;
    return { password: String(rows[0]!.password), ha1: String(rows[0]!.ha1), ha1b: String(rows[0]!.ha1b) };
  }

  async cdrs(q: CdrQuery): Promise<CdrPage> {
    const table = q.kind === 'acc' ? 'acc' : 'missed_calls';
    const where: string[] = [];
    const params: unknown[] = [];
    // acc holds an INVITE row (2xx) and a BYE row per call: the INVITE is the call, the BYE its end.
    if (q.kind === 'acc') where.push("c.method = 'INVITE'");
    if (q.account !== undefined) {
      where.push('((c.src_user = ? AND c.src_domain = ?) OR (c.dst_user = ? AND c.dst_domain = ?) OR (c.dst_ouser = ? AND c.dst_domain = ?))');
      const { username: u, domain: d } = q.account;
      params.push(u, d, u, d, u, d);
    }
    if (q.user !== undefined && q.user !== '') {
      where.push('(c.src_user = ? OR c.dst_user = ? OR c.dst_ouser = ?)');
      params.push(q.user, q.user, q.user);
    }
    if (q.from !== undefined) {
      where.push('c.time >= ?');
      params.push(utcText(q.from));
    }
    if (q.to !== undefined) {
      where.push('c.time < ?');
      params.push(utcText(q.to));
    }
    if (q.before !== undefined) {
      where.push('c.id < ?');
      params.push(Math.trunc(q.before));
    }
    const limit = Math.max(1, Math.min(1000, Math.trunc(q.limit)));
    // Duration = BYE time − INVITE time of the same Call-ID (callid_idx); the first BYE counts.
    const duration =
      q.kind === 'acc'
        ? "(SELECT TIMESTAMPDIFF(SECOND, c.time, MIN(b.time)) FROM acc b WHERE b.callid = c.callid AND b.method = 'BYE' AND b.time >= c.time)"
        : 'NULL';
    const columns = `c.id, CAST(c.time AS CHAR) AS t, c.callid, c.src_user, c.src_domain, c.src_ip, c.dst_ouser, c.dst_user, c.dst_domain, c.sip_code, c.sip_reason, c.user_agent, ${duration} AS duration`;
    let sql: string;
    let args: unknown[];
    if (q.number !== undefined && q.number !== '') {
      // Dialled (dst_ouser) or routed (dst_user) number: "a LIKE OR b LIKE" makes MariaDB merge
      // both indexes over every match and sort them (2-3 s on a million rows when the prefix is
      // common); each column's newest `limit` matches on its own, then merged, stays in ms.
      const like = `${likeLiteral(q.number)}%`;
      const branch = (col: string) => `(SELECT c.id FROM ${table} c WHERE ${[...where, `c.${col} LIKE ?`].join(' AND ')} ORDER BY c.id DESC LIMIT ${limit + 1})`;
      sql = `SELECT ${columns} FROM (${branch('dst_ouser')} UNION ${branch('dst_user')}) m JOIN ${table} c ON c.id = m.id ORDER BY c.id DESC LIMIT ${limit + 1}`;
      args = [...params, like, ...params, like];
    } else {
      sql = `SELECT ${columns} FROM ${table} c${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY c.id DESC LIMIT ${limit + 1}`;
      args = params;
    }
    const rows = await this.db.execute<RowDataPacket[]>(sql, args, `searching ${table}`);
    const more = rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return {
      rows: page.map((r) => ({
        id: Number(r.id),
        kind: q.kind,
        time: fromUtcText(r.t),
        callid: String(r.callid),
        srcUser: String(r.src_user),
        srcDomain: String(r.src_domain),
        srcIp: String(r.src_ip),
        dstOuser: String(r.dst_ouser),
        dstUser: String(r.dst_user),
        dstDomain: String(r.dst_domain),
        sipCode: Number(r.sip_code),
        sipReason: String(r.sip_reason),
        userAgent: String(r.user_agent),
        duration: r.duration === null || r.duration === undefined ? null : Number(r.duration),
      })),
      nextBefore: more ? Number(page[page.length - 1]!.id) : null,
    };
  }

  async getAccount(name: string): Promise<PortalAccountRow | null> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT name, role, password_hash, CAST(created AS CHAR) AS c FROM portal_account WHERE name = ?', [name], 'reading portal_account');
    return rows.length === 0 ? null : accountRow(rows[0]!);
  }

  async addAccount(row: PortalAccountRow): Promise<void> {
    try {
      await this.db.execute<ResultSetHeader>(
        'INSERT INTO portal_account (name, role, password_hash, created) VALUES (?, ?, ?, ?)',
        [row.name, row.role, row.passwordHash, utcText(row.created)],
        `adding portal account ${row.name}`,
      );
    } catch (err) {
      if (err instanceof StorageError && err.code === 'STORAGE_ERR_DUPLICATE') throw new StorageError('STORAGE_ERR_DUPLICATE', `portal account ${row.name} already exists`);
      throw err;
    }
  }

  async setAccountHash(name: string, passwordHash: string): Promise<boolean> {
    const r = await this.db.execute<ResultSetHeader>('UPDATE portal_account SET password_hash = ? WHERE name = ?', [passwordHash, name], `changing the password of ${name}`);
    return r.affectedRows > 0;
  }

  async listAccounts(): Promise<PortalAccountRow[]> {
    const rows = await this.db.execute<RowDataPacket[]>('SELECT name, role, password_hash, CAST(created AS CHAR) AS c FROM portal_account ORDER BY name', [], 'listing portal accounts');
    return rows.map(accountRow);
  }

  async addSignup(row: SignupRow): Promise<void> {
    await this.db.execute<ResultSetHeader>(
      'INSERT INTO portal_signup (token_hash, username, domain, email, expires) VALUES (?, ?, ?, ?, ?)',
      [row.tokenHash, row.username, row.domain, row.email, utcText(row.expires)],
      `adding the sign-up of ${row.username}@${row.domain}`,
    );
  }

  async takeSignup(tokenHash: string, now: number): Promise<SignupRow | null> {
    return this.db.transaction('confirming a sign-up', async (conn: PoolConnection) => {
      const [rows] = await conn.execute<RowDataPacket[]>(
        'SELECT token_hash, username, domain, email, CAST(expires AS CHAR) AS e FROM portal_signup WHERE token_hash = ? FOR UPDATE',
        [tokenHash],
      );
      if (rows.length === 0) return null;
      const r = rows[0]!;
      const row: SignupRow = { tokenHash: String(r.token_hash), username: String(r.username), domain: String(r.domain), email: String(r.email), expires: fromUtcText(r.e) };
      if (row.expires <= now) return null;
      await conn.execute('DELETE FROM portal_signup WHERE token_hash = ?', [tokenHash]);
      return row;
    });
  }

  async purgeSignups(now: number): Promise<number> {
    return this.db.transaction('removing expired sign-ups', async (conn: PoolConnection) => {
      const [rows] = await conn.execute<RowDataPacket[]>('SELECT username, domain FROM portal_signup WHERE expires <= ? FOR UPDATE', [utcText(now)]);
      for (const r of rows) {
        // Only an account still disabled by its sign-up goes: one an admin enabled meanwhile stays.
        const [d] = await conn.execute<ResultSetHeader>("DELETE FROM portal_disabled WHERE username = ? AND domain = ? AND reason = 'signup'", [r.username, r.domain]);
        if (d.affectedRows > 0) await conn.execute('DELETE FROM subscriber WHERE username = ? AND domain = ?', [r.username, r.domain]);
      }
      const [del] = await conn.execute<ResultSetHeader>('DELETE FROM portal_signup WHERE expires <= ?', [utcText(now)]);
      return del.affectedRows;
    });
  }
}

function accountRow(r: RowDataPacket): PortalAccountRow {
  return { name: String(r.name), role: 'admin', passwordHash: String(r.password_hash), created: fromUtcText(r.c) };
}
