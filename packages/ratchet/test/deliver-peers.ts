// Two parties with a session both ways (bob started it, alice answered), for the deliver tests.
import { createTestParty } from '@e2ee-kit/ratchet/testing';

const utf8 = (s: string) => new TextEncoder().encode(s);

export async function talking() {
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1);
  const bobToAlice = bob.cipher(alice);
  await bobToAlice.initiate(await alice.bundle());
  const aliceToBob = alice.cipher(bob);
  await aliceToBob.decrypt(await bobToAlice.encrypt(utf8('hello')));
  return { alice, bob, bobToAlice, aliceToBob };
}
