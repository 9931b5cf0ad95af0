/**
 * The whole database contract of the e2ee-kit stores: rows of bytes addressed by (table, key), read
 * one at a time or a table at a time, and written in batches that commit atomically. Anything that
 * can do these three things — SQLite, IndexedDB, Postgres, LMDB, a file per row with rename — gets
 * every e2ee-kit store, transactions and at-rest encryption from `KvStore`.
 */

/** The logical tables. Their names are part of the stored format (and of the AAD of sealed values). */
export const TABLES = [
  'identity',
  'session',
  'prekey',
  'signed_prekey',
  'kyber_prekey',
  'kyber_used',
  'prekey_state',
  'sender_key',
  'key_holders',
  'attempt',
  'resend',
  'app',
  'meta',
] as const;
export type Table = (typeof TABLES)[number];

/** One write of a batch: `value: null` deletes the row (deleting an absent row is no error). */
export interface KvWrite {
  readonly table: Table;
  readonly key: string;
  readonly value: Uint8Array | null;
  /**
   * Create-only: if a row is already at (table, key) when the batch runs, the whole batch is refused
   * (`commit` rejects, nothing written). Checked inside the database transaction, so of two
   * processes creating the same row exactly one wins — a separate read first would let both win.
   */
  readonly ifAbsent?: boolean;
  /**
   * Consume-once, for a delete (`value: null`): if no row is at (table, key) when the batch runs, the
   * whole batch is refused. Of two processes consuming one one-time pre-key, exactly one commits.
   */
  readonly ifPresent?: boolean;
  /**
   * Compare-and-set: if the row's stored bytes when the batch runs are not exactly these (`null`: if
   * a row is there at all), the whole batch is refused. Set on writes of session and sender-key
   * records to the bytes the transaction read, so two processes or tabs that both read one record
   * and write back their next state cannot both commit (the loser would reuse message keys).
   */
  readonly ifValue?: Uint8Array | null;
}

export interface KvBackend {
  /**
   * The bytes stored at (table, key), or `undefined`. Return a copy the caller may keep. With
   * `maxBytes` (the store always passes it), a stored value longer than that must not be read: reject
   * with a `DecodeError` (`valueTooLong(table, maxBytes)`), checking the length without reading the
   * value where the database can (SQLite: `length(v)` of a BLOB), so a huge row costs no allocation.
   */
  get(table: Table, key: string, maxBytes?: number): Promise<Uint8Array | undefined>;
  /**
   * Every row of `table` (order unspecified). Only small tables are listed (the resend cache). With
   * `maxBytes`, rows whose value is longer are left out (unread where the database allows).
   */
  list(table: Table, maxBytes?: number): Promise<ReadonlyArray<readonly [string, Uint8Array]>>;
  /**
   * Applies every write or none (one database transaction), in order, and resolves once they are
   * durable; on failure rejects and the database is as before. Keep copies: callers may reuse arrays.
   * A write with `ifAbsent` whose row exists, `ifPresent` whose row does not, or `ifValue` whose row
   * holds other bytes fails the batch the same way.
   */
  commit(writes: readonly KvWrite[]): Promise<void>;
}

/**
 * For backends checking `ifValue`: whether a row's stored bytes (`undefined`: no row) are what the
 * write expects (`null`: no row).
 */
export function sameRow(stored: Uint8Array | undefined, expected: Uint8Array | null): boolean {
  if (stored === undefined || expected === null) return stored === undefined && expected === null;
  // A driver answer that is not bytes (a TEXT value another tool wrote into a BLOB column) is another
  // row: compared as is, the characters of '12' coerced to 1, 2 and matched the bytes 01 02.
  if (!(stored instanceof Uint8Array) || stored.length !== expected.length) return false;
  let diff = 0;
  for (let i = 0; i < stored.length; i++) diff |= (stored[i] as number) ^ (expected[i] as number);
  return diff === 0;
}
