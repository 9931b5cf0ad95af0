/** `SqliteStore.open(db, options)`: the e2ee-kit stores in one SQLite file. */
import { KvStore, type KvStoreOptions } from '@e2ee-kit/store-kv';
import type BetterSqlite3 from 'better-sqlite3';
import { SqliteBackend, type SqliteBackendOptions } from './sqlite-backend.js';

export interface SqliteStoreOptions extends KvStoreOptions, SqliteBackendOptions {}

export const SqliteStore = {
  /**
   * Opens the stores in `db` (a better-sqlite3 `Database` the app created and closes), creating the
   * tables and the identity on first use.
   */
  async open(db: BetterSqlite3.Database, options: SqliteStoreOptions = {}): Promise<KvStore> {
    const backendOptions: {
      busyTimeoutMs?: number;
      durability?: 'full' | 'normal';
      onStatement?: (i: number) => void;
    } = {};
    if (options.durability !== undefined) backendOptions.durability = options.durability;
    if (options.busyTimeoutMs !== undefined) backendOptions.busyTimeoutMs = options.busyTimeoutMs;
    if (options.onStatement !== undefined) backendOptions.onStatement = options.onStatement;
    return KvStore.open(new SqliteBackend(db, backendOptions), options);
  },
} as const;
