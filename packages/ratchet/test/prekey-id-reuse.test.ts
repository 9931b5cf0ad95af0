// A pre-key state that points at ids still in use — restored from an older backup while the keys
// stayed, or lost and started again at a random id — must never make the manager overwrite a stored
// key: the server may still hand that id out, and a sender would then encrypt to a key the device no
// longer has. Ids the store holds are skipped.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';
import { snap } from './helpers.js';

const DAY = 24 * 60 * 60 * 1000;
const low = { preKeys: 0, kyberPreKeys: 0 };

/** Keys of every kind stored beyond what an older copy of the pre-key state knows about. */
async function staleState() {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const store = await InMemoryProtocolStore.create();
  const manager = new PreKeyManager(store, { now: () => clock.now, minPreKeys: 2, batchSize: 3 });
  await manager.confirmUpload(await manager.maintain(low));
  const old = await store.getPreKeyState();
  clock.now += 3 * DAY;
  await manager.confirmUpload(await manager.maintain(low)); // new one-time keys and both rotations
  const keys = new Map([...store.snapshot()].filter(([k]) => !k.startsWith('prekey-state')));
  if (old) await store.savePreKeyState(old); // the state from before that maintain
  return { store, manager, keys };
}

function expectKept(store: InMemoryProtocolStore, keys: Map<string, Uint8Array>): void {
  const now = store.snapshot();
  for (const [k, v] of keys) expect(now.get(k), k).toEqual(v);
}

it('one-time pre-keys skip ids the store still holds', async () => {
  const { store, manager, keys } = await staleState();
  const made = await manager.generatePreKeys(5);
  const kyber = await manager.generateKyberPreKeys(5);
  expectKept(store, keys);
  for (const r of made) expect(keys.has(`prekey:${r.id}`)).toBe(false);
  for (const r of kyber) expect(keys.has(`kyber:${r.id}`)).toBe(false);
  expect(new Set(made.map((r) => r.id)).size).toBe(5);
});

it('rotations skip ids the store still holds', async () => {
  const { store, manager, keys } = await staleState();
  const signed = await manager.rotateSignedPreKey();
  const lastResort = await manager.rotateLastResortKyberPreKey();
  expectKept(store, keys);
  expect(keys.has(`signed:${signed.id}`)).toBe(false);
  expect(keys.has(`kyber:${lastResort.id}`)).toBe(false);
});

it('at the top of the 32-bit id space the manager refuses instead of wrapping, and stores nothing', async () => {
  const store = await InMemoryProtocolStore.create();
  const manager = new PreKeyManager(store);
  await manager.maintain(low);
  const state = await store.getPreKeyState();
  if (!state) throw new Error('maintain stores the state');
  await store.savePreKeyState(state.with({ nextPreKeyId: 0xffff_fffc, nextSignedPreKeyId: 0xffff_ffff }));
  expect((await manager.generatePreKeys(3)).map((r) => r.id)).toEqual([
    0xffff_fffc, 0xffff_fffd, 0xffff_fffe,
  ]);
  const before = snap(store);
  await expect(manager.generatePreKeys(1)).rejects.toThrow(RangeError);
  await expect(manager.rotateSignedPreKey()).rejects.toThrow(RangeError);
  expect(snap(store)).toBe(before);
});
