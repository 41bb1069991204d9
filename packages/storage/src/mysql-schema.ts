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
