// @e2ee-kit/store-indexeddb — the e2ee-kit stores in IndexedDB (browsers, workers).
export type { KvStore, KvStoreOptions, KvTransaction } from '@e2ee-kit/store-kv';
export { IDB_SCHEMA_VERSION, IdbBackend, type OpenIdbOptions, openIdbDatabase } from './idb-backend.js';
export { IndexedDbStore, type IndexedDbStoreOptions } from './idb-store.js';
