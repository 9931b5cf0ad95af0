// Two `KeyValueIdentityKeyStore` objects over one backend (two tabs or two processes on one store):
// their mutexes are separate, so one store's reads can be interleaved with the other's writes. A
// backend whose reads can be held open puts the other store's whole operation between two reads.
import {
  type Address,
  type IdentityBackend,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  nobleProvider,
} from '@e2ee-kit/core';
import { MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';

const bob: Address = { name: 'bob', deviceId: 1 };
const newKey = async () => (await IdentityKeyPair.generate(nobleProvider)).publicKey;

/** A view of `shared` whose next read of `key` resolves only after `release()` was called. */
function holdingBackend(shared: MemoryBackend) {
  let hold: { key: string; read: () => void; release: Promise<void> } | undefined;
  const backend: IdentityBackend = {
    async get(key) {
      const value = await shared.get(key);
      const h = hold;
      if (h?.key === key) {
        hold = undefined;
        h.read();
        await h.release;
      }
      return value;
    },
    set: (key, value) => shared.set(key, value),
    delete: (key) => shared.delete(key),
  };
  /** Holds the next read of `key`; resolves once that read happened; call the result to let it go. */
  const holdNextRead = (key: string): Promise<() => void> =>
    new Promise((readDone) => {
      let release!: () => void;
      const released = new Promise<void>((r) => {
        release = r;
      });
      hold = { key, read: () => readDone(release), release: released };
    });
  return { backend, holdNextRead };
}

async function twoTabs(policy: 'tofu' | 'blockOnChange') {
  const shared = new MemoryBackend();
  const identityKeyPair = await IdentityKeyPair.generate(nobleProvider);
  const tab = (backend: IdentityBackend) =>
    new KeyValueIdentityKeyStore({ identityKeyPair, registrationId: 7, backend, policy });
  const held = holdingBackend(shared);
  return { shared, tab1: tab(shared), tab2: tab(held.backend), holdNextRead: held.holdNextRead };
}

describe('KeyValueIdentityKeyStore: two store objects over one backend', () => {
  it('blockOnChange: an approved key being saved by the other tab is trusted throughout, never refused', async () => {
    const { tab1, tab2, holdNextRead } = await twoTabs('blockOnChange');
    const [a, b] = [await newKey(), await newKey()];
    await tab1.saveIdentity(bob, a);
    await tab1.approve(bob, b); // the user verified b's safety number
    // Tab 2 reads the stored key (a) ...
    const releaseRead = holdNextRead('identity:bob.1');
    const trusted = tab2.isTrustedIdentity(bob, b, 'receiving');
    const release = await releaseRead;
    // ... then tab 1 stores b, which replaces the approval by the stored key itself ...
    expect((await tab1.saveIdentity(bob, b)).kind).toBe('replaced');
    release();
    // ... and tab 2 then finds no approval: b was trusted at every moment, and must still be.
    expect(await trusted).toBe(true);
    expect(await tab2.isTrustedIdentity(bob, b, 'receiving')).toBe(true);
    expect(await tab2.isTrustedIdentity(bob, a, 'receiving')).toBe(false);
  });
});
