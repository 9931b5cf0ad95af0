// PreKeyManager schedule in the field: a clock that was ahead when a key was made, and rotations
// far more frequent than the grace period (an app rotating on every LAST_RESORT_KYBER_PREKEY_EXHAUSTED).
import { MAX_RETIRED_PRE_KEYS, PreKeyManager, PreKeyStateRecord } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';

const DAY = 24 * 60 * 60 * 1000;
const plenty = { preKeys: 100, kyberPreKeys: 100 };

describe('PreKeyManager schedule', () => {
  it('a signed / last-resort key stamped in the future (the clock was ahead) is due for rotation', async () => {
    const truth = Date.UTC(2026, 0, 1);
    let now = truth + 365 * DAY; // a device whose clock was a year ahead
    const store = await InMemoryProtocolStore.create();
    const m = new PreKeyManager(store, { now: () => now });
    await m.maintain(plenty);
    now = truth; // clock corrected
    const s = await m.status(plenty);
    expect([s.rotateSignedPreKey, s.rotateLastResortKyberPreKey]).toEqual([true, true]);
    // A small step back (NTP) is no reason to rotate.
    now = truth;
    await m.maintain(plenty);
    now -= 60_000;
    expect((await m.status(plenty)).rotateSignedPreKey).toBe(false);
  });

  it(`keeps at most MAX_RETIRED_PRE_KEYS retired keys per kind, removing the oldest (the record reader refuses 10,000)`, async () => {
    expect(MAX_RETIRED_PRE_KEYS).toBe(1_000);
    const store = await InMemoryProtocolStore.create();
    const m = new PreKeyManager(store);
    const first = await m.rotateSignedPreKey();
    for (let i = 0; i < MAX_RETIRED_PRE_KEYS + 1; i++) await m.rotateSignedPreKey();
    const state = (await store.getPreKeyState()) as PreKeyStateRecord;
    expect(state.retiredSignedPreKeys.length).toBe(MAX_RETIRED_PRE_KEYS);
    expect(state.retiredSignedPreKeys[0]?.id).toBe(first.id + 1);
    expect(await store.getSignedPreKey(first.id)).toBeNull();
    expect(await store.getSignedPreKey(first.id + 1)).not.toBeNull();
    expect(PreKeyStateRecord.deserialize(state.serialize()).retiredSignedPreKeys.length).toBe(
      MAX_RETIRED_PRE_KEYS,
    );
  }, 120_000);
});
