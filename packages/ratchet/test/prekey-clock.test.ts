// The manager's clock decides rotation and expiry. A clock that returns garbage (NaN, a negative or
// fractional value, Infinity) must be refused at once — with NaN every comparison is false, so the
// manager silently stops rotating and never expires a retired key. And a clock that went backwards
// after a rotation must not keep a retired private key for as long as it ran ahead.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { snap } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const counts = { preKeys: 100, kyberPreKeys: 100 };

describe('PreKeyManager with a clock that returns garbage', () => {
  for (const bad of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53]) {
    it(`now() = ${bad}: every operation refuses with RangeError, nothing stored`, async () => {
      const clock = { now: Date.UTC(2026, 0, 1) };
      const store = await InMemoryProtocolStore.create();
      const manager = new PreKeyManager(store, { now: () => clock.now });
      await manager.confirmUpload(await manager.maintain(counts));
      const before = snap(store);
      clock.now = bad;
      await expect(manager.status(counts)).rejects.toThrow(RangeError);
      await expect(manager.maintain(counts)).rejects.toThrow(RangeError);
      await expect(manager.removeExpiredKeys()).rejects.toThrow(RangeError);
      await expect(manager.rotateSignedPreKey()).rejects.toThrow(RangeError);
      await expect(manager.generateKyberPreKeys(1)).rejects.toThrow(RangeError);
      expect(snap(store)).toBe(before);
    });
  }
});

describe('PreKeyManager when the clock went backwards', () => {
  it('a key retired while the clock ran ahead by more than the grace period expires', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = await InMemoryProtocolStore.create();
    const manager = new PreKeyManager(store, { now: () => clock.now });
    const first = await manager.maintain(counts);
    await manager.confirmUpload(first);
    clock.now = Date.UTC(2036, 0, 1); // ten years ahead: the next maintain rotates and retires `first`
    await manager.confirmUpload(await manager.maintain(counts));
    clock.now = Date.UTC(2026, 0, 2); // corrected
    // Its real age is unknown; waiting for 2036 would keep its private key for ten years.
    expect((await manager.status(counts)).expiredKeys).toBe(2);
    expect(await manager.removeExpiredKeys()).toBe(2);
    expect(await store.getSignedPreKey(first.signedPreKey?.id as number)).toBeNull();
    expect(await store.getKyberPreKey(first.lastResortKyberPreKey?.id as number)).toBeNull();
  });

  it('a key retired a little in the future (clock ahead by less than the grace period) is kept', async () => {
    const clock = { now: Date.UTC(2026, 0, 1) };
    const store = await InMemoryProtocolStore.create();
    const manager = new PreKeyManager(store, { now: () => clock.now });
    const first = await manager.maintain(counts);
    await manager.confirmUpload(first);
    clock.now += 10 * DAY; // rotation due: `first` retired at day 10
    await manager.confirmUpload(await manager.maintain(counts));
    clock.now -= 5 * DAY; // the clock steps back five days
    expect(await manager.removeExpiredKeys()).toBe(0);
    expect(await store.getSignedPreKey(first.signedPreKey?.id as number)).not.toBeNull();
  });
});
