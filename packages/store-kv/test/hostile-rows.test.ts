/**
 * Rows edited in the database file (or written by a buggy older tool): each read ends in a typed
 * error or a correct result, never a bare RangeError from deep inside the store.
 */
import { createAddress, defaultProvider, fromUtf8, KeyPair, utf8 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

describe('hostile rows', () => {
  it('an oversized kyber_used row does not stop signed and Kyber pre-keys from being removed', async () => {
    const backend = new MemoryKvBackend();
    const store = await KvStore.open(backend, { ratchet });
    const p = store.protocol;
    const kyber = await ratchet.generateKyberPreKey(await p.getIdentityKeyPair(), 7, { lastResort: true });
    await p.saveKyberPreKey(7, kyber);
    await p.markKyberPreKeyUsed(7, 3, (await KeyPair.generate(defaultProvider)).publicKey);
    // 200 kB: spread into String.fromCharCode it overflowed the call stack (RangeError) at every removal.
    await backend.commit([{ table: 'kyber_used', key: 'edited', value: new Uint8Array(200_000).fill(0x31) }]);
    await p.removeSignedPreKey(3);
    // The real triple naming signed pre-key 3 is gone; the edited row names nothing and stays.
    const used = [...backend.snapshot().keys()].filter((k) => k.startsWith('kyber_used\u0000'));
    expect(used).toEqual(['kyber_used\u0000edited']);
    await p.removeKyberPreKey(7);
    expect(await p.getKyberPreKey(7)).toBeNull();
    await store.app.put('still', utf8('works'));
  });
});

describe('damaged rows in the listed tables', () => {
  for (const sealed of [false, true]) {
    const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(8) } : {}) };
    it(`${sealed ? 'sealed' : 'plain'}: one damaged resend row does not stop the resend cache (every HealingCipher send)`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      const cache = await ratchet.ResendCache.create({
        key: new Uint8Array(32).fill(9),
        store: store.resend,
      });
      const bob = createAddress('bob', 1);
      await cache.put(bob, 1, utf8('kept'));
      // A value that neither decodes nor (sealed) opens, as an edited file or a torn restore leaves.
      await backend.commit([{ table: 'resend', key: 'damaged', value: Uint8Array.of(1, 2, 3, 4, 5) }]);
      await cache.put(bob, 2, utf8('after')); // lists the rows first: it threw at every send
      expect((await store.resend.list()).length).toBe(2);
      expect(fromUtf8((await cache.get(bob, 1))?.plaintext as Uint8Array)).toBe('kept');
      expect(await cache.prune()).toBe(0);
    });

    it(`${sealed ? 'sealed' : 'plain'}: a damaged kyber_used row does not stop pre-key removal`, async () => {
      const backend = new MemoryKvBackend();
      const store = await KvStore.open(backend, o);
      await backend.commit([{ table: 'kyber_used', key: 'damaged', value: Uint8Array.of(0xff, 0, 1) }]);
      await store.protocol.removeSignedPreKey(1); // sealed: the row did not open (VerificationError)
    });
  }
});

it('a custom backend listing a value that is not bytes: the row is left out of the listing', async () => {
  const backend = new MemoryKvBackend();
  const store = await KvStore.open(backend, { ratchet });
  await store.resend.apply({ put: { id: 'kept', savedAt: 1, record: utf8('r') }, remove: [] });
  const list = backend.list.bind(backend);
  backend.list = async (t) => [...(await list(t)), ['edited', 'text' as unknown as Uint8Array]];
  expect(await store.resend.list()).toEqual([{ id: 'kept', savedAt: 1 }]);
});
