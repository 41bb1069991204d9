/**
 * @voip/acc — accounting records shared by the proxy (writer) and radius-acct (reader).
 *
 * Writing (the proxy's acc module):
 *
 *   const sink: AccountingSink = cfg.db
 *     ? new MysqlAccountingSink({ uri: cfg.db, logger })           // Kamailio acc/missed_calls tables
 *     : await JournalAccountingSink.open({ path: cfg.accJournal, logger }); // append-only NDJSON
 *   sink.write({ kind: 'acc', method: 'INVITE', from_tag, to_tag, callid, sip_code: 200,
 *                sip_reason: 'OK', time: Date.now(), src_user, src_domain, src_ip,
 *                dst_ouser, dst_user, dst_domain, user_agent });  // sync, never throws
 *   ...
 *   await sink.close();                                            // on shutdown (flushes)
 *
 *  - write(record): boolean — queues; false if the record is invalid (logged, stats().rejected)
 *    or the queue is full (stats().dropped). Strings longer than their column are truncated.
 *  - flush(): Promise<void> — resolves when everything written before it is durable.
 *  - close(): Promise<void> — flush, then release the file/pool.
 *  - stats(): counters for metrics (accepted, rejected, stored, dropped, pending, storeErrors).
 *
 * What to write (Kamailio acc semantics; docs/accounting.md):
 *  - kind 'acc', method INVITE: the final 2xx of an initial INVITE (to_tag from the 2xx).
 *  - kind 'acc', method BYE: the final response of a BYE (any code), tags from the BYE.
 *  - kind 'missed_call', method INVITE: an initial INVITE whose final response is >= 300.
 *  `time` is when the final response was relayed (ms since epoch).
 *
 * Reading (radius-acct, `cdr`): JournalReader.open({ path }) or new MysqlReader({ uri }) give
 * an AccReader: seek(cursor) then read(max) polls records in order; each item carries the
 * cursor after it, which the caller saves once the record is safely delivered.
 *
 * Schema: ACC_SCHEMA_SQL (CREATE TABLE IF NOT EXISTS acc, missed_calls — Kamailio 5.x columns
 * plus db_extra columns) and ACC_TABLE_VERSIONS for Kamailio's `version` table.
 */
export * from './acc-record.js';
export * from './accounting-sink.js';
export * from './acc-reader.js';
export * from './errors.js';
export * from './logger.js';
export * from './schema.js';
export { JournalAccountingSink, type JournalSinkOptions } from './journal-accounting-sink.js';
export { JournalReader, type JournalReaderOptions } from './journal-reader.js';
export { decodeJournalLine, encodeJournalRecord, JOURNAL_FORMAT, JOURNAL_VERSION, type JournalHeader, type JournalLine } from './journal-format.js';
export { MysqlAccountingSink, type MysqlSinkOptions } from './mysql-accounting-sink.js';
export { MysqlReader, type MysqlReaderOptions } from './mysql-reader.js';
export { createAccPool, databaseOfUri, redactUri } from './mysql-pool.js';
