import { KeyedMutex } from '@e2ee-kit/core';

const mutexes = new WeakMap<object, KeyedMutex>();

/** One `KeyedMutex` per store object, shared by every `SessionCipher` and `PreKeyManager` using it. */
export function mutexFor(store: object): KeyedMutex {
  let m = mutexes.get(store);
  if (!m) {
    m = new KeyedMutex();
    mutexes.set(store, m);
  }
  return m;
}

/** Mutex key of the pre-key state (ids, rotation); cannot collide with an address key (`name.deviceId`). */
export const PREKEY_STATE_LOCK = '\u0000prekey-state';
