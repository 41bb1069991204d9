import { createPool, type Pool } from 'mysql2/promise';
import { AccError } from './errors.js';

/**
 * A mysql2 pool for the accounting tables. DATETIME values are written and read as UTC
 * (`timezone: 'Z'`), so `time` round-trips whatever the server's or the process' zone.
 */
export function createAccPool(uri: string, connectionLimit = 2): Pool {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AccError('ACC_ERR_BAD_URI', redactUri(uri));
  }
  if (url.protocol !== 'mysql:' || url.pathname.length < 2) throw new AccError('ACC_ERR_BAD_URI', redactUri(uri));
  return createPool({
    host: url.hostname,
    port: url.port === '' ? 3306 : Number(url.port),
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.slice(1)),
    connectionLimit,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    enableKeepAlive: true,
    // No stack capture per query (mysql2's default): it cost more CPU than the INSERT itself.
    trace: false,
  });
}

/** The database name of a mysql:// URI. */
export function databaseOfUri(uri: string): string {
  try {
    return decodeURIComponent(new URL(uri).pathname.slice(1));
  } catch {
    throw new AccError('ACC_ERR_BAD_URI', redactUri(uri));
  }
}

/** The URI without its password, for logs. */
export function redactUri(uri: string): string {
  return uri.replace(/^(mysql:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}
