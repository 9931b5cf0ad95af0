/**
 * Making a SqliteLockManager: a file it cannot use is a typed StoreError (SQLite's error as `cause`),
 * as every other call of this package answers, and options that would switch mutual exclusion off
 * (a `staleMs` of 0, negative or NaN makes every live row look abandoned) are refused up front.
 */
import { writeFileSync } from 'node:fs';
import { E2eeError } from '@e2ee-kit/core';
import { SqliteLockManager } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const thrown = (fn: () => unknown): unknown => {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
};
const isStoreError = (e: unknown) => E2eeError.is(e, 'STORE') && (e as Error).cause !== undefined;

describe('new SqliteLockManager(db)', () => {
  it('a file that is not a SQLite database: StoreError', () => {
    const path = dbs.path();
    writeFileSync(path, new Uint8Array(8192).fill(7));
    expect(isStoreError(thrown(() => new SqliteLockManager(dbs.open(path))))).toBe(true);
  });

  it('another connection holds the write lock past the busy timeout while the table is made: StoreError', () => {
    const path = dbs.path();
    const other = dbs.open(path);
    other.pragma('journal_mode = WAL');
    const db = dbs.open(path);
    db.pragma('busy_timeout = 10');
    other.exec('BEGIN IMMEDIATE');
    try {
      expect(isStoreError(thrown(() => new SqliteLockManager(db)))).toBe(true);
    } finally {
      other.exec('COMMIT');
    }
    // Once the file is free, the same connection makes one.
    expect(new SqliteLockManager(db)).toBeInstanceOf(SqliteLockManager);
  });

  it.each([
    ['staleMs', 0],
    ['staleMs', -1],
    ['staleMs', Number.NaN],
    ['staleMs', Number.POSITIVE_INFINITY],
    ['pollMs', -1],
    ['pollMs', Number.NaN],
    ['timeoutMs', Number.NaN],
    ['timeoutMs', -5],
  ])('%s = %s: RangeError', (option, value) => {
    expect(thrown(() => new SqliteLockManager(dbs.open(), { [option]: value }))).toBeInstanceOf(RangeError);
  });
});
