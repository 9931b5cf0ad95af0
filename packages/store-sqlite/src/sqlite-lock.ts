/**
 * A `LockManager` for several processes on one SQLite file: the lock is a row in a `locks` table,
 * taken with `BEGIN IMMEDIATE` (which waits for the busy timeout while another connection writes).
 * A process that dies holding a lock leaves a row behind: rows older than `staleMs` are taken over.
 * A live holder refreshes its row every `staleMs / 3`, so a long `fn` keeps its lock; only a holder
 * whose event loop stops for longer than `staleMs` (a debugger, a suspended process) can lose it.
 */
import { E2eeError, type LockManager, StoreError } from '@e2ee-kit/core';
import type BetterSqlite3 from 'better-sqlite3';

export interface SqliteLockManagerOptions {
  /** A lock row not refreshed for this long is considered abandoned (default 30,000 ms). */
  readonly staleMs?: number;
  /** Poll interval while another process holds the lock (default 5 ms). */
  readonly pollMs?: number;
  /** Gives up with `StoreError` after this long (default 60,000 ms). */
  readonly timeoutMs?: number;
}

/**
 * The largest delay timers honour: above 2^31 − 1 ms (WebIDL's `long`) browsers and Node run the
 * timer after 1 ms instead, so a large `staleMs` or `pollMs` would write or poll the file every
 * millisecond. Every delay here is capped at this (a heartbeat every ~24.8 days is still well
 * within any `staleMs` that large).
 */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;
const delay = (ms: number) => Math.min(MAX_TIMER_DELAY_MS, ms);

/** Another connection held the file's write lock past the busy timeout: try again later. */
function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    code === 'SQLITE_BUSY' ||
    code === 'SQLITE_LOCKED' ||
    (typeof code === 'string' && code.startsWith('SQLITE_BUSY_'))
  );
}

/**
 * The table's definition, as SQLite keeps it in `sqlite_master` (without the `IF NOT EXISTS` that
 * every release so far created it with). It is the mark of a table this manager made: a `locks`
 * table declared any other way is the app's. A separate marker (a row, a table) could not be asked
 * of the tables earlier releases made, so it would tell nothing more than this text.
 */
const COLUMNS = '(k TEXT PRIMARY KEY, owner TEXT NOT NULL, since INTEGER NOT NULL)';
const LOCKS_SQL = `CREATE TABLE locks ${COLUMNS}`;

/**
 * Whether the main database has the manager's `locks` table (`false`: no object of that name yet),
 * read without writing anything; an object of that name it did not make is STORE_FORMAT. Names are
 * compared as SQLite does, case-insensitively, among the objects that share the table's namespace:
 * an app's `LOCKS` table, view or index is in the way too (a trigger is not).
 */
function hasOwnTable(db: BetterSqlite3.Database): boolean {
  const found = db
    .prepare<[], { type: string; sql: string | null }>(
      "SELECT type, sql FROM main.sqlite_master WHERE type IN ('table', 'view', 'index') AND name = 'locks' COLLATE NOCASE",
    )
    .all();
  if (found.length === 0) return false;
  if (found.length === 1 && found[0]?.type === 'table' && found[0].sql === LOCKS_SQL) return true;
  throw new E2eeError('STORE_FORMAT', 'sqlite table locks exists but was not made by SqliteLockManager');
}

export class SqliteLockManager implements LockManager {
  readonly #acquire: (key: string, owner: string, now: number) => boolean;
  readonly #releaseRow: BetterSqlite3.Statement<[string, string]>;
  readonly #refreshRow: BetterSqlite3.Statement<[number, string, string]>;
  readonly #owner: string;
  /** Keys some `run` of this manager holds: its other waiters wait in memory, never take the row over. */
  readonly #held = new Set<string>();
  #acquisitions = 0;
  readonly #staleMs: number;
  readonly #pollMs: number;
  readonly #timeoutMs: number;

  constructor(db: BetterSqlite3.Database, options: SqliteLockManagerOptions = {}) {
    const staleMs = options.staleMs ?? 30_000;
    // A staleMs of 0, negative or NaN makes every live row look abandoned: no mutual exclusion at all.
    if (typeof staleMs !== 'number' || !Number.isFinite(staleMs) || staleMs <= 0)
      throw new RangeError('staleMs must be a positive finite number of milliseconds');
    const pollMs = options.pollMs ?? 5;
    if (typeof pollMs !== 'number' || !Number.isFinite(pollMs) || pollMs < 0)
      throw new RangeError('pollMs must be a non-negative finite number of milliseconds');
    const timeoutMs = options.timeoutMs ?? 60_000;
    if (typeof timeoutMs !== 'number' || Number.isNaN(timeoutMs) || timeoutMs < 0)
      throw new RangeError('timeoutMs must be a non-negative number of milliseconds');
    this.#staleMs = staleMs;
    this.#pollMs = pollMs;
    this.#timeoutMs = timeoutMs;
    let tx: (key: string, owner: string, now: number) => boolean;
    try {
      // The constructor's reads (and the table's creation) are the first of the file: a damaged file,
      // or one another connection keeps busy past the busy timeout, is a StoreError as everywhere else.
      // Checked before any write, so a file with the app's own `locks` is refused as it was.
      if (!hasOwnTable(db))
        db.transaction(() => {
          // Again under the write lock: another connection may have made it (or the app its own).
          // Stored as LOCKS_SQL: SQLite keeps no schema name in the definition.
          if (!hasOwnTable(db)) db.exec(`CREATE TABLE main.locks ${COLUMNS}`);
        }).immediate();
      // Every statement names `main.locks`: an app's TEMP table `locks` would otherwise shadow it.
      // safeIntegers(false): `since` is compared with Date.now(), also on a `defaultSafeIntegers()` db.
      const get = db
        .prepare<[string], { since: number }>('SELECT since FROM main.locks WHERE k = ?')
        .safeIntegers(false);
      const put = db.prepare<[string, string, number]>(
        'INSERT OR REPLACE INTO main.locks (k, owner, since) VALUES (?, ?, ?)',
      );
      tx = db.transaction((key: string, owner: string, now: number) => {
        const row = get.get(key);
        if (row !== undefined && now - row.since < staleMs) return false;
        put.run(key, owner, now);
        return true;
      });
      this.#releaseRow = db.prepare('DELETE FROM main.locks WHERE k = ? AND owner = ?');
      this.#refreshRow = db.prepare('UPDATE main.locks SET since = ? WHERE k = ? AND owner = ?');
    } catch (cause) {
      if (cause instanceof E2eeError) throw cause;
      throw new StoreError('sqlite lock table setup failed', { cause });
    }
    this.#acquire = (key, owner, now) => {
      try {
        return (tx as unknown as { immediate(...a: unknown[]): boolean }).immediate(key, owner, now);
      } catch (cause) {
        if (isBusy(cause)) return false; // the file is busy, not the lock: poll again
        throw new StoreError(`could not take lock ${key}`, { cause });
      }
    };
    this.#owner = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  }

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    if (typeof key !== 'string') throw new TypeError('key must be a string');
    const start = Date.now();
    // One owner per acquisition: a release deletes its own row, never a later holder's.
    const owner = `${this.#owner}.${this.#acquisitions++}`;
    // Within this manager a held key is waited for in memory; across processes the row decides.
    while (this.#held.has(key) || !this.#acquire(key, owner, Date.now())) {
      if (Date.now() - start > this.#timeoutMs) throw new StoreError(`timed out waiting for lock ${key}`);
      await new Promise((r) => setTimeout(r, delay(this.#pollMs)));
    }
    this.#held.add(key);
    // The heartbeat: a row refreshed while `fn` runs is not taken for a crashed holder's.
    const beat = setInterval(() => this.#refresh(key, owner), delay(Math.max(1, this.#staleMs / 3)));
    // unref: the heartbeat never keeps the process alive on its own.
    (beat as { unref?: () => void }).unref?.();
    try {
      return await fn();
    } finally {
      clearInterval(beat);
      this.#held.delete(key);
      this.#release(key, owner, Date.now());
    }
  }

  #refresh(key: string, owner: string): void {
    try {
      this.#refreshRow.run(Date.now(), key, owner);
    } catch {
      // A busy (or closed) file: the next beat tries again; the row has staleMs to spare.
    }
  }

  /**
   * Deletes the lock row. A busy file must not turn `fn`'s outcome (often a committed decrypt) into a
   * rejection, nor leave the row for `staleMs`: the delete is retried every `pollMs` until `timeoutMs`.
   */
  #release(key: string, owner: string, since: number): void {
    try {
      this.#releaseRow.run(key, owner);
    } catch (cause) {
      if (!isBusy(cause) || Date.now() - since > this.#timeoutMs) return; // the row goes stale instead
      // unref: a pending retry never keeps the process alive (the row would then go stale).
      setTimeout(() => this.#release(key, owner, since), delay(this.#pollMs)).unref?.();
    }
  }
}
