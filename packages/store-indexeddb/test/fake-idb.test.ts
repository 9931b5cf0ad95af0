/** Every conformance suite against the IndexedDB store on fake-indexeddb (fast unit runs in Node). */
import 'fake-indexeddb/auto';
import { E2eeError, toHex, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { IdbBackend, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { StoreErrorCode } from '@e2ee-kit/store-kv';
import { runFailingCommit, runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

let n = 0;
const name = () => `e2ee-test-${n++}`;

describe('IndexedDbStore (fake-indexeddb)', () => {
  runKvStoreConformance({ describe, it, expect }, (o) => IndexedDbStore.open(name(), o), {
    ratchet,
    senderKeys,
  });
});

describe('IndexedDbStore sealed (fake-indexeddb)', () => {
  runKvStoreConformance(
    { describe, it, expect },
    (o) => IndexedDbStore.open(name(), { ...o, encryptionKey: new Uint8Array(32).fill(4) }),
    { ratchet, senderKeys },
  );
});

describe('IndexedDbStore', () => {
  it('persists across opens; the wrong key is STORE_KEY_MISMATCH; a newer schema is STORE_FORMAT', async () => {
    const db = name();
    const key = new Uint8Array(32).fill(1);
    const a = await IndexedDbStore.open(db, { ratchet, senderKeys, encryptionKey: key });
    await a.app.put('x', utf8('kept'));
    const pub = (await a.protocol.getIdentityKeyPair()).publicKey;
    a.db.close();
    const b = await IndexedDbStore.open(db, { ratchet, senderKeys, encryptionKey: key });
    expect(new TextDecoder().decode(await b.app.get('x'))).toBe('kept');
    expect((await b.protocol.getIdentityKeyPair()).publicKey.equals(pub)).toBe(true);
    b.db.close();
    const wrong = await IndexedDbStore.open(db, { encryptionKey: new Uint8Array(32) }).catch((e) => e);
    expect(E2eeError.is(wrong, StoreErrorCode.StoreKeyMismatch)).toBe(true);
    // A database from a future version (higher IndexedDB version) is refused with a typed error.
    const future = name();
    await new Promise<void>((resolve) => {
      const req = indexedDB.open(future, 99);
      req.onsuccess = () => {
        req.result.close();
        resolve();
      };
    });
    expect(E2eeError.is(await openIdbDatabase(future).catch((e) => e), StoreErrorCode.StoreFormat)).toBe(
      true,
    );
  });

  it('a commit that fails on its second write leaves the database as it was', async () => {
    const s = await IndexedDbStore.open(name());
    const proto = IDBObjectStore.prototype;
    const put = proto.put;
    let calls = 0;
    const r = await runFailingCommit(s, (on) => {
      calls = 0;
      proto.put = on
        ? function (this: IDBObjectStore, ...args: Parameters<IDBObjectStore['put']>) {
            if (++calls === 2) throw new DOMException('injected', 'QuotaExceededError');
            return put.apply(this, args);
          }
        : put;
    });
    expect(E2eeError.is(r.error, 'STORE')).toBe(true);
    expect([r.a, r.b]).toEqual(['before', undefined]);
    // A closed database is a StoreError too.
    s.db.close();
    expect(E2eeError.is(await s.app.put('x', utf8('1')).catch((e) => e), 'STORE')).toBe(true);
  });

  it('two tabs racing to create one database end with the identity it holds', async () => {
    const db = name();
    const [a, b] = await Promise.all([
      IndexedDbStore.open(db, { ratchet }),
      IndexedDbStore.open(db, { ratchet }),
    ]);
    const later = await IndexedDbStore.open(db, { ratchet });
    const pub = async (s: typeof a) => toHex((await s.protocol.getIdentityKeyPair()).publicKey.serialize());
    expect(await pub(a)).toBe(await pub(later));
    expect(await pub(b)).toBe(await pub(later));
    for (const s of [a, b, later]) s.db.close();
  });

  it('a database of that name made by something else (version 1, no kv store) is STORE_FORMAT, closed', async () => {
    const other = name();
    const made = await new Promise<IDBDatabase>((resolve) => {
      const req = indexedDB.open(other, 1);
      req.onupgradeneeded = () => req.result.createObjectStore('messages');
      req.onsuccess = () => resolve(req.result);
    });
    made.close();
    let closed = 0;
    const err = await IndexedDbStore.open(other, { ratchet }).catch((e: unknown) => e);
    expect(E2eeError.is(err, StoreErrorCode.StoreFormat)).toBe(true);
    // Nothing was written, and our connection is closed: deleting the database is not blocked.
    await new Promise<void>((resolve, reject) => {
      const del = indexedDB.deleteDatabase(other);
      del.onblocked = () => closed--;
      del.onsuccess = () => resolve();
      del.onerror = () => reject(del.error);
    });
    expect(closed).toBe(0);
  });

  it('a resend row that is not bytes (edited in devtools) is left out of listings, a StoreError by id', async () => {
    const s = await IndexedDbStore.open(name(), { ratchet });
    await s.resend.apply({ put: { id: 'kept', savedAt: 1, record: utf8('r') }, remove: [] });
    await new Promise<void>((resolve) => {
      const tx = s.db.transaction('kv', 'readwrite');
      tx.objectStore('kv').put({ edited: true }, ['resend', 'edited']);
      tx.oncomplete = () => resolve();
    });
    // ResendCache.put lists first: a listing that throws stops every HealingCipher send for good.
    expect(await s.resend.list()).toEqual([{ id: 'kept', savedAt: 1 }]);
    expect(E2eeError.is(await s.resend.get('edited').catch((e: unknown) => e), 'STORE')).toBe(true);
    s.db.close();
  });

  it('a batch whose create-only write finds its row aborts whole: no other write of it lands', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([{ table: 'app', key: 'x', value: utf8('first') }]);
    const err = await backend
      .commit([
        { table: 'app', key: 'y', value: utf8('half') },
        { table: 'app', key: 'x', value: utf8('second'), ifAbsent: true },
      ])
      .catch((e: unknown) => e);
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(new TextDecoder().decode(await backend.get('app', 'x'))).toBe('first');
    expect(await backend.get('app', 'y')).toBeUndefined();
    db.close();
  });

  it('reads and listings of a closed database are StoreErrors, not bare DOMExceptions', async () => {
    const s = await IndexedDbStore.open(name(), { ratchet });
    await s.app.put('x', utf8('1'));
    s.db.close();
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(E2eeError.is(await failure(s.app.get('x')), 'STORE')).toBe(true);
    expect(E2eeError.is(await failure(s.resend.list()), 'STORE')).toBe(true);
  });

  it('a batch whose consume-once delete finds its row gone aborts whole', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([{ table: 'app', key: 'keep', value: utf8('1') }]);
    const err = await backend
      .commit([
        { table: 'app', key: 'y', value: utf8('half') },
        { table: 'prekey', key: '1', value: null, ifPresent: true },
        { table: 'app', key: 'keep', value: null },
      ])
      .catch((e: unknown) => e);
    expect(E2eeError.is(err, 'STORE')).toBe(true);
    expect(await backend.get('app', 'y')).toBeUndefined();
    expect(await backend.get('app', 'keep')).toBeDefined();
    // With the row present the same batch commits.
    await backend.commit([{ table: 'prekey', key: '1', value: utf8('k') }]);
    await backend.commit([{ table: 'prekey', key: '1', value: null, ifPresent: true }]);
    expect(await backend.get('prekey', '1')).toBeUndefined();
    db.close();
  });
});
