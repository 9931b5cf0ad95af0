/**
 * The web client's storage: `@e2ee-kit/store-indexeddb` (one IndexedDB database for the protocol
 * state and the app's rows, each operation one IndexedDB transaction) and a `WebLocksManager`, so two
 * tabs of this origin take turns: each operation holds the lock from its first read to its commit,
 * and neither tab can send with a counter the other already used.
 */
import type { ChatClientOptions, StoreOpener } from '@e2ee-kit/chat-client';
import { fromBase64, toBase64 } from '@e2ee-kit/core';
import {
  deleteIdbDatabase,
  IndexedDbStore,
  InProcessLockManager,
  type LockManager,
  WebLocksManager,
} from '@e2ee-kit/store-indexeddb';

/** Not the name of the example's earlier single-table database, which this format cannot open. */
export const DB_NAME = 'e2ee-kit-chat-store';

/** The connection last opened by this page (closed before the next open, so only one is live). */
let current: IDBDatabase | undefined;

const openStore: StoreOpener = async (options) => {
  current?.close();
  current = undefined;
  // A restore passes the backed-up identity, which only a new database takes: the welcome screen
  // offers restoring only when this database holds no account, so what is dropped is at most an
  // unregistered identity.
  if (options.identity) await deleteIdbDatabase(DB_NAME);
  const store = await IndexedDbStore.open(DB_NAME, options);
  // Another tab deleting the database (its restore) must not wait for this page to be closed.
  store.db.onversionchange = () => store.db.close();
  current = store.db;
  return store;
};

/** The `store` and `locks` options of every client of this page. */
export function webStorage(): { store: StoreOpener; locks: LockManager } {
  return {
    store: openStore,
    locks: WebLocksManager.isSupported()
      ? new WebLocksManager({ prefix: `${DB_NAME}:` })
      : new InProcessLockManager(),
  };
}

const ATTEMPTS = 'e2ee-kit-chat:backup-attempt:';

/**
 * Where a restore counts wrong backup passwords: localStorage, because a restore starts the
 * IndexedDB database afresh (and erasing this browser's copy deletes it), while the lockout must
 * hold across reloads and retries.
 */
export function restoreAttempts(): NonNullable<ChatClientOptions['backupAttempts']> {
  return {
    get: async (key) => {
      const v = localStorage.getItem(ATTEMPTS + key);
      return v === null ? undefined : fromBase64(v);
    },
    set: async (key, value) => {
      localStorage.setItem(ATTEMPTS + key, toBase64(value));
    },
    // Read, compare and write in one synchronous step, so two tabs restoring at once do not
    // overwrite each other's failures (the policy re-reads and retries when this says false).
    compareAndSet: async (key, expected, value) => {
      const stored = localStorage.getItem(ATTEMPTS + key);
      if (stored !== (expected === undefined ? null : toBase64(expected))) return false;
      localStorage.setItem(ATTEMPTS + key, toBase64(value));
      return true;
    },
  };
}
