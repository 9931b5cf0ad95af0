// Two `KeyValueIdentityKeyStore` objects over one backend (two tabs or two processes on one store):
// their mutexes are separate, so one store's reads can be interleaved with the other's writes. A
// backend whose reads can be held open puts the other store's whole operation between two reads.
import {
  type Address,
  type IdentityBackend,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  nobleProvider,
  type PublicKey,
  StoreError,
} from '@e2ee-kit/core';
import { MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../../tools/deferred.js';

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
    compareAndSet: (key, expected, value) => shared.compareAndSet(key, expected, value),
  };
  /** Holds the next read of `key`; resolves once that read happened; call the result to let it go. */
  const holdNextRead = (key: string): Promise<() => void> =>
    new Promise((readDone) => {
      const { promise: released, resolve: release } = deferred();
      hold = { key, read: () => readDone(release), release: released };
    });
  return { backend, holdNextRead };
}

async function twoTabs(policy: 'tofu' | 'blockOnChange') {
  const shared = new MemoryBackend();
  const identityKeyPair = await IdentityKeyPair.generate(nobleProvider);
  const events: { tab: number; previous: PublicKey; current: PublicKey }[] = [];
  const tab = (n: number, backend: IdentityBackend) =>
    new KeyValueIdentityKeyStore({
      identityKeyPair,
      registrationId: 7,
      backend,
      policy,
      onIdentityChange: (e) => events.push({ tab: n, previous: e.previous, current: e.current }),
    });
  const held = holdingBackend(shared);
  return {
    shared,
    events,
    tab1: tab(1, shared),
    tab2: tab(2, held.backend),
    holdNextRead: held.holdNextRead,
  };
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

  it('saves of different keys racing: each change is reported with the key it really replaced', async () => {
    const { tab1, tab2, events, holdNextRead } = await twoTabs('tofu');
    const [a, b, c] = [await newKey(), await newKey(), await newKey()];
    await tab1.saveIdentity(bob, a);
    // Tab 2 reads a, then tab 1 replaces a by c before tab 2 writes b.
    const readDone = holdNextRead('identity:bob.1');
    const saving = tab2.saveIdentity(bob, b);
    const release = await readDone;
    await tab1.saveIdentity(bob, c);
    release();
    const change = await saving;
    // b replaced c, not a: reporting a→b would hide the change c→b from the user.
    expect(change.kind).toBe('replaced');
    if (change.kind !== 'replaced') throw new Error('unreachable');
    expect(change.previous.equals(c)).toBe(true);
    expect(
      events.map((e) => [e.tab, e.previous.equals(a) ? 'a' : 'c', e.current.equals(b) ? 'b' : 'c']),
    ).toEqual([
      [1, 'a', 'c'],
      [2, 'c', 'b'],
    ]);
    expect((await tab1.getIdentity(bob))?.equals(b)).toBe(true);
  });

  it('the same key saved by both tabs at once is one change, reported once', async () => {
    const { tab1, tab2, events, holdNextRead } = await twoTabs('tofu');
    const [a, b] = [await newKey(), await newKey()];
    await tab1.saveIdentity(bob, a);
    const readDone = holdNextRead('identity:bob.1');
    const saving = tab2.saveIdentity(bob, b);
    const release = await readDone;
    expect((await tab1.saveIdentity(bob, b)).kind).toBe('replaced');
    release();
    expect((await saving).kind).toBe('unchanged');
    expect(events).toHaveLength(1);
  });

  it('a backend whose compareAndSet keeps refusing ends in a StoreError, nothing written', async () => {
    const shared = new MemoryBackend();
    const [a, b] = [await newKey(), await newKey()];
    await shared.set('identity:bob.1', a.serialize());
    const before = shared.snapshot();
    let attempts = 0;
    const refusing: IdentityBackend = {
      get: (key) => shared.get(key),
      set: (key, value) => shared.set(key, value),
      delete: (key) => shared.delete(key),
      async compareAndSet() {
        attempts++;
        return false;
      },
    };
    const store = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 7,
      backend: refusing,
    });
    await expect(store.saveIdentity(bob, b)).rejects.toBeInstanceOf(StoreError);
    expect(attempts).toBeGreaterThan(1); // retried, with a fresh read each time
    expect(attempts).toBe(8); // bounded: the README says 8 tries
    expect(shared.snapshot()).toEqual(before);
  });
});
