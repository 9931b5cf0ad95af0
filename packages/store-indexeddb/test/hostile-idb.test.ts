/**
 * Rows edited by hand in IndexedDB (devtools, an extension, a torn restore): keys and values of the
 * wrong shape or type. Each read, listing and commit ends in a typed error or a correct result —
 * never a bare TypeError, an uncaught exception in an IndexedDB event handler, or a changed row.
 */
import 'fake-indexeddb/auto';
import { addressToString, createAddress, E2eeError, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { IdbBackend, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { StoreErrorCode } from '@e2ee-kit/store-kv';
import { describe, expect, it } from 'vitest';

let n = 0;
const name = () => `e2ee-hostile-${n++}`;

/** Writes rows straight into the object store, as devtools would (any key, any value). */
function rawPut(db: IDBDatabase, rows: readonly (readonly [IDBValidKey, unknown])[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('kv', 'readwrite');
    for (const [key, value] of rows) tx.objectStore('kv').put(value, key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

/** Every key and value as IndexedDB holds them, to compare before and after a failed commit. */
function rawDump(db: IDBDatabase): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('kv', 'readonly');
    const keys = tx.objectStore('kv').getAllKeys();
    const values = tx.objectStore('kv').getAll();
    tx.oncomplete = () => resolve([keys.result, values.result]);
    tx.onabort = () => reject(tx.error);
  });
}

const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

describe('rows edited by hand in IndexedDB', () => {
  for (const sealed of [false, true]) {
    const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {}) };
    it(`${sealed ? 'sealed' : 'plain'}: a listed table with keys of the wrong shape lists the good rows`, async () => {
      const s = await IndexedDbStore.open(name(), o);
      await s.resend.apply({ put: { id: 'kept', savedAt: 1, record: utf8('r') }, remove: [] });
      const value = (await rawDump(s.db))[1] as unknown[];
      // Copies of a real row's value under keys a string id is not: an array, binary, three parts.
      const real = value.find((v) => v instanceof Uint8Array) as Uint8Array;
      await rawPut(s.db, [
        [['resend', []], real],
        [['resend', new Uint8Array([1, 2]).buffer], real],
        [['resend', ['nested']], real],
        [['resend', 'kept', 'extra'], real],
      ]);
      expect((await s.resend.list()).map((e) => e.id)).toEqual(['kept']);
      s.db.close();
    });
  }

  it('IdbBackend.list gives each row of the table once, keyed by its string key: other key shapes are left out', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([{ table: 'resend', key: 'kept', value: utf8('r') }]);
    await rawPut(db, [
      [['resend', []], utf8('a')],
      [['resend', new Uint8Array([1, 2]).buffer], utf8('b')],
      [['resend', ['nested']], utf8('c')],
      [['resend', 'kept', 'extra'], utf8('d')],
      [['resend', 5], utf8('e')],
    ]);
    // The KvBackend contract: [key: string, value] per row — no array or buffer as a key, no key twice.
    const listed = (await backend.list('resend')).map(([k, v]) => [k, new TextDecoder().decode(v)]);
    expect(listed).toEqual([['kept', 'r']]);
    db.close();
  });

  it('a format row edited to another type or to garbage: the open is refused typed and closed', async () => {
    for (const edited of [{ version: 1 }, 'text', utf8('{"version":1,"sealed":'), new Uint8Array(0)]) {
      const db = name();
      const s = await IndexedDbStore.open(db, { ratchet });
      await rawPut(s.db, [[['meta', 'format'], edited]]);
      s.db.close();
      const err = await failure(IndexedDbStore.open(db, { ratchet }));
      expect(E2eeError.is(err, 'STORE') || E2eeError.is(err, StoreErrorCode.StoreFormat), String(err)).toBe(
        true,
      );
      // Closed: deleting it is not blocked.
      await new Promise<void>((resolve, reject) => {
        const del = indexedDB.deleteDatabase(db);
        del.onsuccess = () => resolve();
        del.onblocked = () => reject(new Error('blocked'));
      });
    }
  });

  it('a session value of another type, length or size, read by key, is a typed error', async () => {
    const s = await IndexedDbStore.open(name(), { ratchet });
    await s.app.put('x', utf8('1'));
    const bob = createAddress('bob', 1);
    const edited: unknown[] = [
      new Uint16Array(4),
      new DataView(new ArrayBuffer(4)),
      'text',
      7,
      null,
      [1, 2],
      Uint8Array.of(0x0a, 0xff), // a field longer than the value
      new Uint8Array(16 << 20).fill(0xff), // 16 MiB of garbage
      new Uint8Array(16 << 20).fill(0x0a).buffer, // as an ArrayBuffer
    ];
    for (const v of edited) {
      await rawPut(s.db, [[['session', addressToString(bob)], v]]);
      const err = await failure(s.protocol.getSession(bob));
      expect(E2eeError.is(err, 'STORE') || E2eeError.is(err, 'DECODE'), String(err)).toBe(true);
    }
    s.db.close();
  });

  it('a commit comparing against a row edited to a non-byte value aborts whole, typed, nothing written', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([{ table: 'session', key: 'bob.1', value: utf8('old') }]);
    await rawPut(db, [[['session', 'bob.1'], { edited: true }]]);
    const before = await rawDump(db);
    const err = await failure(
      backend.commit([
        { table: 'app', key: 'y', value: utf8('half') },
        { table: 'session', key: 'bob.1', value: utf8('new'), ifValue: utf8('old') },
      ]),
    );
    expect(E2eeError.is(err, 'STORE'), String(err)).toBe(true);
    expect(await rawDump(db)).toEqual(before);
    db.close();
  });
});

describe('a quota error mid-transaction', () => {
  it('arriving asynchronously on the second write (as browsers report it): StoreError, every row as it was', async () => {
    const s = await IndexedDbStore.open(name(), { ratchet });
    await s.app.put('x', utf8('before'));
    const before = await rawDump(s.db);
    // fake-indexeddb's own record store runs each write when the transaction gets to it; its second
    // write here fails there, after the request was accepted — the browser's QuotaExceededError path.
    const raw = Object.getPrototypeOf(
      (s.db.transaction('kv', 'readonly').objectStore('kv') as unknown as { _rawObjectStore: object })
        ._rawObjectStore,
    ) as { storeRecord: (...args: unknown[]) => unknown };
    const storeRecord = raw.storeRecord;
    let calls = 0;
    raw.storeRecord = function (this: unknown, ...args: unknown[]) {
      if (++calls === 2) throw new DOMException('quota', 'QuotaExceededError');
      return storeRecord.apply(this, args);
    };
    let err: unknown;
    try {
      err = await failure(
        s.transaction(async (tx) => {
          await tx.app.put('y', utf8('small'));
          await tx.app.put('z', new Uint8Array(1 << 20).fill(1));
          await tx.app.put('x', utf8('after'));
        }),
      );
    } finally {
      raw.storeRecord = storeRecord;
    }
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(E2eeError.is(err, 'STORE'), String(err)).toBe(true);
    expect((err as { cause?: { name?: string } }).cause?.name).toBe('QuotaExceededError');
    expect(await rawDump(s.db)).toEqual(before);
    expect(new TextDecoder().decode(await s.app.get('x'))).toBe('before');
    s.db.close();
  });
});
