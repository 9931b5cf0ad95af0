/**
 * `KvBackend` over a better-sqlite3 database: one `kv` table (table, key, value) WITHOUT ROWID, a
 * `schema_version` table, WAL mode, and every batch in one `BEGIN IMMEDIATE … COMMIT` — so a crash
 * leaves the file at the state before or after a whole batch, and several processes on one file take
 * turns (the immediate write lock, waiting up to `busyTimeoutMs`).
 */
import { E2eeError, StoreError } from '@e2ee-kit/core';
import { type KvBackend, type KvWrite, sameRow, type Table, valueTooLong } from '@e2ee-kit/store-kv';
import type BetterSqlite3 from 'better-sqlite3';

/** The SQL layout this version writes (and the oldest it opens). */
export const SQLITE_SCHEMA_VERSION = 1;

export interface SqliteBackendOptions {
  /** How long a write waits for another connection's lock before failing (default 5,000 ms). */
  readonly busyTimeoutMs?: number;
  /**
   * `full` (default): a commit survives a power cut (fsync per commit). `normal`: in WAL mode a commit
   * survives a crash of the process but the last commits may be lost on a power cut — several times
   * faster. Atomicity holds either way.
   */
  readonly durability?: 'full' | 'normal';
  /** Tests: runs after each statement of a batch, inside its transaction. */
  readonly onStatement?: (index: number) => void;
}

type Db = BetterSqlite3.Database;

/**
 * Runs one database call, turning a SqliteError (a file that is not a database, a truncated or
 * corrupt page, a table another tool dropped) into a typed StoreError with it as `cause`.
 */
function guarded<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (cause) {
    if (cause instanceof E2eeError) throw cause;
    throw new StoreError(`sqlite ${what} failed`, { cause });
  }
}

function copy(value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new StoreError('sqlite returned a non-blob value');
  return new Uint8Array(value);
}

/** No bound asked (a direct caller): every length passes. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/*
 * Lengths are read before values. For a BLOB, `typeof(v)` and `length(v)` come from the record
 * header — SQLite loads no content (nor overflow pages) for them — and a nested CASE evaluates `v`
 * only when its branch is taken, so a row above the bound is never materialized: a 2 GB blob costs
 * no 2 GB Buffer. (`length()` of TEXT counts characters, reading it: TEXT is tested first, never
 * measured.)
 */
type Measured = { type: string; n: number | null; v: Uint8Array | null };
const MEASURED = `typeof(v) AS type,
  CASE WHEN typeof(v) = 'blob' THEN length(v) END AS n,
  CASE WHEN typeof(v) <> 'blob' THEN NULL WHEN length(v) <= ? THEN v END AS v`;

export class SqliteBackend implements KvBackend {
  readonly #db: Db;
  readonly #get: BetterSqlite3.Statement<[number, string, string], Measured>;
  readonly #list: BetterSqlite3.Statement<[string, number], { k: string; v: Uint8Array }>;
  readonly #has: BetterSqlite3.Statement<[string, string], { x: number }>;
  /** The row's bytes only if it is a BLOB of exactly that length (what `ifValue` compares). */
  readonly #sized: BetterSqlite3.Statement<[number, string, string], { v: Uint8Array | null }>;
  readonly #put: BetterSqlite3.Statement<[string, string, Uint8Array]>;
  readonly #del: BetterSqlite3.Statement<[string, string]>;
  readonly #batch: (writes: readonly KvWrite[]) => void;

  constructor(db: Db, options: SqliteBackendOptions = {}) {
    if (db === null || typeof db !== 'object' || typeof (db as Db).prepare !== 'function')
      throw new TypeError('db must be a better-sqlite3 Database');
    const busy = options.busyTimeoutMs ?? 5000;
    if (!Number.isInteger(busy) || busy < 0)
      throw new RangeError('busyTimeoutMs must be a non-negative integer');
    const durability = options.durability ?? 'full';
    if (durability !== 'full' && durability !== 'normal')
      throw new TypeError("durability must be 'full' or 'normal'");
    this.#db = db;
    // Pragmas are the first reads of the file: a damaged one fails here, as a StoreError.
    const prepared = guarded('open', () => {
      db.pragma(`busy_timeout = ${busy}`);
      // Before the WAL switch (which writes the file): a file this version refuses is left as it was.
      storedVersion(db);
      if (!db.memory) db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${durability === 'full' ? 'FULL' : 'NORMAL'}`);
      migrate(db);
      const get: BetterSqlite3.Statement<[number, string, string], Measured> = db.prepare(
        `SELECT ${MEASURED} FROM main.kv WHERE t = ? AND k = ?`,
      );
      // A row another tool rewrote as TEXT or a number, or one over the bound, is left out unread.
      const list: BetterSqlite3.Statement<[string, number], { k: string; v: Uint8Array }> = db.prepare(
        "SELECT k, v FROM main.kv WHERE t = ? AND (CASE WHEN typeof(v) = 'blob' THEN length(v) END) <= ?",
      );
      const has: BetterSqlite3.Statement<[string, string], { x: number }> = db.prepare(
        'SELECT 1 AS x FROM main.kv WHERE t = ? AND k = ?',
      );
      const sized: BetterSqlite3.Statement<[number, string, string], { v: Uint8Array | null }> = db.prepare(
        "SELECT CASE WHEN typeof(v) <> 'blob' THEN NULL WHEN length(v) = ? THEN v END AS v FROM main.kv WHERE t = ? AND k = ?",
      );
      const put: BetterSqlite3.Statement<[string, string, Uint8Array]> = db.prepare(
        'INSERT OR REPLACE INTO main.kv (t, k, v) VALUES (?, ?, ?)',
      );
      const del: BetterSqlite3.Statement<[string, string]> = db.prepare(
        'DELETE FROM main.kv WHERE t = ? AND k = ?',
      );
      return [get, list, has, sized, put, del] as const;
    });
    [this.#get, this.#list, this.#has, this.#sized, this.#put, this.#del] = prepared;
    const onStatement = options.onStatement;
    this.#batch = db.transaction((writes: readonly KvWrite[]) => {
      let i = 0;
      for (const w of writes) {
        // Inside the IMMEDIATE transaction: no other connection can create the row in between.
        // Neither check reads a value unless it has the expected length: an oversized row stays unread.
        if (w.ifAbsent || w.ifPresent) {
          const has = this.#has.get(w.table, w.key) !== undefined;
          if (w.ifAbsent && has) throw new Error(`row ${w.table} ${w.key} already exists`);
          if (w.ifPresent && !has) throw new Error(`row ${w.table} ${w.key} is gone`);
        }
        if (w.ifValue !== undefined && !this.#holds(w.table, w.key, w.ifValue))
          throw new Error(`row ${w.table} ${w.key} changed since it was read`);
        if (w.value === null) this.#del.run(w.table, w.key);
        else this.#put.run(w.table, w.key, w.value);
        onStatement?.(i++);
      }
    });
  }

  /** `sameRow` against the stored row, reading its bytes only when their length matches. */
  #holds(table: Table, key: string, expected: Uint8Array | null): boolean {
    if (expected === null) return this.#has.get(table, key) === undefined;
    const row = this.#sized.get(expected.length, table, key);
    return row?.v instanceof Uint8Array && sameRow(row.v, expected);
  }

  async get(table: Table, key: string, maxBytes?: number): Promise<Uint8Array | undefined> {
    const bound = maxBytes ?? UNBOUNDED;
    const row = guarded('read', () => this.#get.get(bound, table, key));
    if (row === undefined) return undefined;
    if (row.type !== 'blob') throw new StoreError('sqlite returned a non-blob value');
    if (row.n !== null && row.n > bound) throw valueTooLong(table, bound);
    return copy(row.v);
  }

  async list(table: Table, maxBytes?: number): Promise<ReadonlyArray<readonly [string, Uint8Array]>> {
    // A row another tool rewrote as TEXT or a number is left out (as the store leaves out values that
    // do not decode): a listing that throws stops the upkeep it serves for good. Read by key it throws.
    return guarded('read', () => this.#list.all(table, maxBytes ?? UNBOUNDED)).flatMap((r) =>
      r.v instanceof Uint8Array ? [[r.k, copy(r.v)] as const] : [],
    );
  }

  async commit(writes: readonly KvWrite[]): Promise<void> {
    try {
      // better-sqlite3 rolls back when the function throws; `.immediate` takes the write lock first.
      (this.#batch as unknown as { immediate(w: readonly KvWrite[]): void }).immediate(writes);
    } catch (cause) {
      throw new StoreError('sqlite commit failed', { cause });
    }
  }

  /** The connection (for the app's own tables, backups via `db.backup()`, closing). */
  get db(): Db {
    return this.#db;
  }
}

/**
 * Whether the file has a table, view or index called `name` — in any case (SQLite's names ignore it:
 * an app's `KV` is in the way of `kv`) and in the file itself (`main`: an app's TEMP table on the
 * connection is not the file's, and every statement here names `main.`, so it never shadows ours).
 */
const hasObject = (db: Db, name: string): boolean =>
  db
    .prepare(
      "SELECT 1 FROM main.sqlite_master WHERE type IN ('table', 'view', 'index') AND name = ? COLLATE NOCASE",
    )
    .get(name) !== undefined;

/**
 * The file's schema version (`undefined`: not set up yet), read without writing anything; a version
 * this release cannot read is STORE_FORMAT.
 */
function storedVersion(db: Db): number | undefined {
  const versioned = hasObject(db, 'schema_version');
  // safeIntegers(false): an app that set `db.defaultSafeIntegers()` would otherwise read 1 as 1n.
  const row = versioned
    ? (db.prepare('SELECT version FROM main.schema_version').safeIntegers(false).get() as
        | { version: unknown }
        | undefined)
    : undefined;
  if (row === undefined) {
    // `migrate` makes both tables and the version row in one transaction, so either table without
    // that row is the app's own (a migrations table called schema_version is common): setting the
    // file up would write our version into it, or keep our rows in the app's `kv`.
    if (versioned || hasObject(db, 'kv'))
      throw new E2eeError(
        'STORE_FORMAT',
        `sqlite table ${versioned ? 'schema_version' : 'kv'} exists but was not made by this store`,
      );
    return undefined;
  }
  const v = row.version;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > SQLITE_SCHEMA_VERSION)
    throw new E2eeError(
      'STORE_FORMAT',
      `sqlite schema version ${String(v)} is not supported by this version`,
    );
  return v;
}

function migrate(db: Db): void {
  // Set up already (future versions migrate older layouts here, one step at a time, in one transaction).
  if (storedVersion(db) !== undefined) return;
  db.transaction(() => {
    // Checked again under the write lock: another connection may have set the file up meanwhile.
    if (storedVersion(db) !== undefined) return;
    db.exec('CREATE TABLE IF NOT EXISTS main.schema_version (version INTEGER NOT NULL)');
    db.exec(
      'CREATE TABLE IF NOT EXISTS main.kv (t TEXT NOT NULL, k TEXT NOT NULL, v BLOB NOT NULL, PRIMARY KEY (t, k)) WITHOUT ROWID',
    );
    db.prepare('INSERT INTO main.schema_version (version) VALUES (?)').run(SQLITE_SCHEMA_VERSION);
  }).immediate();
}
