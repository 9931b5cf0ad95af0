/**
 * Another tab (or the app) calling `indexedDB.deleteDatabase(name)` directly, not through
 * `deleteIdbDatabase`, while a connection that does not close on versionchange (a tab of an older
 * release, the app's own raw `indexedDB.open`) keeps the deletion waiting. IndexedDB queues every
 * later open of that name behind the deletion and reports nothing to it — no `blocked` event — for as
 * long as that connection lives, then opens a new, empty database. Web Locks cannot see a raw
 * deletion, so the open is bounded by `openTimeoutMs` instead. A `deleteIdbDatabase` queued there is
 * told nothing either (`blocked` goes to the first request only), so it calls `onBlocked` after
 * `blockedAfterMs` — the app's cue to ask the user to close other tabs. Runs on fake-indexeddb's exports
 * (nothing IndexedDB-shaped is global here); the clock is faked for `setTimeout` only (fake-indexeddb
 * schedules with `setImmediate`), so no assertion depends on real time.
 */
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { deleteIdbDatabase, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { IDBKeyRange as FakeKeyRange, indexedDB as fakeIndexedDB } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';

let n = 0;
const name = () => `e2ee-raw-delete-${n++}`;
const opts = { ratchet, indexedDB: fakeIndexedDB, IDBKeyRange: FakeKeyRange };

afterEach(() => {
  vi.useRealTimers();
});

/** Lets fake-indexeddb run every task it has queued (it schedules with setImmediate). */
const settleIdb = async () => {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
};

/** A connection that, like a release before onVersionChange, never closes on versionchange. */
const rawOpen = (db: string, onUpgrade?: (oldVersion: number) => void) =>
  new Promise<IDBDatabase>((resolve, reject) => {
    const req = fakeIndexedDB.open(db);
    req.onupgradeneeded = (ev) => onUpgrade?.(ev.oldVersion);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });

/** The outcome of `p` once it settles: `{ done: false }` until then. */
function track<T>(p: Promise<T>): { done: boolean; value?: T; error?: unknown } {
  const t: { done: boolean; value?: T; error?: unknown } = { done: false };
  p.then(
    (value) => Object.assign(t, { done: true, value }),
    (error: unknown) => Object.assign(t, { done: true, error }),
  );
  return t;
}

/** Another tab's raw deletion of `db`, resolved once IndexedDB reports it blocked; `done` on success. */
async function rawDeleteBlocked(db: string): Promise<{ done: Promise<void> }> {
  const req = fakeIndexedDB.deleteDatabase(db);
  const done = new Promise<void>((resolve, reject) => {
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
  });
  await new Promise<void>((resolve) => {
    req.onblocked = () => resolve();
  });
  return { done };
}

describe('an open behind a raw indexedDB.deleteDatabase that another connection blocks', () => {
  it('is refused with a StoreError after openTimeoutMs; when the deletion completes it leaves nothing behind', async () => {
    const db = name();
    const events: (number | null)[] = [];
    const s = await IndexedDbStore.open(db, { ...opts, onVersionChange: (ev) => events.push(ev.newVersion) });
    await s.app.put('x', utf8('kept'));
    const old = await rawOpen(db);
    const deletion = await rawDeleteBlocked(db);
    // This release's store closed itself and said so (newVersion null: a deletion).
    expect(events).toEqual([null]);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const opens = [
      track(openIdbDatabase(db, { indexedDB: fakeIndexedDB, openTimeoutMs: 2_000 })),
      track(IndexedDbStore.open(db, { ...opts, openTimeoutMs: 2_000 })),
    ];
    await settleIdb();
    expect(opens.map((o) => o.done)).toEqual([false, false]); // queued: IndexedDB reports nothing
    vi.advanceTimersByTime(1_999);
    await settleIdb();
    expect(opens.map((o) => o.done)).toEqual([false, false]);
    vi.advanceTimersByTime(1);
    await settleIdb();
    for (const o of opens) {
      expect(o.done, JSON.stringify(o)).toBe(true);
      expect(E2eeError.is(o.error, 'STORE'), String(o.error)).toBe(true);
      expect(String((o.error as Error).message)).toMatch(/did not open within 2000 ms/);
    }
    vi.useRealTimers();
    // The deletion completes once the old connection goes. The abandoned opens still run then (a
    // request cannot be withdrawn) but create nothing: the next open finds no database at all.
    old.close();
    await deletion.done;
    let found: number | undefined;
    (await rawOpen(db, (v) => (found = v))).close();
    expect(found).toBe(0);
  });

  it('with the default timeout (10 s) too; with openTimeoutMs: Infinity it waits, as IndexedDB does', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const old = await rawOpen(db);
    const deletion = await rawDeleteBlocked(db);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const byDefault = track(openIdbDatabase(db, { indexedDB: fakeIndexedDB }));
    const waiting = track(openIdbDatabase(db, { indexedDB: fakeIndexedDB, openTimeoutMs: Infinity }));
    vi.advanceTimersByTime(9_999);
    await settleIdb();
    expect(byDefault.done).toBe(false);
    vi.advanceTimersByTime(1);
    await settleIdb();
    expect(E2eeError.is(byDefault.error, 'STORE')).toBe(true);
    vi.advanceTimersByTime(3_600_000);
    await settleIdb();
    expect(waiting.done).toBe(false);
    vi.useRealTimers();
    old.close();
    await deletion.done;
    await settleIdb();
    expect(waiting.done).toBe(true);
    (waiting.value as IDBDatabase).close();
  });

  it('an open that is not queued is not affected: it opens and stays open past the timeout', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const db = name();
    const s = await IndexedDbStore.open(db, { ...opts, openTimeoutMs: 1 });
    vi.advanceTimersByTime(60_000);
    await s.app.put('x', utf8('1'));
    expect(new TextDecoder().decode(await s.app.get('x'))).toBe('1');
    s.db.close();
  });

  it('refuses an openTimeoutMs outside 1…2^31 - 1 ms (other than Infinity) with RangeError', async () => {
    for (const bad of [0, 0.5, -1, Number.NaN, '5', null, 2 ** 31]) {
      const err = await openIdbDatabase(name(), {
        indexedDB: fakeIndexedDB,
        openTimeoutMs: bad as unknown as number,
      }).catch((e: unknown) => e);
      expect(err, String(bad)).toBeInstanceOf(RangeError);
    }
  });
});

describe('deleteIdbDatabase behind a raw indexedDB.deleteDatabase that another connection blocks', () => {
  const fake = (blockedAfterMs?: number) => {
    const calls = { n: 0 };
    const options = {
      indexedDB: fakeIndexedDB,
      onBlocked: () => {
        calls.n++;
      },
      ...(blockedAfterMs === undefined ? {} : { blockedAfterMs }),
    };
    return { calls, options };
  };

  it('calls onBlocked once after blockedAfterMs; the deletion keeps waiting and resolves once that connection closes', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const old = await rawOpen(db);
    const raw = await rawDeleteBlocked(db);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, options } = fake(2_000);
    const deletion = track(deleteIdbDatabase(db, options));
    await settleIdb();
    expect([calls.n, deletion.done]).toEqual([0, false]); // queued: IndexedDB reports nothing
    vi.advanceTimersByTime(1_999);
    await settleIdb();
    expect(calls.n).toBe(0);
    vi.advanceTimersByTime(1);
    await settleIdb();
    expect([calls.n, deletion.done]).toEqual([1, false]);
    // Once: the deletion cannot be withdrawn, it goes on waiting, and the app was told.
    vi.advanceTimersByTime(3_600_000);
    await settleIdb();
    expect([calls.n, deletion.done]).toEqual([1, false]);
    vi.useRealTimers();
    old.close();
    await raw.done;
    await settleIdb();
    expect(deletion).toEqual({ done: true, value: undefined });
    expect(calls.n).toBe(1);
  });

  it('an onBlocked that throws from the timer is not an uncaught exception (in Node it would end the process)', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const old = await rawOpen(db);
    const raw = await rawDeleteBlocked(db);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    let called = 0;
    const deletion = track(
      deleteIdbDatabase(db, {
        indexedDB: fakeIndexedDB,
        blockedAfterMs: 1_000,
        onBlocked: () => {
          called++;
          throw new Error("the app's callback failed");
        },
      }),
    );
    await settleIdb();
    // A fake timer runs its callback inside advanceTimersByTime: a throw escaping it surfaces here.
    expect(() => vi.advanceTimersByTime(1_000)).not.toThrow();
    expect(called).toBe(1);
    vi.useRealTimers();
    old.close();
    await raw.done;
    await settleIdb();
    expect(deletion).toEqual({ done: true, value: undefined });
  });

  it('by default after 10 s; with blockedAfterMs: Infinity only on IndexedDB’s own blocked event', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const old = await rawOpen(db);
    const raw = await rawDeleteBlocked(db);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const byDefault = fake();
    const never = fake(Infinity);
    const deletions = [deleteIdbDatabase(db, byDefault.options), deleteIdbDatabase(db, never.options)];
    vi.advanceTimersByTime(9_999);
    await settleIdb();
    expect([byDefault.calls.n, never.calls.n]).toEqual([0, 0]);
    vi.advanceTimersByTime(1);
    await settleIdb();
    expect([byDefault.calls.n, never.calls.n]).toEqual([1, 0]);
    vi.advanceTimersByTime(3_600_000);
    await settleIdb();
    expect([byDefault.calls.n, never.calls.n]).toEqual([1, 0]);
    vi.useRealTimers();
    old.close();
    await raw.done;
    await Promise.all(deletions);
  });

  it('blocked by IndexedDB itself: onBlocked once, not again when blockedAfterMs passes', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const old = await rawOpen(db);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const { calls, options } = fake(2_000);
    const deletion = deleteIdbDatabase(db, options);
    await settleIdb();
    expect(calls.n).toBe(1);
    vi.advanceTimersByTime(60_000);
    await settleIdb();
    expect(calls.n).toBe(1);
    vi.useRealTimers();
    old.close();
    await deletion;
  });

  it('a deletion nothing blocks: no onBlocked, and no timer left behind', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    const { calls, options } = fake(2_000);
    await deleteIdbDatabase(db, options);
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(calls.n).toBe(0);
  });

  it('refuses a blockedAfterMs outside 1…2^31 - 1 ms (other than Infinity) with RangeError', () => {
    for (const bad of [0, 0.5, -1, Number.NaN, '5', null, 2 ** 31]) {
      expect(
        () =>
          deleteIdbDatabase(name(), { indexedDB: fakeIndexedDB, blockedAfterMs: bad as unknown as number }),
        String(bad),
      ).toThrow(RangeError);
    }
  });
});
