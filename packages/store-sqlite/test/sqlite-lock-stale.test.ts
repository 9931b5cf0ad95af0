/**
 * SqliteLockManager when an operation outlives `staleMs` (a slow `deliver`, a debugger, a busy
 * event loop): a live holder keeps its lock — against a second waiter of the same manager and
 * against another connection on the file (another process) — while a row whose holder is gone is
 * still taken over. Time is vitest's fake clock (Date.now and timers), so the test counts holders at
 * chosen instants and asserts nothing about how long anything took.
 */
import { SqliteLockManager } from '@e2ee-kit/store-sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const STALE = 100;

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** Counts how many `run`s are inside `fn` at once; each holds until the test releases it. */
function holders() {
  let inside = 0;
  let max = 0;
  const releases: Array<() => void> = [];
  const hold = () =>
    new Promise<void>((resolve) => {
      inside++;
      max = Math.max(max, inside);
      releases.push(() => {
        inside--;
        resolve();
      });
    });
  return {
    hold,
    get inside() {
      return inside;
    },
    get max() {
      return max;
    },
    releaseNext() {
      const r = releases.shift();
      if (r === undefined) throw new Error('nobody holds the lock');
      r();
    },
  };
}

function connection(path: string) {
  const db = dbs.open(path);
  db.pragma('journal_mode = WAL');
  return db;
}

describe('SqliteLockManager: a holder past staleMs', () => {
  it('same manager: a second and third waiter never join a live holder, and each release frees only its own', async () => {
    const locks = new SqliteLockManager(connection(dbs.path()), { staleMs: STALE, pollMs: 5 });
    const h = holders();
    const runs = [locks.run('k', h.hold), locks.run('k', h.hold), locks.run('k', h.hold)];
    await vi.advanceTimersByTimeAsync(10 * STALE);
    expect(h.inside).toBe(1);
    h.releaseNext();
    await vi.advanceTimersByTimeAsync(10 * STALE);
    expect(h.inside).toBe(1);
    h.releaseNext();
    await vi.advanceTimersByTimeAsync(10 * STALE);
    expect(h.inside).toBe(1);
    h.releaseNext();
    await Promise.all(runs);
    expect(h.max).toBe(1);
  });

  it('two connections on one file (two processes): a live holder keeps the lock past staleMs', async () => {
    const path = dbs.path();
    const a = new SqliteLockManager(connection(path), { staleMs: STALE, pollMs: 5 });
    const b = new SqliteLockManager(connection(path), { staleMs: STALE, pollMs: 5 });
    const h = holders();
    const first = a.run('k', h.hold);
    await vi.advanceTimersByTimeAsync(1);
    const second = b.run('k', h.hold);
    await vi.advanceTimersByTimeAsync(10 * STALE);
    expect(h.inside).toBe(1);
    h.releaseNext();
    await first;
    await vi.advanceTimersByTimeAsync(10);
    expect(h.inside).toBe(1); // b took it once a released
    h.releaseNext();
    await second;
    expect(h.max).toBe(1);
  });

  it('a row left by a holder that is gone (a crashed process) is still taken over after staleMs', async () => {
    const path = dbs.path();
    const db = connection(path);
    const locks = new SqliteLockManager(db, { staleMs: STALE, pollMs: 5 });
    db.prepare('INSERT INTO locks (k, owner, since) VALUES (?, ?, ?)').run('k', 'crashed', Date.now());
    let ran = false;
    const run = locks.run('k', async () => {
      ran = true;
    });
    await vi.advanceTimersByTimeAsync(STALE / 2);
    expect(ran).toBe(false);
    await vi.advanceTimersByTimeAsync(STALE);
    await run;
    expect(ran).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM locks').get()).toEqual({ n: 0 });
  });
});
