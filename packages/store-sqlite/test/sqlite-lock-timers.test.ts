/**
 * SqliteLockManager with delays past what timers honour: Node (and browsers) run a setTimeout /
 * setInterval whose delay is above 2^31 − 1 ms after 1 ms instead (TimeoutOverflowWarning), and
 * vitest's fake timers do the same. A staleMs of a year made the heartbeat (staleMs / 3) write the
 * lock row every millisecond, and a large pollMs polled the file every millisecond. The database
 * statements are counted through better-sqlite3's `verbose` hook (each statement as it runs).
 */
import { SqliteLockManager } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
/** The largest delay timers honour (WebIDL's long; HTML and Node clamp anything above to 1 ms). */
const MAX_DELAY = 2 ** 31 - 1;
const DAY = 86_400_000;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

function counted() {
  const path = dbs.path();
  const statements: string[] = [];
  const db = new Database(path, { verbose: (sql) => statements.push(String(sql)) });
  const count = (prefix: string) => statements.filter((s) => s.startsWith(prefix)).length;
  return { db, count, close: () => db.close() };
}

describe('SqliteLockManager timers', () => {
  it('a staleMs of a year: the heartbeat writes once per 2^31 − 1 ms, not every millisecond', async () => {
    const { db, count, close } = counted();
    const locks = new SqliteLockManager(db, { staleMs: 365 * DAY });
    let release!: () => void;
    const run = locks.run('k', () => new Promise<void>((r) => (release = r)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(count('UPDATE main.locks SET since')).toBe(0);
    await vi.advanceTimersByTimeAsync(MAX_DELAY - 1_000);
    expect(count('UPDATE main.locks SET since')).toBe(1);
    release();
    await run;
    close();
  });

  it('a pollMs above 2^31 − 1 ms: a waiter polls once per 2^31 − 1 ms, not every millisecond', async () => {
    const { db, count, close } = counted();
    const locks = new SqliteLockManager(db, { pollMs: 2 ** 32, staleMs: 365 * DAY, timeoutMs: Infinity });
    // A live holder in another process (a fresh row of another owner).
    db.prepare('INSERT INTO locks (k, owner, since) VALUES (?, ?, ?)').run('k', 'other', Date.now());
    let ran = false;
    const run = locks.run('k', async () => {
      ran = true;
    });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(count('SELECT since FROM main.locks')).toBe(1); // the first try only
    await vi.advanceTimersByTimeAsync(MAX_DELAY - 1_000);
    expect(count('SELECT since FROM main.locks')).toBe(2);
    db.prepare('DELETE FROM locks').run();
    await vi.advanceTimersByTimeAsync(MAX_DELAY);
    await run;
    expect(ran).toBe(true);
    close();
  });
});
