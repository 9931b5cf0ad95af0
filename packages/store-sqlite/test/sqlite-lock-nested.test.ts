/**
 * A `run` nested in a held lock's own `fn`, for the same key. No lock manager of e2ee-kit is
 * re-entrant (core's `LockManager` contract): `InProcessLockManager` (`KeyedMutex`) and
 * `WebLocksManager` start the nested call once `fn` settles, so an `fn` awaiting it waits for ever.
 * `SqliteLockManager` is consistent with them — a nested call is queued behind its holder, never run
 * inside it — and, awaited, ends after `timeoutMs` in a `StoreError` instead of waiting for ever (a
 * nested call cannot be told from another task's without an async context: none in browsers).
 */
import { E2eeError, InProcessLockManager } from '@e2ee-kit/core';
import { SqliteLockManager } from '@e2ee-kit/store-sqlite';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('SqliteLockManager: a nested run on the held key', () => {
  it('awaited: fails with StoreError after timeoutMs, and the outer lock is released as usual', async () => {
    const locks = new SqliteLockManager(dbs.open(), { timeoutMs: 1_000 });
    const outer = locks.run('k', () => locks.run('k', async () => 'inner').catch((e: unknown) => e));
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void outer.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(100);
    const err = await outer;
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(await locks.run('k', async () => 'next')).toBe('next');
  });

  it('not awaited: runs after the holder, in the same order as InProcessLockManager', async () => {
    for (const locks of [new InProcessLockManager(), new SqliteLockManager(dbs.open())]) {
      const order: string[] = [];
      let inner: Promise<void> | undefined;
      await locks.run('k', async () => {
        inner = locks.run('k', async () => {
          order.push('inner');
        });
        await vi.advanceTimersByTimeAsync(50);
        order.push('outer');
      });
      await vi.advanceTimersByTimeAsync(50);
      await inner;
      expect(order).toEqual(['outer', 'inner']);
    }
  });
});
