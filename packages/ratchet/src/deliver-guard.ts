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
 * Any other call waits for the lock as usual: it may be another task's (the next message off the
 * socket, the UI sending), and failing it because a store is slow would be wrong. But a callback that
 * awaits its own address's lock unmarked (`await db.put(m); await cipher.encrypt(receipt)`, a common
 * mistake) would wait for ever, with the address — or, for a PreKey message, every pre-key operation —
 * locked for the rest of the process. So, as a backstop, a call still waiting behind the same running
 * `deliver` after `DELIVER_WAIT_LIMIT_MS` is refused with `REENTRANT_CALL` (nothing done; it can be
 * made again): a typed error where the alternative is a hang. The limit is a minute — far above any
 * store write — so another task's call meets it only behind a `deliver` that is itself stuck.
 */
import { E2eeError, type LockManager } from '@e2ee-kit/core';
import { RatchetErrorCode } from './errors.js';
import { PREKEY_STATE_LOCK } from './locks.js';
import { type Delivery, sharedState } from './shared-state.js';

/** How long an unmarked call may wait behind a running `deliver` that holds its lock (see above). */
export const DELIVER_WAIT_LIMIT_MS = 60_000;

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
  const { running } = sharedState();
  running.add(d);
  try {
    await marked(d, () => deliver(scope));
  } finally {
    d.settled = true;
    running.delete(d);
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
  const keys = [key, ...alsoKeys];
  const refusal = deliverRefusal(locks, keys);
  if (refusal) return Promise.reject(refusal);
  const blocking = [...sharedState().running].filter((d) => holds(d, locks, keys));
  // Always a promise of our own: an app's lock manager whose `run` throws (or returns a bare value)
  // makes the call reject, never throw out of a method that returns a promise.
  return new Promise<T>((resolve, reject) => {
    // 0 waiting, 1 running, 2 refused (then the lock, once granted, is handed straight on).
    let state = 0;
    const timer =
      blocking.length === 0
        ? undefined
        : setTimeout(() => {
            if (state === 0 && blocking.some((d) => !d.settled)) {
              state = 2;
              reject(
                new E2eeError(
                  RatchetErrorCode.ReentrantCall,
                  'waited a minute for a deliver that holds this lock (called from it after an await?)',
                ),
              );
            }
          }, DELIVER_WAIT_LIMIT_MS);
    Promise.resolve(
      locks.run(key, () => {
        // Hermes' clearTimeout throws on anything but a timer id (undefined included).
        if (timer !== undefined) clearTimeout(timer);
        if (state === 2) return Promise.resolve(undefined as T);
        state = 1;
        return fn();
      }),
    ).then(resolve, reject);
  });
}
