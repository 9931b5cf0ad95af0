/**
 * Deleting a database, and keeping opens from queuing behind a deletion that another tab blocks.
 *
 * IndexedDB runs the requests for one name in order: an `open` made while a `deleteDatabase` waits
 * (an older tab keeps its connection open) waits too, for as long as that tab lives, and then
 * resolves to a new, empty database — the app hangs at start-up, then finds its data gone and a new
 * identity made. So `deleteIdbDatabase` holds a Web Lock (per origin: every tab and worker) in
 * exclusive mode until the deletion finished, and `openIdbDatabase` takes the same lock in shared mode
 * only if it is free at once: an open during a deletion is refused with a `StoreError` instead.
 * Within this JavaScript realm the same holds without Web Locks too (a map of the names it deletes),
 * which is all there is where the API is missing or refused.
 */
import { StoreError } from '@e2ee-kit/core';
import { waitBound } from './wait-bound.js';

/** The part of `navigator.locks` used here. */
interface Locks {
  request<T>(
    name: string,
    options: { mode: 'shared' | 'exclusive'; ifAvailable?: boolean },
    callback: (lock: unknown) => Promise<T>,
  ): Promise<T>;
}

function webLocks(): Locks | undefined {
  const locks = (globalThis as { navigator?: { locks?: Partial<Locks> } }).navigator?.locks;
  return typeof locks?.request === 'function' ? (locks as Locks) : undefined;
}

// Not starting with '-' (reserved by Web Locks). The name is the app's, not a secret.
const lockName = (name: string) => `e2ee-kit-idb-delete:${name}`;

/** Without Web Locks: the names this realm is deleting, per factory. */
const deletingHere = new WeakMap<IDBFactory, Map<string, number>>();

function beingDeleted(name: string): StoreError {
  return new StoreError(
    `IndexedDB database ${name} is being deleted (it completes once every other tab has closed it)`,
  );
}

/**
 * `callback` under Web Lock `name`; `otherwise()` when the Web Locks API refuses the request itself
 * (a SecurityError where the origin may not use it): then this realm's guard is all there is, which
 * is no worse than no guard — the lock must never stop an open or a deletion.
 */
async function underLock<T>(
  locks: Locks,
  name: string,
  options: { mode: 'shared' | 'exclusive'; ifAvailable?: boolean },
  callback: (lock: unknown) => Promise<T>,
  otherwise: () => Promise<T>,
): Promise<T> {
  let granted = false;
  try {
    return await locks.request(lockName(name), options, (lock) => {
      granted = true;
      return callback(lock);
    });
  } catch (err) {
    if (granted) throw err;
    return otherwise();
  }
}

/**
 * Runs `open` unless a deletion of `name` is running or waiting in any tab of the origin (then a
 * `StoreError`, without calling `open`). The shared lock is held until `open` settles, so a deletion
 * that starts meanwhile waits for this open to finish instead of racing it.
 */
export function unlessDeleting<T>(factory: IDBFactory, name: string, open: () => Promise<T>): Promise<T> {
  const here = () => (deletingHere.get(factory)?.get(name) ? Promise.reject(beingDeleted(name)) : open());
  const locks = webLocks();
  if (!locks) return here();
  // `ifAvailable` is not granted behind a queued exclusive request either: a deletion waiting for the
  // opens already running refuses new ones.
  return underLock(
    locks,
    name,
    { mode: 'shared', ifAvailable: true },
    (lock) => (lock === null ? Promise.reject(beingDeleted(name)) : here()),
    here,
  );
}

/** Runs `run` as this realm's deletion of `name`, under the exclusive Web Lock where there is one. */
function exclusively(factory: IDBFactory, name: string, run: () => Promise<void>): Promise<void> {
  const here = () => {
    const map = deletingHere.get(factory) ?? new Map<string, number>();
    deletingHere.set(factory, map);
    map.set(name, (map.get(name) ?? 0) + 1);
    return run().finally(() => {
      const left = (map.get(name) ?? 1) - 1;
      if (left === 0) map.delete(name);
      else map.set(name, left);
    });
  };
  const locks = webLocks();
  return locks ? underLock(locks, name, { mode: 'exclusive' }, here, here) : here();
}

export interface DeleteIdbOptions {
  /** Default `globalThis.indexedDB` (looked up when called). */
  readonly indexedDB?: IDBFactory;
  /**
   * Called (once) when another connection does not close (a tab of a release before
   * `onVersionChange`, or the app's own raw `indexedDB.open`), or when the deletion has not finished
   * after `blockedAfterMs`: the deletion then waits for it, and every open of `name` through this
   * package is refused meanwhile. A typical app asks the user to close other tabs.
   */
  readonly onBlocked?: () => void;
  /**
   * How long the deletion may wait with neither success nor IndexedDB's `blocked` event before
   * `onBlocked` is called anyway, in ms (default 10,000; `Infinity`: only on that event). The
   * deletion is not withdrawn then: it keeps waiting. See `BLOCKED_AFTER_MS`.
   */
  readonly blockedAfterMs?: number;
}

/**
 * IndexedDB sends `blocked` only to the request an open connection holds up first. A deletion queued
 * behind another tab's raw `indexedDB.deleteDatabase` (or upgrade) that an old tab blocks hears
 * nothing for as long as that tab lives, so silence is taken as blocked after this long — far above
 * an unhindered deletion (milliseconds; seconds for a large database on a slow device).
 */
const BLOCKED_AFTER_MS = 10_000;

/**
 * Deletes database `name` (e.g. on logout); resolves once it is gone. Open stores on it, in this and
 * other tabs, close themselves and call their `onVersionChange`. Use this instead of a raw
 * `indexedDB.deleteDatabase`, which an `openIdbDatabase` elsewhere would queue behind (see above).
 */
export function deleteIdbDatabase(name: string, options: DeleteIdbOptions = {}): Promise<void> {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('name must be a non-empty string');
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory || typeof factory.deleteDatabase !== 'function')
    throw new TypeError('IndexedDB is not available here (pass options.indexedDB)');
  const { onBlocked } = options;
  if (onBlocked !== undefined && typeof onBlocked !== 'function')
    throw new TypeError('onBlocked must be a function');
  const blockedAfterMs = waitBound(options.blockedAfterMs, 'blockedAfterMs', BLOCKED_AFTER_MS);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let told = false;
  // IndexedDB's event or the timer, whichever comes first; the app is told once.
  const blocked = () => {
    clearTimeout(timer);
    if (told) return;
    told = true;
    try {
      onBlocked?.();
    } catch (err) {
      // The app's callback failed. From the timer, a throw would be an uncaught exception (the end of
      // a Node process); reported as IndexedDB reports one thrown from its own event, where possible.
      (globalThis as { reportError?: (e: unknown) => void }).reportError?.(err);
    }
  };
  // From the call: waiting for the Web Lock (opens running in other tabs) counts too.
  if (onBlocked !== undefined && blockedAfterMs !== Infinity) timer = setTimeout(blocked, blockedAfterMs);
  return exclusively(
    factory,
    name,
    () =>
      new Promise<void>((resolve, reject) => {
        const req = factory.deleteDatabase(name);
        req.onsuccess = () => resolve();
        req.onerror = () => reject(new StoreError('could not delete IndexedDB', { cause: req.error }));
        // The request stays queued (it cannot be cancelled) and completes once that connection closes.
        req.onblocked = blocked;
      }),
  ).finally(() => clearTimeout(timer));
}
