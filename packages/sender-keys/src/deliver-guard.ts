/**
 * Calls that would wait for a `deliver` callback which waits for them. `decrypt` runs the app's
 * `deliver` under the (sender, distribution id) lock; a `GroupCipher` call from it for that key
 * waits for the decrypt, which waits for `deliver`: for ever, with every later message of that sender
 * in that group stuck behind it. Without an async context (none in browsers) a call cannot tell
 * whether it comes from that callback or from another task, so only the calls known to be the
 * callback's own are refused (at once, with `REENTRANT_CALL`, before anything is done):
 * - made synchronously from `deliver` (the `delivering` marker is set while it runs; one marker for
 *   every copy of this package, `shared-state.ts`);
 * - made synchronously inside `scope.run(fn)`, the `DeliverScope` handed to `deliver`, while that
 *   `deliver` has not settled — the way for a callback to mark its calls after an await.
 * Any other call waits for the lock as usual: it may be another task's (the next message off the
 * socket), and that one must wait, not fail. But a callback that awaits its own key's lock unmarked
 * (`await db.put(m); await cipher.decrypt(sender, next)`, a common mistake) would wait for ever, with
 * that sender's messages in that group stuck for the rest of the process. So, as a backstop, a call
 * still waiting behind the same running `deliver` after `DELIVER_WAIT_LIMIT_MS` is refused with
 * `REENTRANT_CALL` (nothing done; it can be made again): a typed error where the alternative is a
 * hang. The limit is a minute — far above any store write — so another task's call meets it only
 * behind a `deliver` that is itself stuck. (The ratchet's rules, `@e2ee-kit/ratchet`.)
 */
import { E2eeError, type LockManager } from '@e2ee-kit/core';
import { SenderKeyErrorCode } from './errors.js';
import { type Delivery, sharedState } from './shared-state.js';

/** How long an unmarked call may wait behind a running `deliver` that holds its lock (see above). */
export const DELIVER_WAIT_LIMIT_MS = 60_000;

/** Handed to a `deliver` callback as its third argument. */
export interface DeliverScope {
  /**
   * Runs `fn` and returns what it returns; a `GroupCipher` call that `fn` makes synchronously for
   * the (sender, distribution id) being decrypted is refused at once with `REENTRANT_CALL` instead
   * of waiting for a decrypt that waits for it. Once the `deliver` has settled, `fn` just runs.
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

/** Runs the app's `deliver` as the delivery of a decrypt holding `key` on `locks`. */
export async function runDeliver(
  locks: LockManager,
  key: string,
  deliver: (scope: DeliverScope) => Promise<void> | void,
): Promise<void> {
  const d: Delivery = { locks, key, settled: false };
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

const holds = (d: Delivery, locks: LockManager, key: string) => d.locks === locks && d.key === key;

/**
 * `locks.run(key, fn)`, refused at once when called (synchronously) from that key's own `deliver`,
 * and after `DELIVER_WAIT_LIMIT_MS` when still waiting behind a `deliver` of that key that has not
 * settled (see above).
 */
export function runGuarded<T>(locks: LockManager, key: string, fn: () => Promise<T>): Promise<T> {
  const { delivering, running } = sharedState();
  if (delivering !== undefined && holds(delivering, locks, key))
    return Promise.reject(new E2eeError(SenderKeyErrorCode.ReentrantCall, 'called from deliver'));
  const blocking = [...running].filter((d) => holds(d, locks, key));
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
                  SenderKeyErrorCode.ReentrantCall,
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
