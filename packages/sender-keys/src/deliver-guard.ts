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
 * socket), and that one must wait, not fail. (The ratchet's rules, `@e2ee-kit/ratchet`.)
 */
import { E2eeError, type LockManager } from '@e2ee-kit/core';
import { SenderKeyErrorCode } from './errors.js';
import { type Delivery, sharedState } from './shared-state.js';

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
  try {
    await marked(d, () => deliver(scope));
  } finally {
    d.settled = true;
  }
}

/** The refusal for a call taking `key` on `locks`, if it is made (synchronously) from that key's `deliver`. */
export function deliverRefusal(locks: LockManager, key: string): E2eeError | undefined {
  const { delivering } = sharedState();
  return delivering !== undefined && delivering.locks === locks && delivering.key === key
    ? new E2eeError(SenderKeyErrorCode.ReentrantCall, 'called from deliver')
    : undefined;
}
