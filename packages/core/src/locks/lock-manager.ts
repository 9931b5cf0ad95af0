/**
 * Pluggable locking. Everything that reads and then writes one party's state (a session, a sender-key
 * chain, a counter of the app's) must run under one lock per key, or two writers both read version n
 * and both write n + 1 — with a ratchet that means one message key used twice. Which lock is enough
 * depends on who shares the storage: one JavaScript context (the default below), several tabs and
 * workers of one origin (`WebLocksManager`), or several processes (a database lock, see the storage
 * guide).
 */
import { KeyedMutex } from '../mutex.js';

/**
 * Runs `fn` while holding the exclusive lock named `key`; calls for one key run one after another,
 * calls for different keys may overlap. The lock is released when `fn`'s promise settles, whatever
 * the outcome, and `run` settles like `fn` did.
 *
 * Not re-entrant (neither implementation here nor `navigator.locks` is): an `fn` that awaits `run` for
 * its own key waits for itself forever. A store method must therefore never call back into a cipher
 * for the same party, and a holder whose promise never settles blocks its key for good.
 */
export interface LockManager {
  run<T>(key: string, fn: () => Promise<T>): Promise<T>;
}

/** The default: excludes callers of this one object in this one JavaScript context, nothing more. */
export class InProcessLockManager implements LockManager {
  readonly #mutex = new KeyedMutex();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.#mutex.run(key, fn);
  }
}

/** True if `value` has a callable `run` (a `LockManager` from any copy of this package). */
export function isLockManager(value: unknown): value is LockManager {
  return (
    value !== null && typeof value === 'object' && typeof (value as { run?: unknown }).run === 'function'
  );
}
