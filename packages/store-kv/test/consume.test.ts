/**
 * Two store objects over one database (two processes or tabs) racing to consume the same one-time
 * pre-key, or to mark the same last-resort Kyber triple, inside transactions: exactly one commit may
 * win, whatever the app's locks. Checked in the database transaction (`KvWrite.ifPresent` /
 * `ifAbsent`), not by a read first.
 */
import { defaultProvider, KeyPair } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

/** Runs `step` in a transaction on each store, both stepping before either commits; returns how many failed. */
async function race(
  one: KvStore,
  two: KvStore,
  step: (tx: ratchet.ProtocolStore) => Promise<void>,
): Promise<number> {
  let release!: () => void;
  const bothRead = new Promise<void>((r) => {
    release = r;
  });
  let releaseSteps!: () => void;
  const bothStepped = new Promise<void>((r) => {
    releaseSteps = r;
  });
  let reads = 0;
  let steps = 0;
  // Both read, then both step (reads and buffered writes), and only then do both commit.
  const run = (s: KvStore) =>
    s.transaction(async (tx) => {
      await tx.protocol.getPreKey(1);
      if (++reads === 2) release();
      await bothRead;
      await step(tx.protocol);
      if (++steps === 2) releaseSteps();
      await bothStepped;
    });
  const results = await Promise.allSettled([run(one), run(two)]);
  return results.filter((r) => r.status === 'rejected').length;
}

describe('consuming pre-keys across store objects on one database', () => {
  for (const sealed of [false, true]) {
    const o = { ratchet, ...(sealed ? { encryptionKey: new Uint8Array(32).fill(3) } : {}) };
    const kind = sealed ? 'sealed' : 'plain';

    it(`${kind}: a one-time pre-key removed by two racing transactions is removed by exactly one`, async () => {
      const backend = new MemoryKvBackend();
      const one = await KvStore.open(backend, o);
      const two = await KvStore.open(backend, o);
      const [pk, pk2] = await ratchet.generatePreKeys(1, 2);
      await one.protocol.savePreKey(1, pk as ratchet.PreKeyRecord);
      expect(await race(one, two, (p) => p.removePreKey(1))).toBe(1);
      expect(await one.protocol.getPreKey(1)).toBeNull();
      // Removing an absent pre-key stays no error.
      await one.protocol.removePreKey(1);
      // A pre-key saved and removed inside one transaction was never in the database: that commits.
      await one.transaction(async (tx) => {
        await tx.protocol.savePreKey(2, pk2 as ratchet.PreKeyRecord);
        await tx.protocol.removePreKey(2);
      });
      expect(await one.protocol.getPreKey(2)).toBeNull();
    });

    it(`${kind}: a one-time Kyber pre-key marked used by two racing transactions is consumed once`, async () => {
      const backend = new MemoryKvBackend();
      const one = await KvStore.open(backend, o);
      const two = await KvStore.open(backend, o);
      const id = await one.protocol.getIdentityKeyPair();
      const kyber = await ratchet.generateKyberPreKey(id, 5);
      await one.protocol.saveKyberPreKey(5, kyber);
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      expect(await race(one, two, (p) => p.markKyberPreKeyUsed(5, 1, base))).toBe(1);
      expect(await one.protocol.getKyberPreKey(5)).toBeNull();
    });

    it(`${kind}: a last-resort Kyber triple marked by two racing transactions is accepted once`, async () => {
      const backend = new MemoryKvBackend();
      const one = await KvStore.open(backend, o);
      const two = await KvStore.open(backend, o);
      const id = await one.protocol.getIdentityKeyPair();
      const kyber = await ratchet.generateKyberPreKey(id, 6, { lastResort: true });
      await one.protocol.saveKyberPreKey(6, kyber);
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      expect(await race(one, two, (p) => p.markKyberPreKeyUsed(6, 1, base))).toBe(1);
      // The key stays; the same triple again is refused.
      expect(await one.protocol.getKyberPreKey(6)).not.toBeNull();
      await expect(one.protocol.markKyberPreKeyUsed(6, 1, base)).rejects.toThrow();
    });
  }
});
