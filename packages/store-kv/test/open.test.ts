/** Opening: racing first opens of one database, and a database that lost its format row. */
import { E2eeError, toHex, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore, StoreErrorCode } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const pub = async (s: KvStore) => toHex((await s.protocol.getIdentityKeyPair()).publicKey.serialize());

describe('KvStore.open', () => {
  for (const encryptionKey of [undefined, new Uint8Array(32).fill(7)]) {
    const o = encryptionKey ? { encryptionKey } : {};
    const kind = encryptionKey ? 'sealed' : 'plain';

    it(`${kind}: two racing first opens end with the one identity the database holds`, async () => {
      const backend = new MemoryKvBackend();
      const [a, b] = await Promise.all([
        KvStore.open(backend, { ...o, ratchet }),
        KvStore.open(backend, { ...o, ratchet }),
      ]);
      const later = await KvStore.open(backend, { ...o, ratchet });
      expect(await pub(a)).toBe(await pub(later));
      expect(await pub(b)).toBe(await pub(later));
      expect(await a.protocol.getLocalRegistrationId()).toBe(await later.protocol.getLocalRegistrationId());
      expect(await b.protocol.getLocalRegistrationId()).toBe(await later.protocol.getLocalRegistrationId());
    });

    // Seen in Chromium (a page and a worker opening one new database): the later open found no format
    // row, the other one then committed its identity and format, and the later open, looking for
    // identity rows, found them and reported a damaged store.
    it(`${kind}: an open that looked before another context created the store loads that store`, async () => {
      const backend = new MemoryKvBackend();
      const read = backend.get.bind(backend);
      let other: KvStore | undefined;
      let first = true;
      backend.get = async (table, key) => {
        const value = await read(table, key);
        if (first && table === 'meta' && key === 'format') {
          first = false; // our first look is done: now the other context creates the store
          other = await KvStore.open(backend, { ...o, ratchet });
        }
        return value;
      };
      const late = await KvStore.open(backend, { ...o, ratchet });
      expect(other).toBeDefined();
      expect(await pub(late)).toBe(await pub(other as KvStore));
    });

    it(`${kind}: a database whose format row is gone is STORE_FORMAT and is left untouched`, async () => {
      const backend = new MemoryKvBackend();
      const s = await KvStore.open(backend, o);
      await s.app.put('x', utf8('kept'));
      await backend.commit([{ table: 'meta', key: 'format', value: null }]);
      const before = backend.snapshot();
      const err = await KvStore.open(backend, o).catch((e: unknown) => e);
      expect(E2eeError.is(err, StoreErrorCode.StoreFormat)).toBe(true);
      expect(backend.snapshot()).toEqual(before);
    });
  }

  it('an edited registration id out of range is STORE_FORMAT, not a bare RangeError', async () => {
    const backend = new MemoryKvBackend();
    await KvStore.open(backend);
    await backend.commit([
      { table: 'meta', key: 'registration_id', value: Uint8Array.of(0xff, 0xff, 0xff, 0xff) },
    ]);
    const err = await KvStore.open(backend).catch((e: unknown) => e);
    expect(E2eeError.is(err, StoreErrorCode.StoreFormat)).toBe(true);
  });
});
