import { isLockManager, KeyedMutex, type LockManager } from '@e2ee-kit/core';
import { sharedState } from './shared-state.js';

/**
 * One `KeyedMutex` per store object, shared by every `SessionCipher` and `PreKeyManager` using it —
 * those of another copy of this package too (`shared-state.ts`).
 */
export function mutexFor(store: object): LockManager {
  const { mutexes } = sharedState();
  let m = mutexes.get(store);
  if (!m) {
    m = new KeyedMutex();
    mutexes.set(store, m);
  }
  return m;
}

/**
 * The locks a cipher or pre-key manager takes: the app's `lockManager` (e.g. `WebLocksManager`, so
 * tabs and workers of one origin exclude each other), or by default the in-process mutex of the store
 * object. Every object sharing a database must be given the same kind of lock, or they do not
 * exclude each other.
 */
export function locksFor(store: object, lockManager: unknown): LockManager {
  if (lockManager === undefined) return mutexFor(store);
  if (!isLockManager(lockManager)) throw new TypeError('lockManager must have run(key, fn)');
  return lockManager;
}

/**
 * Lock key of the pre-key state (ids, rotation) and of one-time pre-key consumption; cannot collide
 * with an address key (`name.deviceId`). Nesting rule: an address lock may be held while this one is
 * taken, never the reverse — so two decrypts cannot wait on each other.
 */
export const PREKEY_STATE_LOCK = '\u0000prekey-state';
