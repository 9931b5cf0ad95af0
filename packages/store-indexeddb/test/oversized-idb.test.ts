/**
 * `maxBytes` on `IdbBackend` (the store-kv `KvBackend` contract, as the memory and SQLite backends
 * keep it): a stored value longer than the bound is refused by `get` with a `DecodeError` naming the
 * table and left out by `list`, before the backend copies it; a value of exactly the bound is kept.
 * Through `IndexedDbStore`, the bound is the table's cap (store-kv's "Value sizes"): session 4 MiB,
 * values stored sealed 29 bytes longer.
 */
import 'fake-indexeddb/auto';
import { DecodeError, E2eeError } from '@e2ee-kit/core';
import type { SessionRecord } from '@e2ee-kit/ratchet';
import * as ratchet from '@e2ee-kit/ratchet';
import { IdbBackend, IndexedDbStore, openIdbDatabase } from '@e2ee-kit/store-indexeddb';
import { describe, expect, it } from 'vitest';

let n = 0;
const name = () => `e2ee-oversized-${n++}`;
const SESSION_CAP = 4 * 1024 * 1024;
const SEAL_OVERHEAD = 1 + 12 + 16; // version byte, nonce, tag
const alice = ratchet.createAddress('alice', 1);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** Writes rows straight into the object store, as devtools or a hostile profile edit would. */
function rawPut(db: IDBDatabase, rows: readonly (readonly [IDBValidKey, unknown])[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('kv', 'readwrite');
    for (const [key, value] of rows) tx.objectStore('kv').put(value, key);
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error);
  });
}

describe('IdbBackend with maxBytes', () => {
  it('get: a value of exactly maxBytes is returned, one byte more is a DecodeError naming the table', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([
      { table: 'app', key: 'fits', value: new Uint8Array(10).fill(1) },
      { table: 'app', key: 'over', value: new Uint8Array(11).fill(2) },
    ]);
    // As an ArrayBuffer too (a value another tool wrote): measured by its byteLength.
    await rawPut(db, [[['app', 'over-buffer'], new Uint8Array(11).buffer]]);
    expect(await backend.get('app', 'fits', 10)).toEqual(new Uint8Array(10).fill(1));
    for (const key of ['over', 'over-buffer']) {
      const err = await failure(backend.get('app', key, 10));
      expect(err).toBeInstanceOf(DecodeError);
      expect(String((err as Error).message)).toBe('stored app value is over 10 bytes');
    }
    // No bound asked: as before.
    expect((await backend.get('app', 'over'))?.length).toBe(11);
    expect(await backend.get('app', 'absent', 10)).toBeUndefined();
    db.close();
  });

  it('list: values over maxBytes are left out, values of exactly maxBytes are listed', async () => {
    const db = await openIdbDatabase(name());
    const backend = new IdbBackend(db);
    await backend.commit([
      { table: 'resend', key: 'empty', value: new Uint8Array(0) },
      { table: 'resend', key: 'fits', value: new Uint8Array(10).fill(3) },
      { table: 'resend', key: 'over', value: new Uint8Array(11) },
      { table: 'resend', key: 'far-over', value: new Uint8Array(1 << 20) },
    ]);
    await rawPut(db, [
      [['resend', 'fits-buffer'], new Uint8Array(10).fill(4).buffer],
      [['resend', 'over-buffer'], new Uint8Array(11).buffer],
    ]);
    const listed = new Map(await backend.list('resend', 10));
    expect([...listed.keys()].sort()).toEqual(['empty', 'fits', 'fits-buffer']);
    expect(listed.get('fits')).toEqual(new Uint8Array(10).fill(3));
    expect(listed.get('fits-buffer')).toEqual(new Uint8Array(10).fill(4));
    expect((await backend.list('resend')).length).toBe(6); // no bound asked: every row
    db.close();
  });
});

/** A "record" of n bytes; the codec answers with how many bytes it was handed. */
const record = (len: number) => ({ serialize: () => new Uint8Array(len) }) as unknown as SessionRecord;
function measuringRatchet() {
  const seen: number[] = [];
  const codecs = {
    ...ratchet,
    SessionRecord: {
      deserialize: (b: Uint8Array) => {
        seen.push(b.length);
        return { length: b.length } as unknown as SessionRecord;
      },
    },
  };
  return { codecs, seen };
}

describe('IndexedDbStore: a value over its table cap', () => {
  for (const sealed of [false, true]) {
    const key = sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {};
    const stored = SESSION_CAP + (sealed ? SEAL_OVERHEAD : 0);

    it(`${sealed ? 'sealed' : 'plain'}: a session at the cap reads back; one byte over is a DecodeError before the decoder`, async () => {
      const { codecs, seen } = measuringRatchet();
      const s = await IndexedDbStore.open(name(), { ratchet: codecs, ...key });
      await s.protocol.saveSession(alice, record(SESSION_CAP));
      const got = (await s.protocol.getSession(alice)) as unknown as { length: number };
      expect(got.length).toBe(SESSION_CAP);
      // The stored row, one byte longer (sealed: starting like a sealed value, so only its length
      // refuses it).
      const rows = await rawSessionRows(s.db);
      expect(rows.map(([, v]) => v.length)).toEqual([stored]);
      const longer = new Uint8Array(stored + 1);
      if (sealed) longer[0] = 0x01;
      await rawPut(s.db, [[(rows[0] as [IDBValidKey, Uint8Array])[0], longer]]);
      const err = await failure(s.protocol.getSession(alice));
      expect(E2eeError.is(err, 'DECODE')).toBe(true);
      expect(String((err as Error).message)).toBe(`stored session value is over ${stored} bytes`);
      expect(seen).toEqual([SESSION_CAP]);
      s.db.close();
    });
  }
});

function rawSessionRows(db: IDBDatabase): Promise<[IDBValidKey, Uint8Array][]> {
  return new Promise((resolve, reject) => {
    const tx = db.transaction('kv', 'readonly');
    const range = IDBKeyRange.bound(['session', ''], ['session', []]);
    const keys = tx.objectStore('kv').getAllKeys(range);
    const values = tx.objectStore('kv').getAll(range);
    tx.oncomplete = () =>
      resolve(keys.result.map((k, i) => [k, values.result[i] as Uint8Array] as [IDBValidKey, Uint8Array]));
    tx.onabort = () => reject(tx.error);
  });
}
