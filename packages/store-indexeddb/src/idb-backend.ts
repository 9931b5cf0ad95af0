/**
 * `KvBackend` over IndexedDB: one object store `kv` keyed by [table, key], the schema version as the
 * IndexedDB database version, and every batch in ONE `readwrite` transaction, resolved on `complete`
 * (so a batch is durable, or absent, as a whole). Reads use short `readonly` transactions: nothing
 * here keeps an IndexedDB transaction open across an `await`, where it would auto-commit.
 */
import { StoreError } from '@e2ee-kit/core';
import { type KvBackend, type KvWrite, sameRow, type Table, valueTooLong } from '@e2ee-kit/store-kv';
import { KV } from './open.js';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * `InvalidStateError` from `db.transaction(…)` means the connection is closed: by `db.close()`, by
 * the browser (storage cleared), or by this module when another tab upgraded or deleted the database.
 */
function failure(what: string, cause: unknown): StoreError {
  const closed = (cause as { name?: string } | null)?.name === 'InvalidStateError';
  return new StoreError(
    closed
      ? `${what}: the IndexedDB connection is closed (another tab may have upgraded or deleted the database)`
      : what,
    { cause },
  );
}

/** A read whose DOMException (closed database, aborted transaction) becomes a typed StoreError. */
async function reading<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw failure('IndexedDB read failed', cause);
  }
}

const isBytes = (v: unknown): v is Uint8Array | ArrayBuffer =>
  v instanceof Uint8Array || v instanceof ArrayBuffer;

const notBytes = () => new StoreError('IndexedDB returned a value that is not bytes');

function copy(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof ArrayBuffer) return new Uint8Array(value.slice(0));
  throw notBytes();
}

export interface IdbBackendOptions {
  /**
   * The `IDBKeyRange` of the factory the database came from; default `globalThis.IDBKeyRange`. Pass it
   * with a factory that is not the global one (e.g. `fake-indexeddb`'s exports without its `auto`).
   */
  readonly IDBKeyRange?: typeof IDBKeyRange;
}

export class IdbBackend implements KvBackend {
  readonly #db: IDBDatabase;
  readonly #keyRange: typeof IDBKeyRange;

  constructor(db: IDBDatabase, options: IdbBackendOptions = {}) {
    if (db === null || typeof db !== 'object' || typeof db.transaction !== 'function')
      throw new TypeError('db must be an IDBDatabase');
    if (!db.objectStoreNames.contains(KV)) throw new TypeError('db was not opened with openIdbDatabase()');
    const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
    if (typeof keyRange?.bound !== 'function')
      throw new TypeError('IDBKeyRange is not available here (pass options.IDBKeyRange)');
    this.#db = db;
    this.#keyRange = keyRange;
  }

  /**
   * With `maxBytes`, a longer value is refused (`DecodeError`) before it is copied. IndexedDB has no
   * way to measure a value without reading it: the one structured-clone read of the row is not
   * avoided (see the README's "Limits"), only the second allocation and everything after it.
   */
  async get(table: Table, key: string, maxBytes = Infinity): Promise<Uint8Array | undefined> {
    const v: unknown = await reading(() =>
      request(this.#db.transaction(KV, 'readonly').objectStore(KV).get([table, key])),
    );
    if (v === undefined) return undefined;
    if (!isBytes(v)) throw notBytes();
    if (v.byteLength > maxBytes) throw valueTooLong(table, maxBytes);
    return copy(v);
  }

  /**
   * Walked with a cursor rather than `getAll`: a row left out (over `maxBytes`, or not bytes) is
   * dropped before the next one is read, so rows a hostile edit made huge are not all held at once.
   */
  list(table: Table, maxBytes = Infinity): Promise<ReadonlyArray<readonly [string, Uint8Array]>> {
    return reading(
      () =>
        new Promise((resolve, reject) => {
          const out: (readonly [string, Uint8Array])[] = [];
          const range = this.#keyRange.bound([table, ''], [table, []]);
          const req = this.#db.transaction(KV, 'readonly').objectStore(KV).openCursor(range);
          req.onsuccess = () => {
            const cursor = req.result;
            if (cursor === null) {
              resolve(out);
              return;
            }
            // A value that is not bytes (edited in devtools) is left out, as the store leaves out
            // values that do not decode: a listing that throws stops the upkeep it serves for good.
            // Read by key it throws. So is a key this backend never writes: the range also holds
            // [table, binary], [table, array…] and [table, string, more…] — not a string key, or a
            // second row under one. And a value over `maxBytes`, as the other backends leave it out.
            const k = cursor.primaryKey;
            const key = Array.isArray(k) && k.length === 2 ? k[1] : undefined;
            const v: unknown = cursor.value;
            if (typeof key === 'string' && isBytes(v) && v.byteLength <= maxBytes) out.push([key, copy(v)]);
            cursor.continue();
          };
          req.onerror = () => reject(req.error);
        }),
    );
  }

  commit(writes: readonly KvWrite[]): Promise<void> {
    return new Promise((resolve, reject) => {
      let tx: IDBTransaction | undefined;
      try {
        tx = this.#db.transaction(KV, 'readwrite', { durability: 'strict' });
        const store = tx.objectStore(KV);
        const t = tx;
        for (const w of writes) {
          // Requests run in order in this transaction: the count sees the rows as the batch found
          // them, and its abort lands before the commit.
          if (w.ifPresent) {
            const counted = store.count([w.table, w.key]);
            counted.onsuccess = () => {
              if (counted.result === 0) t.abort();
            };
          }
          if (w.ifValue !== undefined) {
            const expected = w.ifValue;
            const found = store.get([w.table, w.key]);
            found.onsuccess = () => {
              // A row edited to a non-byte value is no match, not an exception: one thrown here would
              // abort as well, but reach the page as uncaught (and the cause would be a bare AbortError).
              const v: unknown = found.result;
              const same =
                v === undefined ? sameRow(undefined, expected) : isBytes(v) && sameRow(copy(v), expected);
              if (!same) t.abort();
            };
          }
          if (w.value === null) store.delete([w.table, w.key]);
          // `add` fails with ConstraintError when the row exists, which aborts the whole transaction.
          // Stored as its own ArrayBuffer-backed copy: never a view of the caller's (or a pool's) buffer.
          else if (w.ifAbsent) store.add(new Uint8Array(w.value), [w.table, w.key]);
          else store.put(new Uint8Array(w.value), [w.table, w.key]);
        }
      } catch (cause) {
        // Without the abort the requests queued so far would still commit: half a batch.
        try {
          tx?.abort();
        } catch {
          // already finished or never started
        }
        reject(failure('IndexedDB commit failed', cause));
        return;
      }
      const t = tx;
      let failed: unknown;
      t.oncomplete = () => resolve();
      // After our own abort `t.error` is null: the failed request's error is the cause.
      t.onabort = () => reject(new StoreError('IndexedDB commit failed', { cause: t.error ?? failed }));
      // A failed request (e.g. `add` on an existing row) must abort the transaction: cancelling its
      // error event with preventDefault would let the other writes commit — half a batch.
      t.onerror = (ev) => {
        failed = (ev.target as IDBRequest | null)?.error;
        try {
          t.abort();
        } catch {
          // already aborting
        }
      };
    });
  }
}
