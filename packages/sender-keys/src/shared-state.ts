/**
 * The module state every copy of this package in one JavaScript realm must share. An app can end up
 * with two copies (it `import`s the package while a dependency `require`s it, or a bundle holds two
 * versions); with state per copy, ciphers of both copies over one store took separate default locks
 * (two encrypts at once sent one iteration twice; one message decrypted twice), and a call from one
 * copy's `deliver` into the other copy's cipher would not be seen as reentrant (a wait for ever). So
 * the state lives in one slot on `globalThis` under a registered symbol, created on first use (never
 * at module load: the package stays free of side effects). The `@1` names the shape below; a copy
 * whose shape differs must use another key.
 */
import { type DeliveryState, isLockManager, KeyedMutex, type LockManager } from '@e2ee-kit/core';

/** The default lock of each store object, and core's deliver-guard state. */
interface SharedState extends DeliveryState {
  readonly locks: WeakMap<object, LockManager>;
}

const KEY = Symbol.for('@e2ee-kit/sender-keys/shared-state@1');
let state: SharedState | undefined;

export function sharedState(): SharedState {
  if (state === undefined) {
    const slot = globalThis as { [KEY]?: SharedState };
    const found = slot[KEY];
    state =
      found?.locks instanceof WeakMap && found.running instanceof Set
        ? found
        : { locks: new WeakMap(), delivering: undefined, running: new Set() };
    // A frozen global (a hardened realm) keeps this copy's state its own: still correct for every
    // cipher of this copy.
    try {
      slot[KEY] = state;
    } catch {}
  }
  return state;
}

/** The in-process mutex of `store`, the same one for every cipher (of any copy) over that object. */
export function storeLock(store: object): LockManager {
  const { locks } = sharedState();
  let lock = locks.get(store);
  if (lock === undefined || !isLockManager(lock)) {
    lock = new KeyedMutex();
    locks.set(store, lock);
  }
  return lock;
}
