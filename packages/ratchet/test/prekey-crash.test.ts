// A store without `transaction` that throws on its k-th write, for every k, during each
// PreKeyManager operation: afterwards the operation either completed or every stored record is
// byte-identical to before, the refusal is a typed StoreError, and the same call then succeeds.
import { E2eeError, ErrorCode } from '@e2ee-kit/core';
import { createPreKeyBundle, PreKeyManager, type PreKeyUpload } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { snap } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const WRITES = /^(save|remove|mark)/;

/** A store whose k-th write (from `arm(k)`) throws a plain Error and has no effect. */
async function faultyStore() {
  const fault = { countdown: 0 };
  const store = await InMemoryProtocolStore.create({
    onCall(method) {
      if (!WRITES.test(method) || fault.countdown === 0) return;
      if (--fault.countdown === 0) throw new Error('disk full');
    },
  });
  return { store, arm: (k: number) => (fault.countdown = k) };
}

type Op = (m: PreKeyManager, prepared: unknown, store: InMemoryProtocolStore) => Promise<unknown>;

/** A manager that already maintained once (so a pre-key state exists), the clock `advance` later. */
async function prepared(advance: number) {
  const { store, arm } = await faultyStore();
  const clock = { now: Date.UTC(2026, 0, 1) };
  const manager = new PreKeyManager(store, { now: () => clock.now, minPreKeys: 2, batchSize: 3 });
  await manager.confirmUpload(await manager.maintain({ preKeys: 0, kyberPreKeys: 0 }));
  clock.now += advance;
  return { store, arm, manager };
}

async function everyK(
  name: string,
  op: Op,
  { advance = 0, setup = async () => undefined }: { advance?: number; setup?: Op } = {},
  maxK = 20,
): Promise<void> {
  let completedAt: number | undefined;
  for (let k = 1; k <= maxK && completedAt === undefined; k++) {
    const { store, arm, manager } = await prepared(advance);
    const input = await setup(manager, undefined, store); // before the snapshot: not part of the operation
    const before = snap(store);
    arm(k);
    let error: unknown;
    try {
      await op(manager, input, store);
    } catch (err) {
      error = err;
    }
    arm(0);
    if (error === undefined) {
      completedAt = k; // fewer than k writes: the operation never met the fault
      break;
    }
    expect(E2eeError.is(error, ErrorCode.Store), `${name}, write ${k}: ${String(error)}`).toBe(true);
    expect(snap(store), `${name}: records after a failure at write ${k}`).toBe(before);
    await op(manager, input, store); // the retry succeeds
  }
  expect(completedAt, `${name} should finish within ${maxK} writes`).toBeDefined();
}

describe('PreKeyManager with a store that fails its k-th write', () => {
  it('generatePreKeys', () => everyK('generatePreKeys', (m) => m.generatePreKeys(3)));
  it('generateKyberPreKeys', () => everyK('generateKyberPreKeys', (m) => m.generateKyberPreKeys(2)));
  it('rotateSignedPreKey', () => everyK('rotateSignedPreKey', (m) => m.rotateSignedPreKey()));
  it('rotateLastResortKyberPreKey', () =>
    everyK('rotateLastResortKyberPreKey', (m) => m.rotateLastResortKyberPreKey()));
  it('maintain (refill and both rotations)', () =>
    everyK('maintain', (m) => m.maintain({ preKeys: 0, kyberPreKeys: 0 }), { advance: 3 * DAY }));
  it('confirmUpload', () =>
    everyK('confirmUpload', (m, upload) => m.confirmUpload(upload as PreKeyUpload), {
      advance: 3 * DAY,
      setup: (m) => m.maintain({ preKeys: 0, kyberPreKeys: 0 }),
    }));
  it('createPreKeyBundle (one-time EC and Kyber keys)', () =>
    everyK('createPreKeyBundle', (_m, _input, store) => createPreKeyBundle(store, { deviceId: 1 })));
});

describe('PreKeyManager.removeExpiredKeys with a store that fails its k-th write', () => {
  // Removals are not undone (the store forgets a removed key's replay markers): they come before the
  // state that drops them, so a failure never leaves a private key that no state names, and a retry
  // finishes the job.
  it('never orphans a key, and a retry removes every expired key', async () => {
    for (let k = 1; k <= 3; k++) {
      const { store, arm, manager } = await preparedWithRetired();
      const before = snap(store);
      arm(k);
      const error = await manager.removeExpiredKeys().catch((err: unknown) => err);
      arm(0);
      expect(E2eeError.is(error, ErrorCode.Store), `write ${k}`).toBe(true);
      if (k === 1) expect(snap(store)).toBe(before);
      const state = await store.getPreKeyState();
      const named = new Set([
        state?.currentSignedPreKeyId,
        state?.currentLastResortKyberPreKeyId,
        ...(state?.retiredSignedPreKeys ?? []).map((r) => r.id),
        ...(state?.retiredLastResortKyberPreKeys ?? []).map((r) => r.id),
      ]);
      for (const key of store.snapshot().keys()) {
        const [kind, id] = key.split(':');
        if (kind === 'signed' || (kind === 'kyber' && (await store.getKyberPreKey(Number(id)))?.lastResort))
          expect(named.has(Number(id)), `${key} after a failure at write ${k}`).toBe(true);
      }
      expect(await manager.removeExpiredKeys()).toBe(2); // the state still lists both: it is saved last
      expect((await store.getPreKeyState())?.retiredSignedPreKeys).toEqual([]);
      expect((await store.getPreKeyState())?.retiredLastResortKyberPreKeys).toEqual([]);
    }
  });
});

/** Both kinds rotated once and confirmed, then the clock past the grace period: two expired keys. */
async function preparedWithRetired() {
  const { store, arm } = await faultyStore();
  const clock = { now: Date.UTC(2026, 0, 1) };
  const manager = new PreKeyManager(store, { now: () => clock.now, minPreKeys: 2, batchSize: 3 });
  const counts = { preKeys: 0, kyberPreKeys: 0 };
  await manager.confirmUpload(await manager.maintain(counts));
  clock.now += 3 * DAY;
  await manager.confirmUpload(await manager.maintain(counts));
  clock.now += 31 * DAY;
  return { store, arm, manager };
}

it('createPreKeyBundle with a device id the bundle refuses stores nothing', async () => {
  const { store } = await faultyStore();
  await createPreKeyBundle(store, { deviceId: 1 });
  const before = snap(store);
  await expect(createPreKeyBundle(store, { deviceId: 0 })).rejects.toThrow(RangeError);
  expect(snap(store)).toBe(before);
});
