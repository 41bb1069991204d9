/**
 * MysqlStorage against the real MariaDB: our schema (sipctl db init) and a database created by
 * Kamailio's own kamdbctl, used as is. Each run creates its own databases and drops them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createConnection, type RowDataPacket } from 'mysql2/promise';
import { subscriberHashes } from './ha1.js';
import { PORTAL_TABLE_VERSIONS } from './mysql-schema.js';
import { MysqlStorage } from './mysql-storage.js';
import { adminUrl, createKamdbctlDatabase, createTestDatabase, kamctl, type TestDatabase } from './mysql-test-database.js';
import { assertSchema, openStorage } from './open-storage.js';
import { describeStorageContract } from './storage-contract.js';
import { isStorageError } from './storage-error.js';
import { PROVIDER_TABLE_VERSIONS, REQUIRED_TABLE_VERSIONS } from './storage.js';
import { parseDbUrl, type MysqlUrl } from './db-url.js';

const DATA_TABLES = ['subscriber', 'location', 'dbaliases', 'domain', 'grp', 'usr_preferences', ...Object.keys(PROVIDER_TABLE_VERSIONS)];

async function truncateAll(s: MysqlStorage): Promise<MysqlStorage> {
  for (const t of DATA_TABLES) await s.query(`DELETE FROM \`${t}\``, [], `emptying ${t}`);
  return s;
}

describe('MysqlStorage on our schema', () => {
  let db: TestDatabase;
  let storage: MysqlStorage;
  before(async () => {
    db = await createTestDatabase();
    storage = await MysqlStorage.connect(db.parsed);
  });
  after(async () => {
    await storage?.close();
    await db?.drop();
  });

  it('db init creates every table with Kamailio 5.6 versions, and a second run changes nothing', async () => {
    await assert.rejects(assertSchema(storage), (e: unknown) => isStorageError(e, 'STORAGE_ERR_SCHEMA'));
    const first = await storage.initSchema();
    assert.deepEqual(first.existing, []);
    for (const t of ['version', ...Object.keys(REQUIRED_TABLE_VERSIONS), ...Object.keys(PROVIDER_TABLE_VERSIONS), 'location_attrs']) assert.ok(first.created.includes(t), t);
    assert.equal(storage.hasEmailColumn, true);
    await assertSchema(storage);
    await assertSchema(storage, Object.keys(PROVIDER_TABLE_VERSIONS));
    const versions = await storage.versions();
    for (const [t, v] of Object.entries({ ...REQUIRED_TABLE_VERSIONS, ...PROVIDER_TABLE_VERSIONS })) assert.equal(versions.get(t), v, t);
    const second = await storage.initSchema();
    assert.deepEqual(second.created, []);
    assert.deepEqual(second.altered, []);
    assert.equal(second.existing.length, first.created.length);
  });

  describeStorageContract('mysql (our schema)', () => truncateAll(storage));

  it('survives a connection killed by the server (retries once on a fresh connection)', async () => {
    await storage.subscribers.list();
    const a = adminUrl();
    const admin = await createConnection({ host: a.host, port: a.port, user: a.user, password: a.password });
    try {
      const [rows] = await admin.query<RowDataPacket[]>('SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = ?', [db.name]);
      assert.ok(rows.length > 0);
      for (const r of rows) await admin.query(`KILL ${Number(r.id)}`);
    } finally {
      await admin.end();
    }
    assert.deepEqual(await storage.subscribers.list('nowhere.example'), []);
  });
});

describe('MysqlStorage on a database created by kamdbctl (Kamailio 5.6)', () => {
  let db: TestDatabase & { kamctlrc: string };
  let storage: MysqlStorage;
  before(async () => {
    db = await createKamdbctlDatabase();
    storage = await MysqlStorage.connect(db.parsed);
  });
  after(async () => {
    await storage?.close();
    await db?.drop();
  });

  it('is accepted as is: every table and version this proxy needs is there', async () => {
    await assertSchema(storage);
    await assertSchema(storage, Object.keys(PROVIDER_TABLE_VERSIONS));
    assert.equal(storage.hasEmailColumn, false);
  });

  it('reads subscribers written by kamctl add with the same HA1 values', async () => {
    await kamctl(db.kamctlrc, ['add', 'kamuser@example.com', 's3cret']);
    const s = await storage.subscribers.get('kamuser', 'example.com');
    assert.ok(s);
    const h = subscriberHashes('kamuser', 'example.com', 's3cret');
    assert.equal(s.ha1, h.ha1);
    assert.equal(s.ha1b, h.ha1b);
    assert.equal(s.emailAddress, null);
    await assert.rejects(
      storage.subscribers.add({ username: 'x', domain: 'example.com', password: 'p', ha1: '', ha1b: '', emailAddress: 'x@example.com' }),
      (e: unknown) => isStorageError(e, 'STORAGE_ERR_SCHEMA'),
    );
  });

  describeStorageContract('mysql (kamdbctl schema, before db init)', () => truncateAll(storage), { emailColumn: false });

  it('db init completes it without recreating anything (adds subscriber.email_address, the acc db_extra columns, the CDR search indexes and the portal tables)', async () => {
    const r = await storage.initSchema();
    assert.deepEqual([...r.created].sort(), Object.keys(PORTAL_TABLE_VERSIONS).sort());
    const extras = ['src_user', 'src_domain', 'src_ip', 'dst_ouser', 'dst_user', 'dst_domain', 'user_agent'];
    const indexes = ['time_idx', 'src_user_idx', 'dst_user_idx', 'dst_ouser_idx'];
    assert.deepEqual(
      [...r.altered].sort(),
      ['subscriber.email_address', ...[...extras, ...indexes].flatMap((c) => [`acc.${c}`, `missed_calls.${c}`])].sort(),
    );
    const again = await storage.initSchema();
    assert.deepEqual(again.created, []);
    assert.deepEqual(again.altered, []);
    assert.equal(storage.hasEmailColumn, true);
    await assertSchema(storage);
  });
});

/** Column and index definitions of `table` as information_schema describes them (charset aside). */
async function tableShape(database: string, table: string): Promise<{ columns: string[]; indexes: string[] }> {
  const a = adminUrl();
  const c = await createConnection({ host: a.host, port: a.port, user: a.user, password: a.password });
  try {
    const [cols] = await c.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [database, table],
    );
    const [idx] = await c.query<RowDataPacket[]>(
      'SELECT INDEX_NAME, NON_UNIQUE, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY INDEX_NAME, SEQ_IN_INDEX',
      [database, table],
    );
    return {
      columns: cols.map((r) => `${r.COLUMN_NAME} ${r.COLUMN_TYPE} null=${r.IS_NULLABLE} default=${r.COLUMN_DEFAULT} ${r.EXTRA}`),
      indexes: idx.map((r) => `${r.INDEX_NAME} unique=${Number(r.NON_UNIQUE) === 0} ${r.SEQ_IN_INDEX}:${r.COLUMN_NAME}`),
    };
  } finally {
    await c.end();
  }
}

describe('provider tables: sipctl db init and kamdbctl create the same definitions', () => {
  let ours: TestDatabase;
  let kam: TestDatabase & { kamctlrc: string };
  before(async () => {
    ours = await createTestDatabase();
    const s = await MysqlStorage.connect(ours.parsed);
    try {
      await s.initSchema();
    } finally {
      await s.close();
    }
    kam = await createKamdbctlDatabase();
  });
  after(async () => {
    await ours?.drop();
    await kam?.drop();
  });

  for (const table of Object.keys(PROVIDER_TABLE_VERSIONS)) {
    it(`${table}: same columns (name, type, NULL, default) and indexes as Kamailio 5.6`, async () => {
      const a = await tableShape(ours.name, table);
      const b = await tableShape(kam.name, table);
      assert.ok(b.columns.length > 0, `kamdbctl created no ${table}`);
      assert.deepEqual(a, b);
    });
  }
});

describe('MysqlStorage errors', () => {
  it('an unreachable server is reported after the back-off attempts, in one line', async () => {
    const u: MysqlUrl = { ...(parseDbUrl('mysql://root@127.0.0.1:1/voip') as MysqlUrl) };
    await assert.rejects(MysqlStorage.connect(u, { connectAttempts: 2, initialBackoffMs: 10 }), (e: unknown) => {
      return isStorageError(e, 'STORAGE_ERR_UNREACHABLE') && /cannot reach database mysql:\/\/root@127\.0\.0\.1:1\/voip/.test((e as Error).message) && !(e as Error).message.includes('\n');
    });
  });

  it('wrong credentials and a missing database are reported without retrying', async () => {
    const a = adminUrl();
    await assert.rejects(
      openStorage(`mysql://no_such_user_x:wrong@${a.host}:${a.port}/mysql`, { connectAttempts: 5, initialBackoffMs: 5_000 }),
      (e: unknown) => isStorageError(e, 'STORAGE_ERR_ACCESS_DENIED'),
    );
    const pw = a.password ? `:${encodeURIComponent(a.password)}` : '';
    await assert.rejects(
      openStorage(`mysql://${encodeURIComponent(a.user)}${pw}@${a.host}:${a.port}/voip_no_such_db_x`, { connectAttempts: 5, initialBackoffMs: 5_000 }),
      (e: unknown) => isStorageError(e, 'STORAGE_ERR_NO_DATABASE') && /sipctl db init/.test((e as Error).message),
    );
  });
});
