// `restoreIdentityEntry` undoes a failed operation's `saveIdentity`. Two store objects over one backend
// (two tabs, two processes) have separate mutexes: between tab A's save and its undo, tab B may save
// another key or approve one. The undo must then leave B's key and approval alone — it puts the entry
// back only while the key A's operation saved is still the stored one.
import {
  type Address,
  type IdentityBackend,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  nobleProvider,
  type PublicKey,
  StoreError,
  toHex,
} from '@e2ee-kit/core';
import { MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';

const bob: Address = { name: 'bob', deviceId: 1 };
const newKey = async () => (await IdentityKeyPair.generate(nobleProvider)).publicKey;
const hex = (k: PublicKey | null) => (k === null ? null : toHex(k.serialize()));

/** `shared` without its `compareAndSet`: a backend that only has get/set/delete. */
const withoutCas = (shared: MemoryBackend): IdentityBackend => ({
  get: (key) => shared.get(key),
  set: (key, value) => shared.set(key, value),
  delete: (key) => shared.delete(key),
});

async function twoTabs(cas: boolean) {
  const shared = new MemoryBackend();
  const identityKeyPair = await IdentityKeyPair.generate(nobleProvider);
  const tab = () =>
    new KeyValueIdentityKeyStore({
      identityKeyPair,
      registrationId: 7,
      backend: cas ? shared : withoutCas(shared),
      policy: 'blockOnChange',
    });
  return { shared, a: tab(), b: tab() };
}

const approvedKey = async (shared: MemoryBackend) => {
  const bytes = await shared.get('approved:bob.1');
  return bytes === undefined ? null : toHex(bytes);
};

describe.each([
  ['with compareAndSet', true],
  ['without compareAndSet', false],
])('restoreIdentityEntry between two tabs (%s)', (_name, cas) => {
  it('keeps the key another tab saved after this operation’s save', async () => {
    const { shared, a, b } = await twoTabs(cas);
    const [k1, k2, k3] = [await newKey(), await newKey(), await newKey()];
    await a.saveIdentity(bob, k1);
    await a.approve(bob, k1);
    const entry = await a.getIdentityEntry(bob);
    expect((await a.saveIdentity(bob, k2, { deferNotification: true })).kind).toBe('replaced');
    // Tab B stores a newer key and the user approves it there.
    expect((await b.saveIdentity(bob, k3)).kind).toBe('replaced');
    await b.approve(bob, k3);
    // A's operation fails: its undo must not bring k1 back over k3 (nor its approval over B's).
    await a.restoreIdentityEntry(bob, entry, k2);
    expect(hex(await b.getIdentity(bob))).toBe(hex(k3));
    expect(await approvedKey(shared)).toBe(hex(k3));
    expect(await b.isTrustedIdentity(bob, k3, 'sending')).toBe(true);
  });

  it('keeps an approval another tab gave the new key, while undoing the key itself', async () => {
    const { shared, a, b } = await twoTabs(cas);
    const [k1, k2] = [await newKey(), await newKey()];
    await a.saveIdentity(bob, k1);
    const entry = await a.getIdentityEntry(bob);
    await a.saveIdentity(bob, k2, { deferNotification: true });
    // The user verified k2 in tab B while A's operation ran.
    await b.approve(bob, k2);
    await a.restoreIdentityEntry(bob, entry, k2);
    expect(hex(await a.getIdentity(bob))).toBe(hex(k1));
    expect(await approvedKey(shared)).toBe(hex(k2));
    // The retry of k2 needs no new verification: the approval was not lost.
    expect(await a.isTrustedIdentity(bob, k2, 'receiving')).toBe(true);
  });

  it('undoing a first contact leaves a key another tab saved meanwhile', async () => {
    const { a, b } = await twoTabs(cas);
    const [k1, k2] = [await newKey(), await newKey()];
    const entry = await a.getIdentityEntry(bob);
    expect((await a.saveIdentity(bob, k1)).kind).toBe('new');
    expect((await b.saveIdentity(bob, k2)).kind).toBe('replaced');
    await a.restoreIdentityEntry(bob, entry, k1);
    expect(hex(await b.getIdentity(bob))).toBe(hex(k2));
  });

  it('with nobody in between, puts the key and its approval back exactly', async () => {
    const { shared, a } = await twoTabs(cas);
    const [k1, k2] = [await newKey(), await newKey()];
    await a.saveIdentity(bob, k1);
    await a.approve(bob, k1);
    const before = shared.snapshot();
    const entry = await a.getIdentityEntry(bob);
    await a.saveIdentity(bob, k2);
    await a.restoreIdentityEntry(bob, entry, k2);
    expect(shared.snapshot()).toEqual(before);
    // A first contact undone: nothing stored again.
    const carol: Address = { name: 'carol', deviceId: 2 };
    const empty = await a.getIdentityEntry(carol);
    await a.saveIdentity(carol, k1);
    await a.restoreIdentityEntry(carol, empty, k1);
    expect(await a.getIdentity(carol)).toBeNull();
  });
});

describe.each([
  ['with compareAndSet', true],
  ['without compareAndSet', false],
])('restoreIdentityEntry retried after failing part-way (%s)', (_name, cas) => {
  it('puts the approval back on the retry, though the key is back already', async () => {
    const shared = new MemoryBackend();
    let failApproval = false;
    /** Fails the next write of the approval record once (a flaky database). */
    const guard = (key: string) => {
      if (failApproval && key.startsWith('approved:')) {
        failApproval = false;
        throw new Error('disk I/O error');
      }
    };
    const backend: IdentityBackend = {
      ...withoutCas(shared),
      set: async (key, value) => {
        guard(key);
        await shared.set(key, value);
      },
      ...(cas
        ? {
            compareAndSet: async (key: string, expected: Uint8Array | undefined, value: Uint8Array) => {
              guard(key);
              return shared.compareAndSet(key, expected, value);
            },
          }
        : {}),
    };
    const store = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 7,
      backend,
      policy: 'blockOnChange',
    });
    const [k1, k2] = [await newKey(), await newKey()];
    await store.saveIdentity(bob, k1);
    await store.approve(bob, k1);
    const before = shared.snapshot();
    const entry = await store.getIdentityEntry(bob);
    await store.saveIdentity(bob, k2);
    failApproval = true;
    await expect(store.restoreIdentityEntry(bob, entry, k2)).rejects.toThrow('disk I/O error');
    // The ratchet retries a failed undo: the key is back already, the approval must follow.
    await store.restoreIdentityEntry(bob, entry, k2);
    expect(shared.snapshot()).toEqual(before);
  });
});

describe('restoreIdentityEntry arguments', () => {
  it('refuses a `saved` that is not a PublicKey, writing nothing', async () => {
    const { shared, a } = await twoTabs(true);
    await a.saveIdentity(bob, await newKey());
    const entry = await a.getIdentityEntry(bob);
    const before = shared.snapshot();
    await expect(a.restoreIdentityEntry(bob, entry, 'k2' as never)).rejects.toThrow(TypeError);
    expect(shared.snapshot()).toEqual(before);
  });

  it('a backend whose compareAndSet answers no boolean is a StoreError, nothing else written', async () => {
    const shared = new MemoryBackend();
    const store = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 7,
      backend: withoutCas(shared),
    });
    const [k1, k2] = [await newKey(), await newKey()];
    await store.saveIdentity(bob, k1);
    const entry = await store.getIdentityEntry(bob);
    await store.saveIdentity(bob, k2);
    const before = shared.snapshot();
    const odd = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 7,
      backend: { ...withoutCas(shared), compareAndSet: async () => 'yes' as unknown as boolean },
    });
    await expect(odd.restoreIdentityEntry(bob, entry, k2)).rejects.toThrow(StoreError);
    expect(shared.snapshot()).toEqual(before);
  });
});
