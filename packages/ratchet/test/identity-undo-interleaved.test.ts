// The undo of a decrypt's `saveIdentity` (a throwing `deliver` on a store without transactions) hands
// `restoreIdentityEntry` the key it saved: a key stored for the peer meanwhile by someone else — here
// the app inside `deliver`, standing in for another tab over the same backend — is kept, not undone.
import { createAddress, KeyPair, platformProvider, toHex } from '@e2ee-kit/core';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';

const provider = platformProvider;
const utf8 = (s: string) => new TextEncoder().encode(s);

it('a failed decrypt does not undo a key stored for the peer after its own save', async () => {
  const alice = await createTestParty('alice', 1, { provider });
  const bob = await createTestParty('bob', 1, { provider });
  const ab = alice.cipher(bob);
  const ba = bob.cipher(alice);
  await ab.initiate(await bob.bundle());
  await ba.decrypt(await ab.encrypt(utf8('hi')));
  await ab.decrypt(await ba.encrypt(utf8('hello')));
  const whisper = await ab.encrypt(utf8('whisper'));
  const aliceAt = createAddress('alice', 1);
  // First contact again: the decrypt's save reports `new`, its undo would delete the key.
  await bob.store.removeIdentity(aliceAt);
  const other = (await KeyPair.generate(provider)).publicKey;
  await expect(
    ba.decrypt(whisper, {
      deliver: async () => {
        expect((await bob.store.saveIdentity(aliceAt, other)).kind).toBe('replaced');
        throw new Error('app');
      },
    }),
  ).rejects.toThrow('app');
  const kept = await bob.store.getIdentity(aliceAt);
  expect(kept && toHex(kept.serialize())).toBe(toHex(other.serialize()));
});
