// A replaced identity key is reported to the app's `onIdentityChange` once per committed change: after
// the outermost KvStore transaction committed, never for one that rolled back or whose commit failed,
// once for a transaction the app runs again. Inside the transaction the app reads the changes made so
// far from `tx.identityChanges` and writes its own rows ("your safety number changed") with them.
import {
  createAddress,
  E2eeError,
  type IdentityChangeEvent,
  KeyPair,
  type PublicKey,
  platformProvider,
  toHex,
} from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { SessionCipher } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../../tools/deferred.js';
import { KvStore } from '../src/index.js';
import { MemoryKvBackend } from '../src/testing/index.js';

const BOB = createAddress('bob', 1);
const newKey = async (): Promise<PublicKey> => (await KeyPair.generate(platformProvider)).publicKey;
const hex = (k: PublicKey | null | undefined) => (k ? toHex(k.serialize()) : null);
const utf8 = (s: string) => new TextEncoder().encode(s);

async function open(backend: MemoryKvBackend) {
  const events: IdentityChangeEvent[] = [];
  const store = await KvStore.open(backend, { ratchet, onIdentityChange: (e) => events.push(e) });
  return { store, events };
}

async function storeWithBob() {
  const backend = new MemoryKvBackend();
  const { store, events } = await open(backend);
  const first = await newKey();
  await store.protocol.saveIdentity(BOB, first);
  return { backend, store, events, first };
}

describe('onIdentityChange on a KvStore', () => {
  it('a replacement saved in a transaction that throws is never reported, and not stored', async () => {
    const { backend, store, events } = await storeWithBob();
    const before = backend.snapshot();
    const oops = new Error('the app row could not be written');
    await expect(
      store.transaction(async (tx) => {
        await tx.protocol.saveIdentity(BOB, await newKey());
        throw oops;
      }),
    ).rejects.toBe(oops);
    expect(events).toEqual([]);
    expect(backend.snapshot()).toEqual(before);
  });

  it('a replacement by saveIdentity on the top-level view whose commit fails is never reported, and not stored', async () => {
    const { backend, store, events, first } = await storeWithBob();
    const before = backend.snapshot();
    backend.onCommit = () => {
      throw new Error('disk full');
    };
    await expect(store.protocol.saveIdentity(BOB, await newKey())).rejects.toSatisfy((e) =>
      E2eeError.is(e, 'STORE'),
    );
    backend.onCommit = undefined;
    expect(events).toEqual([]);
    expect(backend.snapshot()).toEqual(before);
    expect(hex(await store.protocol.getIdentity(BOB))).toBe(hex(first));
  });

  it('a transaction whose commit fails (another context wrote the key) and is run again: one event', async () => {
    const { backend, store: a, events, first } = await storeWithBob();
    const { store: b, events: bEvents } = await open(backend);
    const fromB = await newKey();
    const fromA = await newKey();
    const saved = deferred();
    const go = deferred();
    let attempts = 0;
    const attempt = () =>
      a.transaction(async (tx) => {
        attempts++;
        await tx.protocol.saveIdentity(BOB, fromA);
        if (attempts === 1) {
          saved.resolve();
          await go.promise;
        }
      });
    const firstTry = attempt();
    await saved.promise;
    // Another tab replaces the key while A's transaction is open: A's commit is refused.
    await b.protocol.saveIdentity(BOB, fromB);
    go.resolve();
    const refused = await firstTry.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(E2eeError.is(refused, 'STORE')).toBe(true);
    expect(events).toEqual([]);
    await attempt();
    expect(events.map((e) => [hex(e.previous), hex(e.current)])).toEqual([[hex(fromB), hex(fromA)]]);
    expect(bEvents.map((e) => [hex(e.previous), hex(e.current)])).toEqual([[hex(first), hex(fromB)]]);
  });

  it('inside the transaction the change is listed, not yet reported; the app row commits with it', async () => {
    const { store, events, first } = await storeWithBob();
    const next = await newKey();
    const inside: string[] = [];
    await store.transaction(async (tx) => {
      expect(tx.identityChanges).toEqual([]);
      await tx.protocol.saveIdentity(BOB, next);
      await tx.transaction(async (nested) => {
        inside.push(`nested sees ${nested.identityChanges.length}`);
      });
      for (const e of tx.identityChanges) await tx.app.put(`note:${e.address.name}`, e.current.serialize());
      inside.push(`reported so far ${events.length}`);
    });
    expect(inside).toEqual(['nested sees 1', 'reported so far 0']);
    expect(events.map((e) => [hex(e.previous), hex(e.current)])).toEqual([[hex(first), hex(next)]]);
    expect(await store.app.get('note:bob')).toEqual(next.serialize());
  });

  it('outside a transaction a replacement is reported once', async () => {
    const { store, events } = await storeWithBob();
    await store.protocol.saveIdentity(BOB, await newKey());
    expect(events).toHaveLength(1);
  });

  it("a cipher's decrypt inside an app transaction that then throws reports nothing; committed, once", async () => {
    const backend = new MemoryKvBackend();
    const { store: bob, events } = await open(backend);
    const alice = await createTestParty('alice', 1);
    const toBob = alice.cipher(BOB);
    await toBob.initiate(await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }));
    await new SessionCipher(bob.protocol, alice.address).decrypt(await toBob.encrypt(utf8('one')));
    // Alice re-installs: a new identity key, a new session from a new bundle.
    const alice2 = await createTestParty('alice', 1);
    const c2 = alice2.cipher(BOB);
    await c2.initiate(await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }));
    const wire = await c2.encrypt(utf8('two'));
    const oops = new Error('the app fails after the decrypt');
    const seen: number[] = [];
    await expect(
      bob.transaction(async (tx) => {
        await new SessionCipher(tx.protocol, alice.address).decrypt(wire);
        seen.push(tx.identityChanges.length);
        throw oops;
      }),
    ).rejects.toBe(oops);
    expect(events).toEqual([]);
    await bob.transaction(async (tx) => {
      await new SessionCipher(tx.protocol, alice.address).decrypt(wire);
      seen.push(tx.identityChanges.length);
    });
    expect(seen).toEqual([1, 1]);
    const alice2Key = (await alice2.store.getIdentityKeyPair()).publicKey;
    expect(events.map((e) => hex(e.current))).toEqual([hex(alice2Key)]);
  });
});
