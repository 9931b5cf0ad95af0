/**
 * The deliver guard the ratchet's and sender-keys' decrypts share: calls that would wait for an app's
 * `deliver` callback which waits for them. A decrypt runs `deliver` under its locks; a call from it
 * for one of those locks waits for the decrypt, which waits for `deliver`. Without an async context
 * (none in browsers) a call cannot tell whether it comes from that callback or from another task, so
 * only the calls known to be the callback's own are refused (at once, with `REENTRANT_CALL`):
 * - made synchronously from `deliver` (`delivering` is set while it runs);
 * - made synchronously inside `scope.run(fn)` while that `deliver` has not settled — the way for a
 *   callback to mark its calls after an await.
 * Any other call waits for the lock as usual (it may be another task's). As a backstop for a callback
 * that awaits its own lock unmarked (a hang otherwise), a call still waiting behind the same running
 * `deliver` after `DELIVER_WAIT_LIMIT_MS` is refused with `REENTRANT_CALL` (nothing done). The state
 * is the caller's: each package keeps one per realm, shared by its copies (a `Symbol.for` slot).
 */
import { E2eeError, type E2eeErrorCode } from '../errors.js';
import type { LockManager } from './lock-manager.js';

/** How long an unmarked call may wait behind a running `deliver` that holds its lock. */
export const DELIVER_WAIT_LIMIT_MS = 60_000;

/** A decrypt whose app `deliver` callback is running: the locks it holds while it waits for it. */
export interface RunningDelivery {
  readonly locks: LockManager;
  readonly keys: readonly string[];
  /** True once the app's `deliver` has settled (its decrypt no longer waits for it). */
  settled: boolean;
}

/** What a package keeps for the guard (one per realm for all its copies). */
export interface DeliveryState {
  /** The delivery whose callback (or `scope.run`) runs synchronously right now. */
  delivering: RunningDelivery | undefined;
  /** Every delivery whose callback has started and not settled (the backstop). */
  readonly running: Set<RunningDelivery>;
}

/** Handed to a `deliver` callback as its third argument. */
export interface DeliverScope {
  /**
   * Runs `fn` and returns what it returns; a call that `fn` makes synchronously for a lock this
   * decrypt holds is refused at once with `REENTRANT_CALL` instead of waiting for a decrypt that
   * waits for it. Once the `deliver` has settled, `fn` just runs.
   */
  run<T>(fn: () => T): T;
}

// The code is the packages' own (`RatchetErrorCode.ReentrantCall`, `SenderKeyErrorCode.ReentrantCall`);
// core's `ErrorCode` does not list it, so apps of core alone pay nothing for it.
const reentrant = (message: string) => new E2eeError('REENTRANT_CALL' as E2eeErrorCode, message);

/** Runs `fn` with `d` marked as running synchronously (restoring the outer mark, so nesting works). */
function marked<T>(state: DeliveryState, d: RunningDelivery | undefined, fn: () => T): T {
  const outer = state.delivering;
  state.delivering = d;
  try {
    return fn();
  } finally {
    state.delivering = outer;
  }
}

/** Runs the app's `deliver` as the delivery of a decrypt holding `keys` on `locks`. */
export async function runDeliver(
  state: DeliveryState,
  locks: LockManager,
  keys: readonly string[],
  deliver: (scope: DeliverScope) => Promise<void> | void,
): Promise<void> {
  const d: RunningDelivery = { locks, keys, settled: false };
  const scope: DeliverScope = Object.freeze({
    run: <T>(fn: () => T): T => {
      if (typeof fn !== 'function') throw new TypeError('scope.run needs a function');
      return marked(state, d.settled ? state.delivering : d, fn);
    },
  });
  state.running.add(d);
  try {
    await marked(state, d, () => deliver(scope));
  } finally {
    d.settled = true;
    state.running.delete(d);
  }
}

const holds = (d: RunningDelivery, locks: LockManager, keys: readonly string[]) =>
  d.locks === locks && keys.some((k) => d.keys.includes(k));

/**
 * The refusal for a call that will take `keys` on `locks`, if it is made (synchronously) from a
 * running `deliver` that holds one of them. (`scope.run` never marks a settled delivery.)
 */
export function deliverRefusal(
  state: DeliveryState,
  locks: LockManager,
  keys: readonly string[],
): E2eeError | undefined {
  const { delivering } = state;
  return delivering && holds(delivering, locks, keys) ? reentrant('called from deliver') : undefined;
}

/**
 * `locks.run(key, fn)` for a call that may also need `alsoKeys` later, refused when it is made from a
 * running `deliver` holding one of them, and after `DELIVER_WAIT_LIMIT_MS` when still waiting behind
 * such a `deliver` that has not settled.
 */
export function runGuarded<T>(
  state: DeliveryState,
  locks: LockManager,
  key: string,
  fn: () => Promise<T>,
  alsoKeys: readonly string[] = [],
): Promise<T> {
  const keys = [key, ...alsoKeys];
  const refusal = deliverRefusal(state, locks, keys);
  if (refusal) return Promise.reject(refusal);
  const blocking = [...state.running].filter((d) => holds(d, locks, keys));
  // Always a promise of our own: an app's lock manager whose `run` throws (or returns a bare value)
  // makes the call reject, never throw out of a method that returns a promise.
  return new Promise<T>((resolve, reject) => {
    // 0 waiting, 1 running, 2 refused (then the lock, once granted, is handed straight on).
    let step = 0;
    const timer =
      blocking.length === 0
        ? undefined
        : setTimeout(() => {
            if (step === 0 && blocking.some((d) => !d.settled)) {
              step = 2;
              reject(
                reentrant(
                  'waited a minute for a deliver that holds this lock (called from it after an await?)',
                ),
              );
            }
          }, DELIVER_WAIT_LIMIT_MS);
    Promise.resolve(
      locks.run(key, () => {
        // Hermes' clearTimeout throws on anything but a timer id (undefined included).
        if (timer !== undefined) clearTimeout(timer);
        if (step === 2) return Promise.resolve(undefined as T);
        step = 1;
        return fn();
      }),
    ).then(resolve, reject);
  });
}
