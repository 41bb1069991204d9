/**
 * SQL DDL for database accounting, compatible with Kamailio 5.x: the columns, types and
 * index of /usr/share/kamailio/mysql/acc-create.sql (kamailio-mysql-modules) for `acc`
 * (table version 5) and `missed_calls` (version 4), plus the extra columns Kamailio's
 * stock kamailio.cfg adds for its db_extra (src_user, src_domain, src_ip, dst_ouser,
 * dst_user, dst_domain) and user_agent. A Kamailio pointed at this database can write the
 * same tables; our readers read rows Kamailio wrote.
 *
 * `time` is DATETIME as in Kamailio; our sinks store UTC (mysql2 timezone 'Z').
 */

function accTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS \`${table}\` (
    \`id\` INT(10) UNSIGNED AUTO_INCREMENT PRIMARY KEY NOT NULL,
    \`method\` VARCHAR(16) DEFAULT '' NOT NULL,
    \`from_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`to_tag\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`callid\` VARCHAR(255) DEFAULT '' NOT NULL,
    \`sip_code\` VARCHAR(3) DEFAULT '' NOT NULL,
    \`sip_reason\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`time\` DATETIME NOT NULL,
    \`src_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`src_domain\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`src_ip\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_ouser\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_user\` VARCHAR(64) DEFAULT '' NOT NULL,
    \`dst_domain\` VARCHAR(128) DEFAULT '' NOT NULL,
    \`user_agent\` VARCHAR(255) DEFAULT '' NOT NULL,
    INDEX callid_idx (\`callid\`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`;
}

/** Table names, as Kamailio's acc module defaults them (db_table_acc, db_table_missed_calls). */
export const ACC_TABLE = 'acc';
export const MISSED_CALLS_TABLE = 'missed_calls';

/** Statements creating both tables; idempotent (IF NOT EXISTS). Run them in order. */
export const ACC_SCHEMA_SQL: readonly string[] = [accTableDdl(ACC_TABLE), accTableDdl(MISSED_CALLS_TABLE)];

/**
 * Rows for Kamailio's `version` table (standard-create.sql), which Kamailio checks at start.
 * `sipctl db init` inserts them when it creates the version table.
 */
export const ACC_TABLE_VERSIONS: readonly { table_name: string; table_version: number }[] = [
  { table_name: ACC_TABLE, table_version: 5 },
  { table_name: MISSED_CALLS_TABLE, table_version: 4 },
];

/**
 * The db_extra columns we add to Kamailio's acc tables, for a database created by kamdbctl
 * (whose acc/missed_calls have only the core columns): `ALTER TABLE` statements per table.
 */
export const ACC_EXTRA_COLUMNS: readonly { column: string; ddl: (table: string) => string }[] = [
  ['src_user', "VARCHAR(64) DEFAULT '' NOT NULL"],
  ['src_domain', "VARCHAR(128) DEFAULT '' NOT NULL"],
  ['src_ip', "VARCHAR(64) DEFAULT '' NOT NULL"],
  ['dst_ouser', "VARCHAR(64) DEFAULT '' NOT NULL"],
  ['dst_user', "VARCHAR(64) DEFAULT '' NOT NULL"],
  ['dst_domain', "VARCHAR(128) DEFAULT '' NOT NULL"],
  ['user_agent', "VARCHAR(255) DEFAULT '' NOT NULL"],
].map(([column, type]) => ({ column: column!, ddl: (table: string) => `ALTER TABLE \`${table}\` ADD COLUMN \`${column}\` ${type}` }));

/**
 * The columns of ACC_COLUMNS missing from `table` in `database` (empty: the sink can write it).
 * A Kamailio database made by kamdbctl lacks the db_extra ones until `sipctl db init`.
 */
export async function missingAccColumns(pool: { query: (sql: string, values: unknown[]) => Promise<[unknown, unknown]> }, database: string, table: string): Promise<string[]> {
  const [rows] = await pool.query('SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [database, table]);
  const have = new Set((rows as { c: string }[]).map((r) => String(r.c).toLowerCase()));
  return ACC_COLUMNS.filter((c) => !have.has(c));
}

/** Column order used by the MySQL sink and reader (after `id`). */
export const ACC_COLUMNS = [
  'method',
  'from_tag',
  'to_tag',
  'callid',
  'sip_code',
  'sip_reason',
  'time',
  'src_user',
  'src_domain',
  'src_ip',
  'dst_ouser',
  'dst_user',
  'dst_domain',
  'user_agent',
] as const;
