import { InProcessLockManager, isLockManager, type WebLocksLike, WebLocksManager } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

/** A read-modify-write with an await in the middle: loses updates unless the lock excludes. */
async function increments(run: (fn: () => Promise<void>) => Promise<void>, n: number): Promise<number> {
  let counter = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      run(async () => {
        const seen = counter;
        await new Promise((r) => setTimeout(r, 0));
        counter = seen + 1;
      }),
    ),
  );
  return counter;
}

describe('InProcessLockManager', () => {
  it('serializes one key (no lost update), and the same test without it loses updates', async () => {
    const locks = new InProcessLockManager();
    expect(await increments((fn) => locks.run('k', fn), 50)).toBe(50);
    expect(await increments((fn) => fn(), 50)).toBeLessThan(50);
  });

  it('releases on failure and settles like fn', async () => {
    const locks = new InProcessLockManager();
    await expect(locks.run('k', async () => Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(await locks.run('k', async () => 7)).toBe(7);
    expect(isLockManager(locks)).toBe(true);
    expect(isLockManager({})).toBe(false);
  });
});

describe('WebLocksManager', () => {
  it('requests an exclusive lock named prefix + key and returns what fn returns', async () => {
    const calls: string[] = [];
    const fake: WebLocksLike = {
      request: async (name, options, cb) => {
        calls.push(`${name}:${options.mode}`);
        return cb();
      },
    };
    const m = new WebLocksManager({ locks: fake, prefix: 'db1:' });
    expect(await m.run('alice.1', async () => 'done')).toBe('done');
    expect(calls).toEqual(['db1:alice.1:exclusive']);
    expect(await new WebLocksManager({ locks: fake }).run('x', async () => 1)).toBe(1);
    expect(calls[1]).toBe('e2ee-kit:x:exclusive');
  });

  it('holds the lock until fn settles, a throwing fn rejects run and releases it (fake queued per name)', async () => {
    // navigator.locks' contract: one callback per name at a time; the lock is released when the
    // callback's promise settles, and request settles like it (a callback that throws rejects it).
    const tails = new Map<string, Promise<unknown>>();
    let callbacks = 0;
    const queued: WebLocksLike = {
      request: (name, _options, cb) => {
        const run = (tails.get(name) ?? Promise.resolve()).then(() => {
          callbacks++;
          return cb();
        });
        tails.set(
          name,
          run.catch(() => undefined),
        );
        return run;
      },
    };
    const m = new WebLocksManager({ locks: queued });
    expect(await increments((fn) => m.run('k', fn), 40)).toBe(40);
    const sync = m.run('k', () => {
      throw new Error('sync');
    });
    const async = m.run('k', async () => Promise.reject(new Error('async')));
    const after = m.run('k', async () => 'after');
    await expect(sync).rejects.toThrow('sync');
    await expect(async).rejects.toThrow('async');
    expect(await after).toBe('after');
    expect(callbacks).toBe(43); // each fn ran exactly once
  });

  it("refuses a prefix that would let a lock name start with '-' (reserved by Web Locks) when made", async () => {
    // What navigator.locks does with such a name (Web Locks spec, request() step 6): reject with a
    // DOMException — untyped, and only once a cipher is already in use.
    const spec: WebLocksLike = {
      request: async (name, _options, cb) => {
        if (name.startsWith('-')) throw new DOMException('reserved lock name', 'NotSupportedError');
        return cb();
      },
    };
    for (const prefix of ['', '-', '-db:']) {
      expect(() => new WebLocksManager({ locks: spec, prefix })).toThrow(RangeError);
    }
    // Any other prefix keeps every key clear of the reserved names, '-' first in a key included.
    const m = new WebLocksManager({ locks: spec, prefix: 'db1:' });
    expect(await m.run('-alice.1', async () => 'ok')).toBe('ok');
  });

  it('is feature-detected: a TypeError where navigator.locks is missing', () => {
    const nav = (globalThis as { navigator?: { locks?: unknown } }).navigator;
    if (nav?.locks) return; // a runtime with Web Locks: covered by the Chromium test
    expect(WebLocksManager.isSupported()).toBe(false);
    expect(() => new WebLocksManager()).toThrow(TypeError);
  });
});
