// A flood of PreKey messages on the last-resort Kyber pre-key (anyone holding the public bundle can
// send them) must not grow the replay markers without bound: each last-resort key accepts at most
// MAX_LAST_RESORT_USES distinct (signed id, base key) pairs, then refuses with a typed error and
// leaves the store unchanged; rotating the last-resort key accepts new senders again.
import { E2eeError, KeyPair, platformProvider } from '@e2ee-kit/core';
import { MAX_LAST_RESORT_USES, PreKeyManager, RatchetErrorCode } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { rejectsWithoutChange, utf8 } from './helpers.js';

const provider = platformProvider;
const usedMarkers = (s: InMemoryProtocolStore) =>
  [...s.snapshot().keys()].filter((k) => k.startsWith('used-last-resort:')).length;

describe('last-resort Kyber replay markers are bounded', () => {
  it('a flood of PreKey messages stops at the cap with a typed error, store unchanged', async () => {
    const cap = 4;
    const bob = await createTestParty('bob', 1, { provider, store: { maxLastResortUses: cap } });
    const bundle = await bob.bundle({ kyberPreKey: 'last-resort', preKey: false });
    const mallory = await createTestParty('mallory', 1, { provider });
    // Each new session from the public bundle has a fresh base key: one marker per message.
    const forge = async () => {
      const c = mallory.cipher(bob);
      await c.initiate(bundle);
      return c.encrypt(utf8('flood'));
    };
    for (let i = 0; i < cap; i++) await bob.cipher(mallory).decrypt(await forge());
    expect(usedMarkers(bob.store)).toBe(cap);

    const extra = await forge();
    const err = await rejectsWithoutChange([bob.store], () => bob.cipher(mallory).decrypt(extra));
    expect(E2eeError.is(err, RatchetErrorCode.LastResortKyberPreKeyExhausted)).toBe(true);
    expect(usedMarkers(bob.store)).toBe(cap);

    // The app's remedy: a new last-resort key (the flooded one keeps its markers, so no replay).
    await new PreKeyManager(bob.store, { provider }).rotateLastResortKyberPreKey();
    const fresh = await bob.bundle({ kyberPreKey: 'last-resort', preKey: false });
    const alice = await createTestParty('alice', 1, { provider });
    const a = alice.cipher(bob);
    await a.initiate(fresh);
    expect((await bob.cipher(alice).decrypt(await a.encrypt(utf8('hi')))).newSession).toBe(true);
  });

  it('the default store refuses the pair after MAX_LAST_RESORT_USES', async () => {
    expect(MAX_LAST_RESORT_USES).toBe(10_000);
    const bob = await createTestParty('bob', 1, { provider });
    const manager = new PreKeyManager(bob.store, { provider });
    const kyber = await manager.rotateLastResortKyberPreKey();
    const base = (await KeyPair.generate(provider)).publicKey;
    // Same base key, different signed ids: distinct triples, so each is a new marker.
    for (let sp = 0; sp < MAX_LAST_RESORT_USES; sp++) await bob.store.markKyberPreKeyUsed(kyber.id, sp, base);
    const refused = await bob.store.markKyberPreKeyUsed(kyber.id, MAX_LAST_RESORT_USES, base).catch((e) => e);
    expect(E2eeError.is(refused, RatchetErrorCode.LastResortKyberPreKeyExhausted)).toBe(true);
    expect(usedMarkers(bob.store)).toBe(MAX_LAST_RESORT_USES);
    // Removing the key forgets its markers and its count.
    await bob.store.removeKyberPreKey(kyber.id);
    expect(usedMarkers(bob.store)).toBe(0);
  }, 60_000);
});
