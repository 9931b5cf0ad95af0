/**
 * The backup's wrong-password lockout, kept in the client's store (IndexedDB in the browser) so
 * that five wrong tries and the waits they impose hold across page reloads and restarts — an
 * in-memory counter would be reset by pressing F5.
 */
import { type AttemptPolicy, type AttemptStore, LocalBackoffPolicy } from '@e2ee-kit/backup-kdf';

/**
 * The attempt policy for backups opened on this device. `store` is the store's own attempt table
 * (`KvStore.backupAttempts`, never part of a backup: a restore must not bring back a lower count),
 * written in transactions of its own so that a failed unlock still counts.
 */
export function attemptPolicy(store: AttemptStore, now?: () => number): AttemptPolicy {
  return new LocalBackoffPolicy({ store, ...(now ? { now } : {}) });
}
