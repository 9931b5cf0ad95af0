/**
 * Another tab upgrading or deleting the database, and a factory that is not the global one. This file
 * uses fake-indexeddb's exports without its `auto` module: nothing IndexedDB-shaped is global here.
 */
import { E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { deleteIdbDatabase, IdbBackend, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { IDBKeyRange as FakeKeyRange, indexedDB as fakeIndexedDB } from 'fake-indexeddb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let n = 0;
const name = () => `e2ee-tabs-${n++}`;
const g = globalThis as { IDBKeyRange?: unknown; indexedDB?: unknown };
const saved = { IDBKeyRange: g.IDBKeyRange, indexedDB: g.indexedDB };

beforeAll(() => {
  // Whatever another file of this worker installed: this file runs without IndexedDB globals.
  delete g.IDBKeyRange;
  delete g.indexedDB;
});
afterAll(() => {
  if (saved.IDBKeyRange !== undefined) g.IDBKeyRange = saved.IDBKeyRange;
  if (saved.indexedDB !== undefined) g.indexedDB = saved.indexedDB;
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** Deletes `db` as another tab would; rejects if an open connection blocks it (the hang before). */
function deleteFromAnotherTab(db: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = fakeIndexedDB.deleteDatabase(db);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => reject(new Error('blocked by an open connection'));
  });
}

describe('IndexedDbStore with another tab and a non-global factory', () => {
  it('lists rows through the IDBKeyRange passed with the factory; without one, open says what to pass', async () => {
    const s = await IndexedDbStore.open(name(), {
      ratchet,
      indexedDB: fakeIndexedDB,
      IDBKeyRange: FakeKeyRange,
    });
    await s.resend.apply({ put: { id: 'm1', record: utf8('r'), savedAt: 1 }, remove: [] });
    expect((await s.resend.list()).map((e) => e.id)).toEqual(['m1']);
    s.db.close();

    const db = await openIdbDatabase(name(), { indexedDB: fakeIndexedDB });
    expect(() => new IdbBackend(db)).toThrow(/options\.IDBKeyRange/);
    const err = await failure(IndexedDbStore.open(name(), { indexedDB: fakeIndexedDB }));
    expect(err).toBeInstanceOf(TypeError);
    expect(String(err)).toMatch(/IDBKeyRange/);
    db.close();
  });

  it('a deletion from another tab is not blocked: this connection closes, says so, and fails typed', async () => {
    const db = name();
    const events: number[] = [];
    const s = await IndexedDbStore.open(db, {
      ratchet,
      indexedDB: fakeIndexedDB,
      IDBKeyRange: FakeKeyRange,
      onVersionChange: (ev) => events.push(ev.oldVersion),
    });
    await s.app.put('x', utf8('1'));
    await deleteFromAnotherTab(db);
    expect(events).toEqual([1]);
    for (const op of [s.app.get('x'), s.app.put('y', utf8('2')), s.resend.list()]) {
      const err = await failure(op);
      expect(E2eeError.is(err, 'STORE')).toBe(true);
      expect(String((err as Error).message)).toMatch(/connection is closed/);
    }
    // The other tab's fresh database opens empty; nothing of the old one survived in it.
    const t = await IndexedDbStore.open(db, { ratchet, indexedDB: fakeIndexedDB, IDBKeyRange: FakeKeyRange });
    expect(await t.app.get('x')).toBeUndefined();
    t.db.close();
  });

  it('an upgrade by a newer version in another tab is not blocked either', async () => {
    const db = name();
    const s = await IndexedDbStore.open(db, { ratchet, indexedDB: fakeIndexedDB, IDBKeyRange: FakeKeyRange });
    const upgraded = await new Promise<number>((resolve, reject) => {
      const req = fakeIndexedDB.open(db, 2);
      req.onsuccess = () => {
        const v = req.result.version;
        req.result.close();
        resolve(v);
      };
      req.onerror = () => reject(req.error);
      req.onblocked = () => reject(new Error('blocked by an open connection'));
    });
    expect(upgraded).toBe(2);
    expect(E2eeError.is(await failure(s.app.get('x')), 'STORE')).toBe(true);
    // This version now refuses the upgraded database with STORE_FORMAT instead of touching it.
    expect(
      E2eeError.is(await failure(openIdbDatabase(db, { indexedDB: fakeIndexedDB })), 'STORE_FORMAT'),
    ).toBe(true);
  });
});

describe('a newer release opening while an old tab keeps the database open', () => {
  /** The factory as the next release (schema version N + 1) would call it. */
  const nextRelease: IDBFactory = Object.assign(Object.create(fakeIndexedDB) as IDBFactory, {
    open: (db: string, version?: number) => fakeIndexedDB.open(db, (version ?? 1) + 1),
  });

  it('is refused with a typed StoreError, not left waiting; once the old tab closes the upgrade completes', async () => {
    const db = name();
    (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    // A tab of a release that never closed on versionchange: its connection blocks the upgrade.
    const old = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = fakeIndexedDB.open(db, 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const err = await failure(openIdbDatabase(db, { indexedDB: nextRelease }));
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(String((err as Error).message)).toMatch(/another tab/);
    // The blocked request still runs when that tab goes; the connection it opens is closed at once,
    // so it blocks nobody, and the next open finds the database upgraded.
    old.close();
    const again = await openIdbDatabase(db, { indexedDB: nextRelease });
    expect(again.version).toBe(2);
    again.close();
  }, 10_000);
});

describe('deleteIdbDatabase while a tab of an older release keeps the database open', () => {
  const opts = { ratchet, indexedDB: fakeIndexedDB, IDBKeyRange: FakeKeyRange };
  /** A connection that, like a release before onVersionChange, never closes on versionchange. */
  const rawOpen = (db: string) =>
    new Promise<IDBDatabase>((resolve, reject) => {
      const req = fakeIndexedDB.open(db, 1);
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });

  it('an open meanwhile is refused with a StoreError instead of queuing behind it; the deletion completes later', async () => {
    const db = name();
    const events: number[] = [];
    const s = await IndexedDbStore.open(db, { ...opts, onVersionChange: (ev) => events.push(ev.oldVersion) });
    await s.app.put('x', utf8('kept'));
    const old = await rawOpen(db);
    let blocked!: () => void;
    const wasBlocked = new Promise<void>((r) => (blocked = r));
    let deleted = false;
    const deletion = deleteIdbDatabase(db, { indexedDB: fakeIndexedDB, onBlocked: () => blocked() }).then(
      () => (deleted = true),
    );
    await wasBlocked;
    // This release's store closed itself at once; the old tab's connection is what blocks.
    expect(events).toEqual([1]);
    // Before: this open waited behind the deletion as long as the old tab lived, then opened a new,
    // empty database (a new identity) — here it is refused, typed, and nothing is queued.
    for (const open of [IndexedDbStore.open(db, opts), openIdbDatabase(db, { indexedDB: fakeIndexedDB })]) {
      const err = await failure(open);
      expect(E2eeError.is(err, 'STORE')).toBe(true);
      expect(String((err as Error).message)).toMatch(/being deleted/);
    }
    expect(deleted).toBe(false);
    old.close();
    await deletion;
    // Deleted as asked: the next open makes a new database.
    const t = await IndexedDbStore.open(db, opts);
    expect(await t.app.get('x')).toBeUndefined();
    t.db.close();
  });

  it('with no connection left open it is not blocked, and opens work again afterwards', async () => {
    const db = name();
    const events: number[] = [];
    const s = await IndexedDbStore.open(db, { ...opts, onVersionChange: (ev) => events.push(ev.oldVersion) });
    await s.app.put('x', utf8('1'));
    let blocked = 0;
    await deleteIdbDatabase(db, { indexedDB: fakeIndexedDB, onBlocked: () => blocked++ });
    expect([blocked, events]).toEqual([0, [1]]);
    const t = await IndexedDbStore.open(db, opts);
    expect(await t.app.get('x')).toBeUndefined();
    t.db.close();
  });

  it('where Web Locks refuse (SecurityError) deleting and opening still work, guarded within this realm', async () => {
    const nav = globalThis as { navigator?: unknown };
    const had = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    const refused = () => Promise.reject(new DOMException('refused', 'SecurityError'));
    Object.defineProperty(globalThis, 'navigator', {
      value: { locks: { request: refused } },
      configurable: true,
    });
    try {
      const db = name();
      (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
      const old = await rawOpen(db);
      let blocked!: () => void;
      const wasBlocked = new Promise<void>((r) => (blocked = r));
      const deletion = deleteIdbDatabase(db, { indexedDB: fakeIndexedDB, onBlocked: () => blocked() });
      await wasBlocked;
      const err = await failure(openIdbDatabase(db, { indexedDB: fakeIndexedDB }));
      expect(String((err as Error).message)).toMatch(/being deleted/);
      old.close();
      await deletion;
      (await openIdbDatabase(db, { indexedDB: fakeIndexedDB })).close();
    } finally {
      if (had) Object.defineProperty(globalThis, 'navigator', had);
      else delete nav.navigator;
    }
  });

  it('refuses a bad name, a missing factory and a non-function onBlocked with TypeError', () => {
    const g0 = globalThis as { indexedDB?: unknown };
    expect(g0.indexedDB).toBeUndefined();
    expect(() => deleteIdbDatabase('', { indexedDB: fakeIndexedDB })).toThrow(TypeError);
    expect(() => deleteIdbDatabase('x')).toThrow(/options\.indexedDB/);
    expect(() =>
      deleteIdbDatabase('x', { indexedDB: fakeIndexedDB, onBlocked: 1 as unknown as () => void }),
    ).toThrow(TypeError);
  });
});
