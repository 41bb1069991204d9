/**
 * The schema file (sql/schema-mysql.sql) split into per-table blocks, so `db init` can create
 * only what is missing: a database made by Kamailio's kamdbctl is completed, never replaced.
 */
import { readFileSync } from 'node:fs';

export interface TableBlock {
  table: string;
  /** CREATE TABLE, its CREATE INDEX statements and its `version` row, in file order. */
  statements: string[];
}

export const SCHEMA_FILE = new URL('../sql/schema-mysql.sql', import.meta.url);

const CREATE_TABLE = /^CREATE TABLE `([A-Za-z0-9_]{1,64})`/;
const CREATE_INDEX = /^CREATE INDEX [A-Za-z0-9_]{1,64} ON ([A-Za-z0-9_]{1,64}) /;
const VERSION_ROW = /^INSERT INTO version \(table_name, table_version\) values \('([A-Za-z0-9_]{1,64})',/;

/** Splits trusted SQL text (our own file) into statements; `--` comment lines are dropped. */
export function splitStatements(sql: string): string[] {
  const body = sql
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('--'))
    .join('\n');
  return body
    .split(/;\s*(?:\n|$)/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function tableBlocks(sql: string): TableBlock[] {
  const blocks = new Map<string, TableBlock>();
  for (const st of splitStatements(sql)) {
    const m = CREATE_TABLE.exec(st) ?? CREATE_INDEX.exec(st) ?? VERSION_ROW.exec(st);
    if (!m) throw new Error(`schema statement of unknown kind: ${st.slice(0, 60)}`);
    const table = m[1]!;
    let b = blocks.get(table);
    if (!b) blocks.set(table, (b = { table, statements: [] }));
    b.statements.push(st);
  }
  return [...blocks.values()];
}

export function readSchemaBlocks(): TableBlock[] {
  return tableBlocks(readFileSync(SCHEMA_FILE, 'utf8'));
}

/** Columns our schema adds to Kamailio's; `db init` adds them to a kamdbctl-created table. */
export const EXTENSION_COLUMNS: readonly { table: string; column: string; ddl: string }[] = [
  { table: 'subscriber', column: 'email_address', ddl: "ALTER TABLE `subscriber` ADD COLUMN `email_address` VARCHAR(128) DEFAULT '' NOT NULL" },
];

/**
 * Indexes the portal's CDR search needs on Kamailio's accounting tables (which kamdbctl creates
 * with only callid_idx): by time (date range, newest first) and by caller / callee user. `db init`
 * adds each one that is missing, on our schema and on a kamdbctl database alike.
 */
export const EXTENSION_INDEXES: readonly { table: string; index: string; ddl: string }[] = ['acc', 'missed_calls'].flatMap((table) => [
  { table, index: 'time_idx', ddl: `CREATE INDEX time_idx ON \`${table}\` (\`time\`)` },
  { table, index: 'src_user_idx', ddl: `CREATE INDEX src_user_idx ON \`${table}\` (\`src_user\`, \`time\`)` },
  { table, index: 'dst_user_idx', ddl: `CREATE INDEX dst_user_idx ON \`${table}\` (\`dst_user\`, \`time\`)` },
  { table, index: 'dst_ouser_idx', ddl: `CREATE INDEX dst_ouser_idx ON \`${table}\` (\`dst_ouser\`, \`time\`)` },
]);

/** The portal's tables (services/portal): created by `db init`, never required by the proxy. */
export const PORTAL_TABLE_VERSIONS: Readonly<Record<string, number>> = { portal_account: 1, portal_disabled: 1, portal_signup: 1 };
