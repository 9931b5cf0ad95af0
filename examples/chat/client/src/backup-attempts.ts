/**
 * The backup's wrong-password lockout, kept in the client's storage (IndexedDB in the browser) so
 * that five wrong tries and the waits they impose hold across page reloads and restarts — an
 * in-memory counter would be reset by pressing F5.
 */
import { type AttemptPolicy, type AttemptStore, LocalBackoffPolicy } from '@e2ee-kit/backup-kdf';
import type { ChatStorage } from './storage.js';

/** Storage keys of the attempt records (never part of a backup). */
export const ATTEMPTS_PREFIX = 'attempts:';

class ChatAttemptStore implements AttemptStore {
  readonly #storage: ChatStorage;
  constructor(storage: ChatStorage) {
    this.#storage = storage;
  }
  get(key: string): Promise<Uint8Array | undefined> {
    return this.#storage.get(ATTEMPTS_PREFIX + key);
  }
  set(key: string, value: Uint8Array): Promise<void> {
    return this.#storage.commit(new Map([[ATTEMPTS_PREFIX + key, value.slice()]]));
  }
}

/** The attempt policy for backups opened on this device (one budget per device storage). */
export function attemptPolicy(storage: ChatStorage, now?: () => number): AttemptPolicy {
  return new LocalBackoffPolicy({ store: new ChatAttemptStore(storage), ...(now ? { now } : {}) });
}
