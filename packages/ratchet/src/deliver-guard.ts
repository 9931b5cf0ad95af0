/**
 * Calls that would wait for a `deliver` callback which waits for them. `decrypt` runs the app's
 * `deliver` under its locks; a cipher or pre-key manager call from it for one of those locks waits for
 * the decrypt, which waits for `deliver`. Without an async context (none in browsers) a call cannot
 * tell whether it comes from that callback or from another task, so:
 * - made synchronously from `deliver` (the `delivering` marker is set): refused at once;
 * - made while a `deliver` holding its lock is running in this JavaScript context: it waits as usual
 *   (another task's call must just wait) — but if that same `deliver` is still running after
 *   `DELIVER_WAIT_LIMIT_MS`, it is refused: either the callback awaits it (without the refusal, a hang
 *   for ever, with the address — or for PreKey messages every pre-key operation — locked) or the
 *   callback is that slow; then the call fails and can be made again, nothing was done.
 */
import { E2eeError, type LockManager } from '@e2ee-kit/core';
import { RatchetErrorCode } from './errors.js';
import { PREKEY_STATE_LOCK } from './locks.js';

/** How long a call may wait behind a running `deliver` that holds its lock before it is refused. */
export const DELIVER_WAIT_LIMIT_MS = 10_000;

interface Delivery {
  readonly locks: LockManager;
  readonly keys: readonly string[];
}

/** The delivery whose `deliver` is running synchronously right now (JavaScript runs one thing at a time). */
let delivering: Delivery | undefined;
/** Every delivery whose `deliver` has started and not settled, in this JavaScript context. */
const running = new Set<Delivery>();

/**
 * Runs the app's `deliver` as the delivery of a decrypt holding `key` on `locks` (and the pre-key
 * lock, for a PreKey message), so the calls it makes can be told apart as far as possible.
 */
export async function runDeliver(
  locks: LockManager,
  key: string,
  preKey: boolean,
  deliver: () => Promise<void> | void,
): Promise<void> {
  const d: Delivery = { locks, keys: preKey ? [key, PREKEY_STATE_LOCK] : [key] };
  const outer = delivering;
  delivering = d;
  running.add(d);
  try {
    let pending: Promise<void> | void;
    try {
      pending = deliver();
    } finally {
      delivering = outer;
    }
    await pending;
  } finally {
    running.delete(d);
  }
}

function holds(d: Delivery, locks: LockManager, keys: readonly string[]): boolean {
  return d.locks === locks && keys.some((k) => d.keys.includes(k));
}

/**
 * `locks.run(key, fn)` for a call that may also need `alsoKeys` later (a PreKey decrypt takes the
 * pre-key lock inside its address lock), refused as described above when it would wait for a
 * running `deliver` that holds one of them.
 */
export function runGuarded<T>(
  locks: LockManager,
  key: string,
  fn: () => Promise<T>,
  alsoKeys: readonly string[] = [],
): Promise<T> {
  const keys = [key, ...alsoKeys];
  const refusal = (why: string) => new E2eeError(RatchetErrorCode.ReentrantCall, why);
  if (delivering && holds(delivering, locks, keys)) return Promise.reject(refusal('called from deliver'));
  const blocking = [...running].filter((d) => holds(d, locks, keys));
  // Always a promise of our own: an app's lock manager whose `run` throws (or returns a bare value)
  // makes the call reject, never throw out of a method that returns a promise.
  return new Promise<T>((resolve, reject) => {
    // 0 waiting, 1 running, 2 refused (then the lock, once granted, is handed straight on).
    let state = 0;
    const timer =
      blocking.length === 0
        ? undefined
        : setTimeout(() => {
            if (state === 0 && blocking.some((d) => running.has(d))) {
              state = 2;
              reject(refusal('waited for a deliver that holds this lock'));
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
