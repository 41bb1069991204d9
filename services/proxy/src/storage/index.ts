export * from './storage.js';
export * from './storage-error.js';
export * from './storage-logger.js';
export * from './db-url.js';
export * from './ha1.js';
export { MemoryStorage } from './memory-storage.js';
export { MysqlStorage, type MysqlStorageOptions } from './mysql-storage.js';
export { loadProvisioningFile, provisionMemoryStorage, type Provisioning } from './provisioning-file.js';
export { openStorage, assertSchema } from './open-storage.js';
