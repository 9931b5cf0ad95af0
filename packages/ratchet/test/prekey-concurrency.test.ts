// Two PreKeyManagers on one store (two parts of an app, or two tabs sharing one lock) call
// `maintain` at once. Each upload replaces the server's signed and last-resort keys, and the uploads
// can land in either order: if the two calls rotated twice, the server may end up holding the older
// rotation, which the manager then retires and deletes after the grace period — and every new
// session from the server's bundle fails. So concurrent calls must hand out the same keys.
import { PreKeyManager, type PreKeyUpload } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';

const DAY = 24 * 60 * 60 * 1000;
const low = { preKeys: 0, kyberPreKeys: 0 };

it('two concurrent maintain calls never leave the server holding a key the manager deletes', async () => {
  const clock = { now: Date.UTC(2026, 0, 1) };
  const store = await InMemoryProtocolStore.create();
  const options = { now: () => clock.now, minPreKeys: 2, batchSize: 3 };
  const [a, b] = [new PreKeyManager(store, options), new PreKeyManager(store, options)];
  await a.confirmUpload(await a.maintain(low));
  clock.now += 3 * DAY; // both rotations due
  const [ua, ub] = await Promise.all([a.maintain(low), b.maintain(low)]);

  // The server keeps the signed / last-resort key of the upload it received last: here `ua`.
  const server: { signed?: number | undefined; kyber?: number | undefined } = {};
  const upload = async (u: PreKeyUpload) => {
    server.signed = u.signedPreKey?.id ?? server.signed;
    server.kyber = u.lastResortKyberPreKey?.id ?? server.kyber;
    await a.confirmUpload(u);
  };
  await upload(ub);
  await upload(ua);

  clock.now += 31 * DAY; // past the grace period of anything retired at the rotation
  await a.removeExpiredKeys();
  expect(await store.getSignedPreKey(server.signed as number)).not.toBeNull();
  expect(await store.getKyberPreKey(server.kyber as number)).not.toBeNull();
  // One rotation and one batch of each one-time kind, handed to both calls.
  expect(ua.signedPreKey?.id).toBe(ub.signedPreKey?.id);
  expect(ua.lastResortKyberPreKey?.id).toBe(ub.lastResortKyberPreKey?.id);
  expect(ua.preKeys.map((k) => k.id)).toEqual(ub.preKeys.map((k) => k.id));
  expect(ua.kyberPreKeys.map((k) => k.id)).toEqual(ub.kyberPreKeys.map((k) => k.id));
});
