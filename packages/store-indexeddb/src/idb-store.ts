/** `IndexedDbStore.open(name, options)`: the e2ee-kit stores in one IndexedDB database. */
import { KvStore, type KvStoreOptions } from '@e2ee-kit/store-kv';
import { IdbBackend, type IdbBackendOptions } from './idb-backend.js';
import { type OpenIdbOptions, openIdbDatabase } from './open.js';

export interface IndexedDbStoreOptions extends KvStoreOptions, OpenIdbOptions, IdbBackendOptions {}

export const IndexedDbStore = {
  /** Opens (creating on first use) database `name` and the stores in it. Close with `db.close()`. */
  async open(
    name: string,
    options: IndexedDbStoreOptions = {},
  ): Promise<KvStore & { readonly db: IDBDatabase }> {
    const { indexedDB, onVersionChange, openTimeoutMs, IDBKeyRange } = options;
    const db = await openIdbDatabase(name, {
      ...(indexedDB ? { indexedDB } : {}),
      ...(onVersionChange ? { onVersionChange } : {}),
      ...(openTimeoutMs !== undefined ? { openTimeoutMs } : {}),
    });
    try {
      const store = await KvStore.open(new IdbBackend(db, IDBKeyRange ? { IDBKeyRange } : {}), options);
      return Object.assign(store, { db }) as KvStore & { readonly db: IDBDatabase };
    } catch (err) {
      db.close();
      throw err;
    }
  },
} as const;
