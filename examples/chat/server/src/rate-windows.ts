/**
 * Rate-limit windows kept in the relay's SQLite file, so a restart does not hand every account a
 * fresh allowance (a flood could otherwise resume at full rate right after one). One table for all
 * limiters, a row per (limiter, key): the window's start and the units used in it. Expired rows are
 * deleted as new windows open, and each limiter keeps at most `tracked` rows (its oldest windows go
 * first), as the in-memory map does.
 */
import type Database from 'better-sqlite3';

export interface Window {
  start: number;
  used: number;
}

/** Where a `WindowLimiter` keeps its windows beyond its in-memory cache. */
export interface WindowStore {
  get(key: string): Window | undefined;
  put(key: string, window: Window): void;
  /** A new window opened at `now`: forget this limiter's windows that ended before it. */
  opened(now: number, windowMs: number, tracked: number): void;
}

export function ensureRateWindowTable(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS rate_windows (
    limiter TEXT NOT NULL, key TEXT NOT NULL, start INTEGER NOT NULL, used INTEGER NOT NULL,
    PRIMARY KEY (limiter, key)) STRICT;
    CREATE INDEX IF NOT EXISTS rate_windows_start ON rate_windows (limiter, start);`);
}

/** The windows of the limiter named `limiter` in `db` (the table must exist). */
export function sqliteWindows(db: Database.Database, limiter: string): WindowStore {
  const get = db.prepare('SELECT start, used FROM rate_windows WHERE limiter = ? AND key = ?');
  const put = db.prepare(
    `INSERT INTO rate_windows (limiter, key, start, used) VALUES (?, ?, ?, ?)
     ON CONFLICT (limiter, key) DO UPDATE SET start = excluded.start, used = excluded.used`,
  );
  const expire = db.prepare('DELETE FROM rate_windows WHERE limiter = ? AND start <= ?');
  const count = db.prepare('SELECT count(*) AS n FROM rate_windows WHERE limiter = ?');
  const trim = db.prepare(
    `DELETE FROM rate_windows WHERE limiter = ? AND key IN (
       SELECT key FROM rate_windows WHERE limiter = ? ORDER BY start ASC LIMIT ?)`,
  );
  return {
    get: (key) => get.get(limiter, key) as Window | undefined,
    put: (key, w) => void put.run(limiter, key, w.start, w.used),
    opened: (now, windowMs, tracked) => {
      expire.run(limiter, now - windowMs);
      const { n } = count.get(limiter) as { n: number };
      if (n >= tracked) trim.run(limiter, limiter, n - tracked + 1);
    },
  };
}
