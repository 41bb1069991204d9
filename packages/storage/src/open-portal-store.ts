/** The PortalStore of a Storage the portal opened with `openStorage`. */
import { MemoryPortalStore } from './memory-portal-store.js';
import { MemoryStorage } from './memory-storage.js';
import { MysqlPortalStore } from './mysql-portal-store.js';
import { MysqlStorage } from './mysql-storage.js';
import type { PortalStore } from './portal-store.js';
import type { Storage } from './storage.js';

export function openPortalStore(storage: Storage): PortalStore {
  if (storage instanceof MysqlStorage) return new MysqlPortalStore(storage);
  if (storage instanceof MemoryStorage) return new MemoryPortalStore(storage);
  throw new Error(`no portal store for storage kind ${storage.kind}`);
}
