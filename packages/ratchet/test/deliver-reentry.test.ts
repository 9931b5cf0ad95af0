// The `deliver` callback of `decrypt` runs while the decrypt holds the address lock (and, for a PreKey
// message, may hold the pre-key lock). A call into a cipher for that address made from the callback
// would wait for the decrypt, which waits for the callback: it must fail with a typed error at once,
// leave the store as it was, and not stop a later decrypt. A slow callback only delays later calls.
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';
import { deferred } from '../../../tools/deferred.js';
import { talking } from './deliver-peers.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

it('deliver calling encrypt for a reply on the same address: REENTRANT_CALL, state unchanged, retry works', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const before = (await bob.store.getSession(alice.address))?.serialize();
  const replyCipher = bob.cipher(alice); // another SessionCipher object over the same store
  await expect(
    bobToAlice.decrypt(wire, { deliver: async () => void (await replyCipher.encrypt(utf8('pong'))) }),
  ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
  expect((await bob.store.getSession(alice.address))?.serialize()).toEqual(before);
  const delivered: string[] = [];
  await bobToAlice.decrypt(wire, { deliver: (m) => void delivered.push(text(m.plaintext)) });
  expect(delivered).toEqual(['ping']);
  // The reply, sent once the decrypt resolved, reads the committed state.
  expect(text((await aliceToBob.decrypt(await replyCipher.encrypt(utf8('pong')))).plaintext)).toBe('pong');
});

it('deliver of a PreKey message calling into the same cipher (hasSession, archive): refused, not a hang', async () => {
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1);
  const toBob = alice.cipher(bob);
  await toBob.initiate(await bob.bundle());
  const wire = await toBob.encrypt(utf8('first'));
  const cipher = bob.cipher(alice);
  const seen: unknown[] = [];
  const m = await cipher.decrypt(wire, {
    deliver: async () => {
      const calls = await Promise.allSettled([cipher.hasSession(), cipher.archive()]);
      for (const c of calls)
        seen.push(c.status === 'rejected' ? (c.reason as { code?: string }).code : 'ran');
    },
  });
  expect(seen).toEqual(['REENTRANT_CALL', 'REENTRANT_CALL']);
  expect(m.newSession).toBe(true);
  expect(await cipher.hasSession()).toBe(true);
});

it('a deliver for another address may call that cipher; a slow deliver only delays a later decrypt', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const carol = await createTestParty('carol', 1);
  const bobToCarol = bob.cipher(carol);
  await bobToCarol.initiate(await carol.bundle());
  const w1 = await aliceToBob.encrypt(utf8('one'));
  const w2 = await aliceToBob.encrypt(utf8('two'));
  const { promise: gate, resolve: release } = deferred();
  const { promise: inDeliver, resolve: entered } = deferred();
  const order: string[] = [];
  const first = bobToAlice.decrypt(w1, {
    deliver: async (m) => {
      order.push(`deliver ${text(m.plaintext)}`);
      entered();
      // Another peer's cipher: its own lock, not held by this decrypt.
      expect((await bobToCarol.encrypt(utf8('fan-out'))).type).toBe('prekey');
      await gate;
      order.push('released');
    },
  });
  const second = bobToAlice.decrypt(w2, { deliver: (m) => void order.push(`deliver ${text(m.plaintext)}`) });
  await inDeliver;
  // The second decrypt is queued behind the first, whose deliver is still waiting.
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  expect(order).toEqual(['deliver one']);
  release();
  await Promise.all([first, second]);
  expect(order).toEqual(['deliver one', 'released', 'deliver two']);
  expect(await bob.store.getSession(alice.address)).not.toBeNull();
});
