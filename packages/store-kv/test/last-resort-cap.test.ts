// Anyone holding the public bundle can add one last-resort replay row per PreKey message: the store
// keeps at most ratchet's MAX_LAST_RESORT_USES per last-resort Kyber key, refuses the next with the
// typed code (never forgetting an old row, which would let its message be replayed), and counts
// again when removing a signed pre-key forgets rows.
import { defaultProvider, E2eeError, KeyPair } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

const CAP = ratchet.MAX_LAST_RESORT_USES;

describe('last-resort replay rows are capped per Kyber key', () => {
  for (const sealed of [false, true]) {
    it(`${sealed ? 'sealed' : 'plain'}: triple ${CAP + 1} is refused, a removal makes room`, async () => {
      const backend = new MemoryKvBackend();
      const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {}) };
      const p = (await KvStore.open(backend, o)).protocol;
      const kyber = await ratchet.generateKyberPreKey(await p.getIdentityKeyPair(), 7, { lastResort: true });
      await p.saveKyberPreKey(7, kyber);
      const fresh = async () => (await KeyPair.generate(defaultProvider)).publicKey;
      // Ten triples name signed pre-key 1; the rest one base key with signed ids 100, 101, …
      for (let i = 0; i < 10; i++) await p.markKyberPreKeyUsed(7, 1, await fresh());
      const base = await fresh();
      for (let i = 10; i < CAP; i++) await p.markKyberPreKeyUsed(7, 100 + i, base);
      const other = (await KeyPair.generate(defaultProvider)).publicKey;
      const before = backend.snapshot();
      const refused = await p.markKyberPreKeyUsed(7, 2, other).catch((e: unknown) => e);
      expect(E2eeError.is(refused, ratchet.RatchetErrorCode.LastResortKyberPreKeyExhausted)).toBe(true);
      expect(backend.snapshot()).toEqual(before);
      // Forgetting the 10 rows naming signed pre-key 1 makes room for exactly 10 more.
      await p.removeSignedPreKey(1);
      for (let i = 0; i < 10; i++) await p.markKyberPreKeyUsed(7, 3, await fresh());
      await expect(p.markKyberPreKeyUsed(7, 2, other)).rejects.toThrow();
      // Removing the Kyber key leaves no kyber_used row at all (its count included).
      await p.removeKyberPreKey(7);
      expect([...backend.snapshot().keys()].filter((k) => k.startsWith('kyber_used\u0000'))).toEqual([]);
    }, 120_000);
  }
});

// The count row is a cache of the rows it counts: an edited or deleted count row (a file edited by
// hand, a partial restore) must not reopen the cap. It read as 0 then: 10,000 more rows per edit.
describe('a lost or malformed count row is counted again from the rows', () => {
  for (const edit of ['malformed', 'deleted'] as const) {
    it(`${edit} count row at the cap: the next triple is still refused`, async () => {
      const backend = new MemoryKvBackend();
      const p = (await KvStore.open(backend, { ratchet })).protocol;
      const kyber = await ratchet.generateKyberPreKey(await p.getIdentityKeyPair(), 7, { lastResort: true });
      await p.saveKyberPreKey(7, kyber);
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      for (let i = 0; i < CAP; i++) await p.markKyberPreKeyUsed(7, 100 + i, base);
      const countRow = { table: 'kyber_used' as const, key: 'n:7' };
      expect(await backend.get(countRow.table, countRow.key)).toBeDefined();
      await backend.commit([
        { ...countRow, value: edit === 'deleted' ? null : Uint8Array.from('n:7:x', (c) => c.charCodeAt(0)) },
      ]);
      const other = (await KeyPair.generate(defaultProvider)).publicKey;
      const refused = await p.markKyberPreKeyUsed(7, 2, other).catch((e: unknown) => e);
      expect(E2eeError.is(refused, ratchet.RatchetErrorCode.LastResortKyberPreKeyExhausted)).toBe(true);
    }, 120_000);
  }
});
