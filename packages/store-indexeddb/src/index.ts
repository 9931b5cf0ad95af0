// @e2ee-kit/store-indexeddb — the e2ee-kit stores in IndexedDB (browsers, workers).
// The locks tabs and workers of one origin need, re-exported so the app needs no direct core import.
export {
  InProcessLockManager,
  type LockManager,
  WebLocksManager,
  type WebLocksManagerOptions,
} from '@e2ee-kit/core';
export type { KvStore, KvStoreOptions, KvTransaction } from '@e2ee-kit/store-kv';
export { type DeleteIdbOptions, deleteIdbDatabase } from './deletion.js';
export { IdbBackend, type IdbBackendOptions } from './idb-backend.js';
export { IndexedDbStore, type IndexedDbStoreOptions } from './idb-store.js';
export { IDB_SCHEMA_VERSION, type OpenIdbOptions, openIdbDatabase } from './open.js';
