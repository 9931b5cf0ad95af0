// A store that hands back, for id n, a record whose own id is another (a store keyed by the wrong
// field, or records moved by hand): the manager must not upload or bundle it as key n — senders would
// encrypt to a key id the device resolves to a different key. It is a DecodeError, like bad bytes.
import { E2eeError, ErrorCode } from '@e2ee-kit/core';
import { createPreKeyBundle, generateSignedPreKey, PreKeyManager } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';

it('a stored signed pre-key whose id differs from the one asked for is a DecodeError', async () => {
  const store = await InMemoryProtocolStore.create();
  const manager = new PreKeyManager(store);
  const upload = await manager.maintain({ preKeys: 0, kyberPreKeys: 0 });
  const id = upload.signedPreKey?.id as number;
  const other = await generateSignedPreKey(await store.getIdentityKeyPair(), id + 1);
  store.getSignedPreKey = async () => other; // the record under `id` is key `id + 1`
  const isDecode = (err: unknown) => E2eeError.is(err, ErrorCode.Decode);
  expect(isDecode(await manager.currentSignedPreKey().catch((e: unknown) => e))).toBe(true);
  expect(isDecode(await manager.maintain({ preKeys: 0, kyberPreKeys: 0 }).catch((e: unknown) => e))).toBe(
    true,
  );
  expect(isDecode(await createPreKeyBundle(store, { deviceId: 1 }).catch((e: unknown) => e))).toBe(true);
});

it('a stored one-time pre-key offered again under another id is a DecodeError', async () => {
  const store = await InMemoryProtocolStore.create();
  const manager = new PreKeyManager(store, { batchSize: 2 });
  await manager.confirmUpload(await manager.maintain({ preKeys: 0, kyberPreKeys: 100 }));
  const [first, second] = (await manager.maintain({ preKeys: 0, kyberPreKeys: 100 })).preKeys;
  const getPreKey = store.getPreKey.bind(store);
  store.getPreKey = async (id) => getPreKey(id === first?.id ? (second?.id as number) : id);
  // The upload failed (no confirmUpload): maintain offers the stored batch again.
  const err = await manager.maintain({ preKeys: 0, kyberPreKeys: 100 }).catch((e: unknown) => e);
  expect(E2eeError.is(err, ErrorCode.Decode)).toBe(true);
});
