// An app's own `saveIdentity` inside a KvStore transaction (e.g. accepting a contact's new key
// together with a note in its own rows): the change must be reported once the transaction committed —
// never for one that rolled back, and once however the call is made. The ciphers already defer theirs.
import {
  createAddress,
  type IdentityChangeEvent,
  KeyPair,
  type PublicKey,
  platformProvider,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { expect, it } from 'vitest';
import { KvStore } from '../src/index.js';
import { MemoryKvBackend } from '../src/testing/index.js';

const BOB = createAddress('bob', 1);
const newKey = async (): Promise<PublicKey> => (await KeyPair.generate(platformProvider)).publicKey;

async function storeWithBob() {
  const events: IdentityChangeEvent[] = [];
  const store = await KvStore.open(new MemoryKvBackend(), {
    ratchet,
    senderKeys,
    onIdentityChange: (e) => events.push(e),
  });
  await store.protocol.saveIdentity(BOB, await newKey());
  return { store, events };
}

it('a replacement saved inside a transaction that rolls back is never reported', async () => {
  const { store, events } = await storeWithBob();
  const before = await store.protocol.getIdentity(BOB);
  const oops = new Error('the app row could not be written');
  await expect(
    store.transaction(async (tx) => {
      await tx.protocol.saveIdentity(BOB, await newKey());
      throw oops;
    }),
  ).rejects.toBe(oops);
  expect(events).toEqual([]);
  expect((await store.protocol.getIdentity(BOB))?.equals(before as never)).toBe(true);
});

it('a replacement saved inside a transaction is reported once, after the commit', async () => {
  const { store, events } = await storeWithBob();
  const next = await newKey();
  let seenInside = -1;
  await store.transaction(async (tx) => {
    await tx.protocol.saveIdentity(BOB, next);
    seenInside = events.length;
    await tx.app.put('note', new Uint8Array([1]));
  });
  expect(seenInside).toBe(0);
  expect(events).toHaveLength(1);
  expect(events[0]?.current.equals(next)).toBe(true);
});

it('outside a transaction a replacement is reported once, as before', async () => {
  const { store, events } = await storeWithBob();
  await store.protocol.saveIdentity(BOB, await newKey());
  expect(events).toHaveLength(1);
});
