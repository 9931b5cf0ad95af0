// @e2ee-kit/store-sqlite — the e2ee-kit stores in a SQLite file (Node, better-sqlite3 12).
export type { KvStore as SqliteStoreHandle, KvStoreOptions, KvTransaction } from '@e2ee-kit/store-kv';
export { SQLITE_SCHEMA_VERSION, SqliteBackend, type SqliteBackendOptions } from './sqlite-backend.js';
export { SqliteLockManager, type SqliteLockManagerOptions } from './sqlite-lock.js';
export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.js';
