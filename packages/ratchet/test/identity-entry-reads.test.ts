// The identity entry (`getIdentityEntry`) is read only for an undo that can run. Outside a store
// transaction every identity save can need one, even the operation's last write (initiate, encrypt, a
// whisper decrypt without `deliver`): a store may apply the save and then throw (a lost commit
// acknowledgement), and only the entry read before it puts the identity back exactly
// (landed-writes.test.ts). Inside a transaction no undo is recorded, and the entry is never read:
// a store round trip (two backend reads in core's identity store) saved on every message.
import { createAddress, platformProvider } from '@e2ee-kit/core';
import type { ProtocolTransaction, SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';

const provider = platformProvider;
const utf8 = (s: string) => new TextEncoder().encode(s);

async function pair() {
  const calls: string[] = [];
  const record = (m: string) => {
    calls.push(m);
  };
  const alice = await createTestParty('alice', 1, { provider, store: { onCall: record } });
  const bob = await createTestParty('bob', 1, { provider, store: { onCall: record } });
  return { alice, bob, calls };
}

/** A pair whose session Alice started, Bob has read one PreKey message of. */
async function started() {
  const p = await pair();
  const ab = p.alice.cipher(p.bob);
  const ba = p.bob.cipher(p.alice);
  await ab.initiate(await p.bob.bundle());
  await ba.decrypt(await ab.encrypt(utf8('hi')));
  return { ...p, ab, ba };
}

/** A `transaction` that keeps every write of `fn`, or none when `fn` throws. */
function transactional(store: InMemoryProtocolStore): void {
  Object.assign(store, {
    async transaction<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> {
      const start = store.snapshot();
      try {
        return await fn({ protocol: store });
      } catch (err) {
        store.restore(start);
        throw err;
      }
    },
  });
}

async function pingPong(ab: SessionCipher, ba: SessionCipher): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await ba.decrypt(await ab.encrypt(utf8(`ping ${i}`)));
    await ab.decrypt(await ba.encrypt(utf8(`pong ${i}`)));
  }
}

it('inside a transaction, initiate, encrypt and a whisper decrypt read no identity entry', async () => {
  const { alice, bob, ab, ba, calls } = await started();
  await ab.decrypt(await ba.encrypt(utf8('hello')));
  transactional(alice.store);
  transactional(bob.store);
  calls.length = 0;
  await pingPong(ab, ba);
  // Each message still checks trust and saves the identity, as libsignal does.
  expect(calls.filter((m) => m === 'isTrustedIdentity')).toHaveLength(12);
  expect(calls.filter((m) => m === 'saveIdentity')).toHaveLength(12);
  expect(calls.filter((m) => m === 'getIdentityEntry')).toHaveLength(0);

  const { alice: a2, bob: b2, calls: calls2 } = await pair();
  transactional(a2.store);
  await a2.cipher(b2).initiate(await b2.bundle());
  expect(calls2).not.toContain('getIdentityEntry');
  expect(await a2.store.getIdentity(b2.address)).not.toBeNull();
});

it('without a transaction, every identity save reads the entry first (its undo may be needed)', async () => {
  const { ab, ba, calls } = await started();
  await ab.decrypt(await ba.encrypt(utf8('hello')));
  calls.length = 0;
  await pingPong(ab, ba);
  expect(calls.filter((m) => m === 'saveIdentity')).toHaveLength(12);
  expect(calls.filter((m) => m === 'getIdentityEntry')).toHaveLength(12);
});

it('a whisper decrypt with deliver still reads it, and a throwing deliver restores the entry exactly', async () => {
  const { bob, ab, ba, calls } = await started();
  const wire = await ab.encrypt(utf8('second'));
  expect(wire.type).toBe('prekey');
  await ba.decrypt(wire);
  const reply = await ab.decrypt(await ba.encrypt(utf8('hello')));
  expect(reply.sessionVersion).toBe(4);
  const whisper = await ab.encrypt(utf8('whisper'));
  expect(whisper.type).toBe('whisper');
  // Bob forgets Alice's identity (first contact again): the decrypt's save reports `new`, and the undo
  // of a throwing deliver must remove it again — which needs the entry read before the save.
  await bob.store.removeIdentity(createAddress('alice', 1));
  calls.length = 0;
  await expect(
    ba.decrypt(whisper, {
      deliver: () => {
        throw new Error('app');
      },
    }),
  ).rejects.toThrow('app');
  expect(calls).toContain('getIdentityEntry');
  expect(calls).toContain('restoreIdentityEntry');
  expect(await bob.store.getIdentity(createAddress('alice', 1))).toBeNull();
  const ok = await ba.decrypt(whisper);
  expect(new TextDecoder().decode(ok.plaintext)).toBe('whisper');
  expect(ok.identityChange.kind).toBe('new');
});
