/**
 * The module state that every copy of this package in one JavaScript realm must share. An app can end
 * up with two copies (it `import`s the package while a dependency `require`s it, or a bundle holds two
 * versions); with state per copy, ciphers of both copies over one store would take separate default
 * locks (no mutual exclusion), and a call from one copy's `deliver` into the other copy's cipher would
 * not be seen as reentrant (a wait for ever instead of `REENTRANT_CALL`). So the state lives in one
 * slot on `globalThis` under a registered symbol, created on first use (never at module load: the
 * package stays free of side effects). The `@1` names the shape below; a copy whose shape differs
 * must use another key.
 */
import type { DeliveryState, LockManager } from '@e2ee-kit/core';

/** The default lock manager of each store object (`locks.ts`), and core's deliver-guard state. */
export interface SharedState extends DeliveryState {
  readonly mutexes: WeakMap<object, LockManager>;
}

const KEY = Symbol.for('@e2ee-kit/ratchet/shared-state@1');
let state: SharedState | undefined;

export function sharedState(): SharedState {
  if (state === undefined) {
    const slot = globalThis as { [KEY]?: SharedState };
    state = slot[KEY] ?? { mutexes: new WeakMap(), delivering: undefined, running: new Set() };
    // A frozen global (a hardened realm) keeps this copy's state its own, as before sharing: still
    // correct for every cipher of this copy.
    try {
      slot[KEY] = state;
    } catch {}
  }
  return state;
}
