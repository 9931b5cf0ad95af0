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
import {
  runDeliver as coreRunDeliver,
  runGuarded as coreRunGuarded,
  type DeliverScope,
  type LockManager,
} from '@e2ee-kit/core';
import { sharedState } from './shared-state.js';

export { DELIVER_WAIT_LIMIT_MS, type DeliverScope } from '@e2ee-kit/core';

/** Runs the app's `deliver` as the delivery of a decrypt holding `key` on `locks` (core's guard). */
export function runDeliver(
  locks: LockManager,
  key: string,
  deliver: (scope: DeliverScope) => Promise<void> | void,
): Promise<void> {
  return coreRunDeliver(sharedState(), locks, [key], deliver);
}

/** `locks.run(key, fn)`, guarded (core's `runGuarded`, over this package's shared state). */
export function runGuarded<T>(locks: LockManager, key: string, fn: () => Promise<T>): Promise<T> {
  return coreRunGuarded(sharedState(), locks, key, fn);
}
