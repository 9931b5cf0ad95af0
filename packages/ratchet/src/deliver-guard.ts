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
import {
  deliverRefusal as coreRefusal,
  runDeliver as coreRunDeliver,
  runGuarded as coreRunGuarded,
  type DeliverScope,
  type E2eeError,
  type LockManager,
} from '@e2ee-kit/core';
import { PREKEY_STATE_LOCK } from './locks.js';
import { sharedState } from './shared-state.js';

export { DELIVER_WAIT_LIMIT_MS, type DeliverScope } from '@e2ee-kit/core';

/**
 * Runs the app's `deliver` as the delivery of a decrypt holding `key` on `locks` (and the pre-key
 * lock, for a PreKey message), with the `DeliverScope` that marks its calls (core's guard, over this
 * package's state shared by its copies).
 */
export function runDeliver(
  locks: LockManager,
  key: string,
  preKey: boolean,
  deliver: (scope: DeliverScope) => Promise<void> | void,
): Promise<void> {
  return coreRunDeliver(sharedState(), locks, preKey ? [key, PREKEY_STATE_LOCK] : [key], deliver);
}

/** The refusal for a call that will take `keys` on `locks` from a running `deliver` holding one. */
export function deliverRefusal(locks: LockManager, keys: readonly string[]): E2eeError | undefined {
  return coreRefusal(sharedState(), locks, keys);
}

/** `locks.run(key, fn)`, guarded (core's `runGuarded`; `alsoKeys`: the pre-key lock a PreKey decrypt takes later). */
export function runGuarded<T>(
  locks: LockManager,
  key: string,
  fn: () => Promise<T>,
  alsoKeys: readonly string[] = [],
): Promise<T> {
  return coreRunGuarded(sharedState(), locks, key, fn, alsoKeys);
}
