// Field case: the app's upload after `maintain` fails (network, crash before the request). The
// rotated keys are stored and current locally, but the server still serves the previous ones. The
// next `maintain` must offer them again, and the key the server was last confirmed to hold must
// never be removed as "expired" — or every new session from the server's bundle fails.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

const DAY = 24 * 60 * 60 * 1000;
const plenty = { preKeys: 100, kyberPreKeys: 100 };

async function setup() {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const store = await InMemoryProtocolStore.create();
  const manager = new PreKeyManager(store, { now: () => clock.now, minPreKeys: 1, batchSize: 1 });
  return { clock, store, manager };
}

describe('PreKeyManager after a failed upload', () => {
  it('the next maintain offers the unconfirmed signed and last-resort keys again', async () => {
    const { clock, manager } = await setup();
    const first = await manager.maintain(plenty);
    await manager.confirmUpload(first);
    clock.now += 3 * DAY;
    const lost = await manager.maintain(plenty); // rotated; its upload fails: no confirmUpload
    expect(lost.signedPreKey?.id).not.toBe(first.signedPreKey?.id);
    clock.now += 60_000;
    const retry = await manager.maintain(plenty);
    expect(retry.signedPreKey?.id).toBe(lost.signedPreKey?.id);
    expect(retry.lastResortKyberPreKey?.id).toBe(lost.lastResortKyberPreKey?.id);
    await manager.confirmUpload(retry);
    const after = await manager.maintain(plenty);
    expect([after.signedPreKey, after.lastResortKyberPreKey]).toEqual([undefined, undefined]);
  });

  it('the keys the server was last confirmed to hold outlive the grace period until a newer upload is confirmed', async () => {
    const { clock, store, manager } = await setup();
    const held = await manager.maintain(plenty);
    await manager.confirmUpload(held);
    const heldSigned = held.signedPreKey?.id as number;
    const heldKyber = held.lastResortKyberPreKey?.id as number;
    // Every later upload fails, for longer than rotation + grace.
    for (let day = 0; day < 40; day += 3) {
      clock.now += 3 * DAY;
      await manager.maintain(plenty);
    }
    expect(await store.getSignedPreKey(heldSigned)).not.toBeNull();
    expect(await store.getKyberPreKey(heldKyber)).not.toBeNull();
    // Once the server confirms a newer upload, the old keys expire as usual.
    await manager.confirmUpload(await manager.maintain(plenty));
    expect(await manager.removeExpiredKeys()).toBeGreaterThan(0);
    expect(await store.getSignedPreKey(heldSigned)).toBeNull();
    expect(await store.getKyberPreKey(heldKyber)).toBeNull();
  });
});

describe('PreKeyManager one-time keys after a failed upload', () => {
  it('maintain offers the unconfirmed batch again instead of storing a new one each time', async () => {
    const store = await InMemoryProtocolStore.create();
    const m = new PreKeyManager(store, { minPreKeys: 10, batchSize: 20 });
    await m.confirmUpload(await m.maintain({ preKeys: 0, kyberPreKeys: 0 }));
    const low = { preKeys: 5, kyberPreKeys: 5 };
    const lost = await m.maintain(low); // its upload fails
    const sizeAfterLost = store.snapshot().size;
    for (let i = 0; i < 5; i++) {
      const retry = await m.maintain(low); // every retry fails too
      expect(retry.preKeys.map((k) => k.id)).toEqual(lost.preKeys.map((k) => k.id));
      expect(retry.kyberPreKeys.map((k) => k.id)).toEqual(lost.kyberPreKeys.map((k) => k.id));
    }
    expect(store.snapshot().size).toBe(sizeAfterLost);
    await m.confirmUpload(lost);
    const next = await m.maintain(low);
    expect(next.preKeys[0]?.id).toBe((lost.preKeys.at(-1)?.id as number) + 1);
  });
});

describe('PreKeyStateRecord uploaded ids', () => {
  it('round-trip (fields 8–11); a record without them reads as never confirmed', async () => {
    const { PreKeyStateRecord } = await import('@e2ee-kit/ratchet');
    const base = {
      nextPreKeyId: 5,
      nextSignedPreKeyId: 9,
      nextKyberPreKeyId: 12,
      currentSignedPreKeyId: 8,
      retiredSignedPreKeys: [{ id: 7, retiredAt: 1_700_000_000_000 }],
      currentLastResortKyberPreKeyId: 11,
      retiredLastResortKyberPreKeys: [],
    };
    const withIds = new PreKeyStateRecord({
      ...base,
      uploadedSignedPreKeyId: 7,
      uploadedLastResortKyberPreKeyId: 11,
    });
    const back = PreKeyStateRecord.deserialize(
      withIds.with({ uploadedNextPreKeyId: 4, uploadedNextKyberPreKeyId: 12 }).serialize(),
    );
    expect([back.uploadedSignedPreKeyId, back.uploadedLastResortKyberPreKeyId]).toEqual([7, 11]);
    expect([back.uploadedNextPreKeyId, back.uploadedNextKyberPreKeyId]).toEqual([4, 12]);
    const old = PreKeyStateRecord.deserialize(new PreKeyStateRecord(base).serialize());
    expect([old.uploadedSignedPreKeyId, old.uploadedLastResortKyberPreKeyId]).toEqual([undefined, undefined]);
    expect(() => new PreKeyStateRecord({ ...base, uploadedSignedPreKeyId: -1 })).toThrow(RangeError);
  });
});
