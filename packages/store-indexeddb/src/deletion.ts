/**
 * Deleting a database, and keeping opens from queuing behind a deletion that another tab blocks.
 *
 * IndexedDB runs the requests for one name in order: an `open` made while a `deleteDatabase` waits
 * (an older tab keeps its connection open) waits too, for as long as that tab lives, and then
 * resolves to a new, empty database — the app hangs at start-up, then finds its data gone and a new
 * identity made. So `deleteIdbDatabase` holds a Web Lock (per origin: every tab and worker) in
 * exclusive mode until the deletion finished, and `openIdbDatabase` takes the same lock in shared mode
 * only if it is free at once: an open during a deletion is refused with a `StoreError` instead.
 * Where there is no Web Locks API, the same holds within this JavaScript realm only.
 */
import { StoreError } from '@e2ee-kit/core';

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
 * Runs `open` unless a deletion of `name` is running or waiting in any tab of the origin (then a
 * `StoreError`, without calling `open`). The shared lock is held until `open` settles, so a deletion
 * that starts meanwhile waits for this open to finish instead of racing it.
 */
export function unlessDeleting<T>(factory: IDBFactory, name: string, open: () => Promise<T>): Promise<T> {
  const locks = webLocks();
  if (locks) {
    // `ifAvailable` is not granted behind a queued exclusive request either: a deletion waiting for
    // the opens already running refuses new ones.
    return locks.request(lockName(name), { mode: 'shared', ifAvailable: true }, (lock) =>
      lock === null ? Promise.reject(beingDeleted(name)) : open(),
    );
  }
  if (deletingHere.get(factory)?.get(name)) return Promise.reject(beingDeleted(name));
  return open();
}

function exclusively(factory: IDBFactory, name: string, run: () => Promise<void>): Promise<void> {
  const locks = webLocks();
  if (locks) return locks.request(lockName(name), { mode: 'exclusive' }, () => run());
  const map = deletingHere.get(factory) ?? new Map<string, number>();
  deletingHere.set(factory, map);
  map.set(name, (map.get(name) ?? 0) + 1);
  const done = () => {
    const left = (map.get(name) ?? 1) - 1;
    if (left === 0) map.delete(name);
    else map.set(name, left);
  };
  return run().finally(done);
}

export interface DeleteIdbOptions {
  /** Default `globalThis.indexedDB` (looked up when called). */
  readonly indexedDB?: IDBFactory;
  /**
   * Called when another connection does not close (a tab of a release before `onVersionChange`, or
   * the app's own raw `indexedDB.open`): the deletion then waits for it, and every open of `name`
   * through this package is refused meanwhile. A typical app asks the user to close other tabs.
   */
  readonly onBlocked?: () => void;
}

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
  return exclusively(
    factory,
    name,
    () =>
      new Promise<void>((resolve, reject) => {
        const req = factory.deleteDatabase(name);
        req.onsuccess = () => resolve();
        req.onerror = () => reject(new StoreError('could not delete IndexedDB', { cause: req.error }));
        // The request stays queued (it cannot be cancelled) and completes once that connection closes.
        req.onblocked = () => onBlocked?.();
      }),
  );
}
