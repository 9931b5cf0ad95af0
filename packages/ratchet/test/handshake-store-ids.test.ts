// A store that hands back, for the pre-key id a PreKey message names, the record of another id (a
// misfiled row, a store keyed by the wrong field): the handshake would compute with the wrong key and
// fail later as a MAC error, reporting the wrong thing. It is a DecodeError naming both ids, before
// anything is written.
import { E2eeError, ErrorCode, platformProvider } from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  generateKyberPreKey,
  generatePreKeys,
  generateSignedPreKey,
  PreKeySignalMessage,
} from '@e2ee-kit/ratchet';
import { createTestParty, type TestParty } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';
import { snap, utf8 } from './helpers.js';

const provider = platformProvider;

/** Bob's store and Alice's first (PreKey) message to him. */
async function firstMessage(): Promise<{ bob: TestParty; alice: TestParty; wire: EncryptedMessage }> {
  const bob = await createTestParty('bob', 1, { provider });
  const alice = await createTestParty('alice', 1, { provider });
  const ab = alice.cipher(bob);
  await ab.initiate(await bob.bundle());
  const wire = await ab.encrypt(utf8('first'));
  expect(wire.type).toBe('prekey');
  return { bob, alice, wire };
}

async function expectMisfiled(bob: TestParty, alice: TestParty, wire: EncryptedMessage, ids: number[]) {
  const before = snap(bob.store);
  const err = await bob
    .cipher(alice)
    .decrypt(wire)
    .catch((e: unknown) => e);
  expect(E2eeError.is(err, ErrorCode.Decode), String(err)).toBe(true);
  for (const id of ids) expect((err as Error).message).toContain(String(id));
  expect(snap(bob.store)).toBe(before);
}

it('a signed pre-key record of another id is a DecodeError naming both ids, nothing written', async () => {
  const { bob, alice, wire } = await firstMessage();
  const asked = PreKeySignalMessage.deserialize(wire.body).signedPreKeyId;
  const other = await generateSignedPreKey(await bob.store.getIdentityKeyPair(), asked + 1, { provider });
  bob.store.getSignedPreKey = async () => other;
  await expectMisfiled(bob, alice, wire, [asked, asked + 1]);
});

it('a Kyber pre-key record of another id is a DecodeError naming both ids, nothing written', async () => {
  const { bob, alice, wire } = await firstMessage();
  const asked = PreKeySignalMessage.deserialize(wire.body).kyberPreKeyId as number;
  expect(asked).toBeTypeOf('number');
  const other = await generateKyberPreKey(await bob.store.getIdentityKeyPair(), asked + 1, { provider });
  bob.store.getKyberPreKey = async () => other;
  await expectMisfiled(bob, alice, wire, [asked, asked + 1]);
});

it('a one-time pre-key record of another id is a DecodeError naming both ids, nothing written', async () => {
  const { bob, alice, wire } = await firstMessage();
  const asked = PreKeySignalMessage.deserialize(wire.body).preKeyId as number;
  expect(asked).toBeTypeOf('number');
  const [other] = await generatePreKeys(asked + 1, 1, { provider });
  bob.store.getPreKey = async () => other ?? null;
  await expectMisfiled(bob, alice, wire, [asked, asked + 1]);
});

it('the records stored under the asked ids still decrypt', async () => {
  const { bob, alice, wire } = await firstMessage();
  const got = await bob.cipher(alice).decrypt(wire);
  expect(new TextDecoder().decode(got.plaintext)).toBe('first');
});
