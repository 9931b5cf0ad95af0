/**
 * The defaults the README states, each read back from SQLite or observed on vitest's fake clock:
 * `durability: 'full'` (synchronous=FULL, WAL) and `'normal'`, `busyTimeoutMs` 5 s, and for
 * `SqliteLockManager` a crashed holder's row taken over once it is `staleMs` (30 s) old and a waiter
 * giving up with `StoreError` after `timeoutMs` (60 s). No assertion on how long anything took.
 */
import { E2eeError } from '@e2ee-kit/core';
import { SqliteLockManager, SqliteStore } from '@e2ee-kit/store-sqlite';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
/** SQLite's `PRAGMA synchronous` values. */
const NORMAL = 1;
const FULL = 2;

describe('SqliteStore.open options', () => {
  it("default: WAL, synchronous=FULL (durability 'full'), busy timeout 5,000 ms", async () => {
    const db = dbs.open();
    await SqliteStore.open(db);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(FULL);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it("durability 'normal' is synchronous=NORMAL; busyTimeoutMs reaches the connection", async () => {
    const db = dbs.open();
    await SqliteStore.open(db, { durability: 'normal', busyTimeoutMs: 250 });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('synchronous', { simple: true })).toBe(NORMAL);
    expect(db.pragma('busy_timeout', { simple: true })).toBe(250);
  });

  it('refuses options it cannot honour, before touching the file', async () => {
    const db = new Database(':memory:');
    for (const busyTimeoutMs of [-1, 1.5, Number.NaN])
      await expect(SqliteStore.open(db, { busyTimeoutMs })).rejects.toThrow(RangeError);
    await expect(SqliteStore.open(db, { durability: 'off' as 'full' })).rejects.toThrow(TypeError);
    await expect(SqliteStore.open({} as Database.Database)).rejects.toThrow(TypeError);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({
      n: 0,
    });
    db.close();
  });
});

describe('SqliteLockManager defaults', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a row left by a crashed holder is taken over once it is 30 s old, not before', async () => {
    vi.useFakeTimers();
    const db = dbs.open();
    const locks = new SqliteLockManager(db);
    db.prepare('INSERT INTO locks (k, owner, since) VALUES (?, ?, ?)').run('k', 'crashed', Date.now());
    let ran = false;
    const run = locks.run('k', async () => {
      ran = true;
    });
    await vi.advanceTimersByTimeAsync(29_999);
    expect(ran).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    await run;
    expect(ran).toBe(true);
  });

  it('a waiter behind a live holder on another connection gives up after 60 s with StoreError', async () => {
    vi.useFakeTimers();
    const path = dbs.path();
    const holder = new SqliteLockManager(dbs.open(path));
    const waiter = new SqliteLockManager(dbs.open(path));
    let release = () => {};
    const held = holder.run(
      'k',
      () =>
        new Promise<void>((r) => {
          release = r;
        }),
    );
    let outcome: unknown = 'pending';
    const waiting = waiter
      .run('k', async () => 'ran')
      .then(
        (v) => {
          outcome = v;
        },
        (e: unknown) => {
          outcome = e;
        },
      );
    // Past staleMs (30 s) too: the holder's heartbeat keeps its row fresh, so it is never taken over.
    await vi.advanceTimersByTimeAsync(59_990);
    expect(outcome).toBe('pending');
    await vi.advanceTimersByTimeAsync(20);
    await waiting;
    expect(E2eeError.is(outcome, 'STORE')).toBe(true);
    expect((outcome as Error).message).toBe('timed out waiting for lock k');
    release();
    await held;
  });
});
