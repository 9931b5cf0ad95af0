/**
 * Opening the database: creating or upgrading its layout, closing the connection when another tab
 * asks for a version change, and never waiting without bound — behind an upgrade or deletion that a
 * tab of an older release keeps waiting — nor opening a new, empty database in its place.
 */
import { E2eeError, StoreError } from '@e2ee-kit/core';
import { StoreErrorCode } from '@e2ee-kit/store-kv';
import { unlessDeleting } from './deletion.js';
import { waitBound } from './wait-bound.js';

/** The IndexedDB layout this version creates and opens (the database's `version`). */
export const IDB_SCHEMA_VERSION = 1;
/** The one object store, keyed by [table, key]. */
export const KV = 'kv';

export interface OpenIdbOptions {
  /** Default `globalThis.indexedDB` (looked up when called, never at module load). */
  readonly indexedDB?: IDBFactory;
  /**
   * Called after this connection closed itself because another tab or worker asked for a version
   * change (a newer app version upgrading the database, or `indexedDB.deleteDatabase`). Every later
   * operation on this store fails with `StoreError`; a typical app reloads the page here.
   */
  readonly onVersionChange?: (event: IDBVersionChangeEvent) => void;
  /**
   * How long the open may wait for IndexedDB to start it, in ms (default 10,000; `Infinity`: as long
   * as IndexedDB makes it wait). Then it is refused with a `StoreError`. See `openRequest`.
   */
  readonly openTimeoutMs?: number;
}

/**
 * IndexedDB queues an open behind a deletion or upgrade of the same name that another connection
 * keeps waiting (a tab of an older release, the app's own raw `indexedDB.open`), and tells the open
 * nothing — no `blocked` event, which only the deletion or upgrade gets — for as long as that
 * connection lives; then, behind a deletion, it opens a new, empty database: a new identity. This
 * package's own deletions refuse such opens at once (deletion.ts), but a raw
 * `indexedDB.deleteDatabase` from another tab is invisible to it, so the wait is bounded instead. Ten
 * seconds is far above an unqueued open (milliseconds; a second or two on a slow device's first open).
 */
const DEFAULT_OPEN_TIMEOUT_MS = 10_000;

function openRequest(
  factory: IDBFactory,
  name: string,
  onVersionChange: OpenIdbOptions['onVersionChange'],
  timeoutMs: number,
): Promise<IDBDatabase> {
  const req = factory.open(name, IDB_SCHEMA_VERSION);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let abandoned = false;
  req.onupgradeneeded = (ev) => {
    // Running, no longer queued: the rest is IndexedDB's own bounded work.
    clearTimeout(timer);
    // An open refused by the timeout changes nothing when it runs at last: behind a deletion, its
    // upgrade would create the new, empty database the refusal was for.
    if (abandoned) {
      req.transaction?.abort();
      return;
    }
    const db = req.result;
    // Version 0 → 1 creates the layout; later versions add steps here, keyed on ev.oldVersion.
    if (ev.oldVersion < 1) db.createObjectStore(KV);
  };
  return new Promise<IDBDatabase>((resolve, reject) => {
    req.onsuccess = () => {
      clearTimeout(timer);
      const db = req.result;
      // Set before anything else runs: a version change may be the very next event.
      db.onversionchange = (event) => {
        db.close();
        onVersionChange?.(event);
      };
      resolve(db);
    };
    req.onerror = () => {
      clearTimeout(timer);
      reject(req.error);
    };
    // An upgrade that a tab of an older release (which does not close on versionchange) blocks would
    // wait until that tab closes: refused now. The request still completes then (the upgrade runs);
    // the connection it opens is closed at once, so it blocks nobody.
    req.onblocked = () => {
      clearTimeout(timer);
      req.onsuccess = () => req.result.close();
      reject(new StoreError('IndexedDB upgrade is blocked: another tab keeps the database open (close it)'));
    };
    if (timeoutMs === Infinity) return;
    timer = setTimeout(() => {
      abandoned = true;
      // The request cannot be withdrawn: when it runs, it keeps no connection (and its aborted
      // upgrade's AbortError is expected).
      req.onsuccess = () => req.result.close();
      req.onerror = (ev) => ev.preventDefault();
      reject(
        new StoreError(
          `IndexedDB database ${name} did not open within ${timeoutMs} ms: another tab may be deleting or upgrading it while a connection stays open (close other tabs and try again)`,
        ),
      );
    }, timeoutMs);
  });
}

/**
 * Opens (creating or upgrading) the database `name`. The app closes it with `db.close()`.
 *
 * When another connection asks for a version change, this one closes itself (then calls
 * `options.onVersionChange`): an open connection would otherwise block that upgrade or deletion in
 * every other tab until this tab is closed.
 */
export async function openIdbDatabase(name: string, options: OpenIdbOptions = {}): Promise<IDBDatabase> {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('name must be a non-empty string');
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory || typeof factory.open !== 'function')
    throw new TypeError('IndexedDB is not available here (pass options.indexedDB)');
  const timeoutMs = waitBound(options.openTimeoutMs, 'openTimeoutMs', DEFAULT_OPEN_TIMEOUT_MS);
  let db: IDBDatabase;
  try {
    // Not queued behind a deletion another tab blocks: that would wait as long as that tab lives,
    // then open a new, empty database (deletion.ts).
    db = await unlessDeleting(factory, name, () =>
      openRequest(factory, name, options.onVersionChange, timeoutMs),
    );
  } catch (cause) {
    if (cause instanceof StoreError) throw cause;
    if ((cause as { name?: string } | null)?.name === 'VersionError')
      throw new E2eeError(StoreErrorCode.StoreFormat, 'this IndexedDB database was made by a newer version', {
        cause,
      });
    throw new StoreError('could not open IndexedDB', { cause });
  }
  // Version 1 made by something else (an earlier app or library under this name): no upgrade ran,
  // so there is no `kv` store. Refused untouched, and closed so it blocks no one's delete or upgrade.
  if (!db.objectStoreNames.contains(KV)) {
    db.close();
    throw new E2eeError(StoreErrorCode.StoreFormat, `IndexedDB database ${name} was not made by e2ee-kit`);
  }
  return db;
}
