/**
 * Calls that would wait for a `deliver` callback which waits for them. `decrypt` runs the app's
 * `deliver` under its locks; a cipher or pre-key manager call from it for one of those locks waits for
 * the decrypt, which waits for `deliver`. Without an async context (none in browsers) a call cannot
 * tell whether it comes from that callback or from another task, so only the calls known to be the
 * callback's own are refused (at once, with `REENTRANT_CALL`, before anything is done):
 * - made synchronously from `deliver` (the `delivering` marker is set while it runs; one marker for
 *   every copy of this package, `shared-state.ts`, so a call into another copy's cipher is seen too);
 * - made synchronously inside `scope.run(fn)`, the `DeliverScope` handed to `deliver`, while that
 *   `deliver` has not settled — the way for a callback to mark its calls after an await.
 * Any other call waits for the lock as usual, however long the `deliver` ahead of it runs: it may be
 * another task's (the next message off the socket, the UI sending), and failing it because a store
 * is slow would be wrong. (A callback that awaits its own address's lock unmarked waits for ever,
 * like any code awaiting a lock it holds: the README says to reply once `decrypt` resolved.)
 */
import { E2eeError, type LockManager } from '@e2ee-kit/core';
import { RatchetErrorCode } from './errors.js';
import { PREKEY_STATE_LOCK } from './locks.js';
import { type Delivery, sharedState } from './shared-state.js';

/** Handed to a `deliver` callback as its third argument. */
export interface DeliverScope {
  /**
   * Runs `fn` and returns what it returns; a `SessionCipher` or `PreKeyManager` call that `fn` makes
   * synchronously (the call itself, not what it awaits later) for a lock this decrypt holds is
   * refused at once with `REENTRANT_CALL` instead of waiting for a decrypt that waits for it. Once
   * the `deliver` has settled, `fn` just runs.
   */
  run<T>(fn: () => T): T;
}

/** Runs `fn` with `d` marked as running synchronously (restoring the outer mark, so nesting works). */
function marked<T>(d: Delivery | undefined, fn: () => T): T {
  const shared = sharedState();
  const outer = shared.delivering;
  shared.delivering = d;
  try {
    return fn();
  } finally {
    shared.delivering = outer;
  }
}

/**
 * Runs the app's `deliver` as the delivery of a decrypt holding `key` on `locks` (and the pre-key
 * lock, for a PreKey message), with the `DeliverScope` that marks its calls.
 */
export async function runDeliver(
  locks: LockManager,
  key: string,
  preKey: boolean,
  deliver: (scope: DeliverScope) => Promise<void> | void,
): Promise<void> {
  const d: Delivery = { locks, keys: preKey ? [key, PREKEY_STATE_LOCK] : [key], settled: false };
  const scope: DeliverScope = Object.freeze({
    run: <T>(fn: () => T): T => {
      if (typeof fn !== 'function') throw new TypeError('scope.run needs a function');
      return marked(d.settled ? sharedState().delivering : d, fn);
    },
  });
  try {
    await marked(d, () => deliver(scope));
  } finally {
    d.settled = true;
  }
}

function holds(d: Delivery, locks: LockManager, keys: readonly string[]): boolean {
  return d.locks === locks && keys.some((k) => d.keys.includes(k));
}

/**
 * The refusal for a call that will take `keys` on `locks`, if it is made (synchronously) from a
 * running `deliver` that holds one of them. For a method that awaits before taking its first lock
 * (`PreKeyManager.maintain`): checked at its start, while the marker can still be seen.
 */
export function deliverRefusal(locks: LockManager, keys: readonly string[]): E2eeError | undefined {
  const { delivering } = sharedState();
  // (`scope.run` never marks a settled delivery, so a marked one is always still running.)
  return delivering && holds(delivering, locks, keys)
    ? new E2eeError(RatchetErrorCode.ReentrantCall, 'called from deliver')
    : undefined;
}

/**
 * `locks.run(key, fn)` for a call that may also need `alsoKeys` later (a PreKey decrypt takes the
 * pre-key lock inside its address lock), refused when it is made from a running `deliver` (see
 * above) that holds one of them.
 */
export function runGuarded<T>(
  locks: LockManager,
  key: string,
  fn: () => Promise<T>,
  alsoKeys: readonly string[] = [],
): Promise<T> {
  const refusal = deliverRefusal(locks, [key, ...alsoKeys]);
  if (refusal) return Promise.reject(refusal);
  // Always a promise of our own: an app's lock manager whose `run` throws (or returns a bare value)
  // makes the call reject, never throw out of a method that returns a promise.
  return new Promise<T>((resolve, reject) => {
    Promise.resolve(locks.run(key, fn)).then(resolve, reject);
  });
}
