/**
 * For at-rest tests: fill a store through the real ciphers (a PreKey session, spare pre-keys of every
 * kind, a sender-key chain) and list the secrets it then holds; count how many 16-byte runs of them
 * occur in a raw database dump.
 */
import { createAddress, utf8 } from '@e2ee-kit/core';
import { createPreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import type { KvStore } from '@e2ee-kit/store-kv';

const DIST = '6a1b2c3d-0000-4000-8000-0000000000aa';

export async function fillWithSecrets(store: KvStore): Promise<Uint8Array[]> {
  const me = createAddress('bob', 1);
  const alice = createAddress('alice', 1);
  const a = new SessionCipher(await InMemoryProtocolStore.create(), me);
  await a.initiate(await createPreKeyBundle(store.protocol, { deviceId: 1 }));
  await new SessionCipher(store.protocol, alice).decrypt(await a.encrypt(utf8('hi')));
  // A second bundle leaves unused pre-keys of every kind in the store.
  const spare = await createPreKeyBundle(store.protocol, { deviceId: 1 });
  await new GroupCipher(store.senderKeys).createDistributionMessage(me, DIST);
  const pre = await store.protocol.getPreKey(spare.preKey?.id ?? -1);
  const signed = await store.protocol.getSignedPreKey(spare.signedPreKey.id);
  const kyber = await store.protocol.getKyberPreKey(spare.kyberPreKey?.id ?? -1);
  const session = await store.protocol.getSession(alice);
  const chain = await store.senderKeys.loadSenderKey(me, DIST);
  if (!pre || !signed || !kyber || !session || !chain) throw new Error('records were not stored');
  return [
    (await store.protocol.getIdentityKeyPair()).privateKey.serialize(),
    pre.keyPair.privateKey.serialize(),
    signed.keyPair.privateKey.serialize(),
    kyber.serialize(),
    session.serialize(),
    chain.serialize(),
  ];
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** How many 16-byte windows (stride 4) of `secrets` occur in any of `dump`. */
export function countLeaks(dump: readonly Uint8Array[], secrets: readonly Uint8Array[]): number {
  let n = 0;
  for (const s of secrets)
    for (let i = 0; i + 16 <= s.length; i += 4) {
      const w = s.subarray(i, i + 16);
      if (dump.some((d) => indexOf(d, w) !== -1)) n++;
    }
  return n;
}
