/**
 * The default lock of each store object, shared by every copy of this package in one JavaScript
 * realm. An app can end up with two copies (it `import`s the package while a dependency `require`s
 * it, or a bundle holds two versions); with a mutex per copy, ciphers of both copies over one store
 * did not exclude each other: two encrypts at once sent one iteration twice (one message key for two
 * plaintexts) and one message decrypted twice. So the map lives in one slot on `globalThis` under a
 * registered symbol, created on first use (never at module load: the package stays free of side
 * effects). The `@1` names the shape (a `WeakMap` from store object to a `LockManager`); a copy whose
 * shape differs must use another key.
 */
import { isLockManager, KeyedMutex, type LockManager } from '@e2ee-kit/core';

const KEY = Symbol.for('@e2ee-kit/sender-keys/store-locks@1');
let locks: WeakMap<object, LockManager> | undefined;

function sharedLocks(): WeakMap<object, LockManager> {
  if (locks === undefined) {
    const slot = globalThis as { [KEY]?: unknown };
    const found = slot[KEY];
    locks = found instanceof WeakMap ? (found as WeakMap<object, LockManager>) : new WeakMap();
    // A frozen global (a hardened realm) keeps this copy's map its own: still correct for every
    // cipher of this copy.
    try {
      slot[KEY] = locks;
    } catch {}
  }
  return locks;
}

/** The in-process mutex of `store`, the same one for every cipher (of any copy) over that object. */
export function storeLock(store: object): LockManager {
  const map = sharedLocks();
  let lock = map.get(store);
  if (lock === undefined || !isLockManager(lock)) {
    lock = new KeyedMutex();
    map.set(store, lock);
  }
  return lock;
}
