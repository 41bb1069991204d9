/**
 * Opens the Storage a database URL names (`--db` / SIP_DB_URL), and checks that the tables the
 * proxy uses have the versions this code was written for (Kamailio 5.6's).
 */
import { parseDbUrl } from './db-url.js';
import { MemoryStorage } from './memory-storage.js';
import { MysqlStorage, type MysqlStorageOptions } from './mysql-storage.js';
import { loadProvisioningFile } from './provisioning-file.js';
import { StorageError } from './storage-error.js';
import { PROVIDER_TABLE_VERSIONS, REQUIRED_TABLE_VERSIONS, type Storage } from './storage.js';

export async function openStorage(url: string, opts: MysqlStorageOptions = {}): Promise<Storage> {
  const u = parseDbUrl(url);
  if (u.kind === 'memory') return u.file === null ? new MemoryStorage() : loadProvisioningFile(u.file);
  return MysqlStorage.connect(u, opts);
}

/**
 * Refuses a database whose tables are missing or of another version (what Kamailio does at
 * module init): running on a half-migrated schema would fail on the first REGISTER instead.
 * `tables` defaults to those of the chapter-5 route; the provider route adds
 * `Object.keys(PROVIDER_TABLE_VERSIONS)` (their versions are checked the same way).
 */
export async function assertSchema(storage: Storage, tables: readonly string[] = Object.keys(REQUIRED_TABLE_VERSIONS)): Promise<void> {
  let versions: Map<string, number>;
  try {
    versions = await storage.versions();
  } catch (err) {
    if (err instanceof StorageError && err.code === 'STORAGE_ERR_SCHEMA') {
      throw new StorageError('STORAGE_ERR_SCHEMA', `${storage.description} has no Kamailio schema (no version table); run sipctl db init`);
    }
    throw err;
  }
  for (const t of tables) {
    const want = REQUIRED_TABLE_VERSIONS[t] ?? PROVIDER_TABLE_VERSIONS[t];
    const have = versions.get(t);
    if (have === undefined) throw new StorageError('STORAGE_ERR_SCHEMA', `${storage.description} has no ${t} table; run sipctl db init`);
    if (want !== undefined && have !== want) {
      throw new StorageError('STORAGE_ERR_SCHEMA', `table ${t} in ${storage.description} has version ${have}, this proxy needs ${want} (Kamailio 5.6 schema)`);
    }
  }
}
