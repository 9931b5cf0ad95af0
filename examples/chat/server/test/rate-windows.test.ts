/**
 * Rate-limit windows in SQLite: a second limiter over the same database (what a restarted relay
 * builds) sees the first one's counts; rows stay bounded — expired windows are deleted as new ones
 * open, and at most `tracked` windows are kept per limiter, oldest first out.
 */
import Database from 'better-sqlite3';
import { expect, it } from 'vitest';
import { WindowLimiter } from '../src/rate-limit.js';
import { ensureRateWindowTable, sqliteWindows } from '../src/rate-windows.js';

const rows = (db: Database.Database, limiter: string) =>
  (
    db.prepare('SELECT key FROM rate_windows WHERE limiter = ? ORDER BY key').all(limiter) as {
      key: string;
    }[]
  ).map((r) => r.key);

it('counts carry over to a new limiter on the same database, per limiter name', () => {
  const db = new Database(':memory:');
  ensureRateWindowTable(db);
  const limit = { count: 3, windowMs: 1_000 };
  const before = new WindowLimiter(limit, 100, sqliteWindows(db, 'sends'));
  expect([before.take('mallory', 0, 2), before.take('alice', 0)]).toEqual([true, true]);
  const after = new WindowLimiter(limit, 100, sqliteWindows(db, 'sends'));
  expect(after.take('mallory', 500)).toBe(true);
  expect(after.take('mallory', 500)).toBe(false);
  expect(after.retryAfterMs('mallory', 500)).toBe(500);
  // Another limiter's windows are its own.
  expect(new WindowLimiter(limit, 100, sqliteWindows(db, 'bundles')).take('mallory', 500, 3)).toBe(true);
  // The window ends on time for the new limiter too.
  expect(after.take('mallory', 1_000, 3)).toBe(true);
});

it('keeps the table bounded: expired windows go, and at most `tracked` per limiter', () => {
  const db = new Database(':memory:');
  ensureRateWindowTable(db);
  const limiter = new WindowLimiter({ count: 5, windowMs: 1_000 }, 3, sqliteWindows(db, 'sends'));
  for (const [i, key] of ['a', 'b', 'c', 'd'].entries()) limiter.take(key, i);
  expect(rows(db, 'sends')).toEqual(['b', 'c', 'd']); // 'a', the oldest, made room
  limiter.take('e', 1_001); // 'b' (opened at 1) ended at 1_001; 'c' and 'd' still run
  expect(rows(db, 'sends')).toEqual(['c', 'd', 'e']);
  limiter.take('f', 5_000);
  expect(rows(db, 'sends')).toEqual(['f']);
});
