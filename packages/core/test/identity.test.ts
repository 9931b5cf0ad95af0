import {
  type Address,
  DecodeError,
  generateRegistrationId,
  type IdentityChangeEvent,
  IdentityKeyPair,
  KeyValueIdentityKeyStore,
  nobleProvider,
  type PublicKey,
  validateRegistrationId,
} from '@e2ee-kit/core';
import { createDeterministicRandom, InMemoryIdentityKeyStore, MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';

const bob: Address = { name: 'bob', deviceId: 1 };
const newKey = async () => (await IdentityKeyPair.generate(nobleProvider)).publicKey;

describe('KeyValueIdentityKeyStore', () => {
  it('tofu (default): first key is new and trusted, same key unchanged, a changed key is reported with old and new and trusted', async () => {
    const events: IdentityChangeEvent[] = [];
    const store = await InMemoryIdentityKeyStore.create({ onIdentityChange: (e) => events.push(e) });
    const k1 = await newKey();
    const k2 = await newKey();
    expect(await store.getIdentity(bob)).toBeNull();
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(true);
    expect(await store.saveIdentity(bob, k1)).toEqual({ kind: 'new' });
    expect((await store.getIdentity(bob))?.equals(k1)).toBe(true);
    expect(await store.saveIdentity(bob, k1)).toEqual({ kind: 'unchanged' });
    expect(await store.isTrustedIdentity(bob, k2, 'receiving')).toBe(true);
    const change = await store.saveIdentity(bob, k2);
    expect(change.kind).toBe('replaced');
    if (change.kind !== 'replaced') throw new Error('unreachable');
    expect(change.previous.equals(k1)).toBe(true);
    expect(change.current.equals(k2)).toBe(true);
    expect(events).toHaveLength(1);
    expect(events[0]!.address).toEqual(bob);
    expect(events[0]!.previous.equals(k1)).toBe(true);
    expect(events[0]!.current.equals(k2)).toBe(true);
    expect((await store.getIdentity(bob))?.equals(k2)).toBe(true);
  });

  it('blockOnChange: a changed key is untrusted until approve(), only for that key', async () => {
    const store = await InMemoryIdentityKeyStore.create({ policy: 'blockOnChange' });
    const k1 = await newKey();
    const k2 = await newKey();
    const k3 = await newKey();
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(true); // first use
    await store.saveIdentity(bob, k1);
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(true);
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(false);
    expect(await store.isTrustedIdentity(bob, k2, 'receiving')).toBe(false);
    await store.approve(bob, k2);
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(true);
    expect(await store.isTrustedIdentity(bob, k3, 'sending')).toBe(false);
    // Other addresses are not affected by the approval.
    const carol = { name: 'carol', deviceId: 1 };
    await store.saveIdentity(carol, k1);
    expect(await store.isTrustedIdentity(carol, k2, 'sending')).toBe(false);
    // Once saved, the approved key is the stored one; the approval record is gone.
    expect((await store.saveIdentity(bob, k2)).kind).toBe('replaced');
    expect([...store.backend.snapshot().keys()].some((k) => k.startsWith('approved:'))).toBe(false);
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(true);
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(false);
  });

  it('exact undo: getIdentityEntry / restoreIdentityEntry put back key and approval, report nothing', async () => {
    const events: IdentityChangeEvent[] = [];
    const store = await InMemoryIdentityKeyStore.create({
      policy: 'blockOnChange',
      onIdentityChange: (e) => events.push(e),
    });
    const k1 = await newKey();
    const k2 = await newKey();
    await store.saveIdentity(bob, k1);
    await store.approve(bob, k2);
    const before = new Map(store.backend.snapshot());
    const entry = await store.getIdentityEntry(bob);
    expect((await store.saveIdentity(bob, k2, { deferNotification: true })).kind).toBe('replaced');
    expect(events).toHaveLength(0); // deferred
    await store.restoreIdentityEntry(bob, entry);
    expect(store.backend.snapshot()).toEqual(before);
    expect(events).toHaveLength(0);
    // The approval survived the undo: the retry is trusted and, once committed, reported once.
    expect(await store.isTrustedIdentity(bob, k2, 'receiving')).toBe(true);
    const change = await store.saveIdentity(bob, k2, { deferNotification: true });
    if (change.kind !== 'replaced') throw new Error('expected a replacement');
    store.notifyIdentityChange({ address: bob, previous: change.previous, current: change.current });
    expect(events).toHaveLength(1);
    // A first-contact entry restores to "nothing stored".
    const carol = { name: 'carol', deviceId: 2 };
    const empty = await store.getIdentityEntry(carol);
    await store.saveIdentity(carol, k1);
    await store.restoreIdentityEntry(carol, empty);
    expect(await store.getIdentity(carol)).toBeNull();
    await expect(store.restoreIdentityEntry(carol, { identity: 'x' })).rejects.toThrow(TypeError);
  });

  it('getIdentityEntry keeps copies, not views of the Buffers a backend answers with', async () => {
    // A backend over a database driver answers with Node Buffers, which may share memory the driver
    // reuses; `Buffer#slice()` is a view of it, so a kept entry changed under the undo.
    // This one passes every row through one buffer, as a driver's row buffer.
    const pool = Buffer.alloc(1024);
    const rows = new Map<string, Uint8Array>();
    const backend = {
      async get(key: string) {
        const v = rows.get(key);
        if (v === undefined) return undefined;
        pool.set(v);
        return pool.subarray(0, v.length);
      },
      async set(key: string, value: Uint8Array) {
        pool.set(value);
        rows.set(key, new Uint8Array(pool.subarray(0, value.length)));
      },
      async delete(key: string) {
        rows.delete(key);
      },
    };
    const store = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 1,
      backend,
      policy: 'blockOnChange',
    });
    const k1 = await newKey();
    const k2 = await newKey();
    await store.saveIdentity(bob, k1);
    await store.approve(bob, k2);
    const entry = await store.getIdentityEntry(bob);
    pool.fill(0xee); // the driver reuses its memory
    await store.restoreIdentityEntry(bob, entry);
    expect((await store.getIdentity(bob))?.equals(k1)).toBe(true);
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(true);
    // A replacement whose approval delete fails puts back the previous key, not what the pool holds now.
    const failing = { ...backend, delete: async () => Promise.reject(new Error('disk full')) };
    const second = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 1,
      backend: failing,
    });
    await expect(second.saveIdentity(bob, await newKey())).rejects.toThrow('disk full');
    expect((await second.getIdentity(bob))?.equals(k1)).toBe(true);
  });

  it('a replacement whose approval delete fails leaves the previous key stored and reports nothing', async () => {
    const events: IdentityChangeEvent[] = [];
    const store = await InMemoryIdentityKeyStore.create({ onIdentityChange: (e) => events.push(e) });
    const k1 = await newKey();
    const k2 = await newKey();
    await store.saveIdentity(bob, k1);
    const before = new Map(store.backend.snapshot());
    const backend = store.backend as unknown as { delete(key: string): Promise<void> };
    const original = backend.delete.bind(backend);
    backend.delete = async () => {
      throw new Error('disk full');
    };
    await expect(store.saveIdentity(bob, k2)).rejects.toThrow('disk full');
    backend.delete = original;
    expect(store.backend.snapshot()).toEqual(before);
    expect(events).toHaveLength(0);
  });

  it('a custom policy gets address, stored key (null on first contact), presented key and direction', async () => {
    const calls: Array<[Address, PublicKey | null, PublicKey, string]> = [];
    const store = await InMemoryIdentityKeyStore.create({
      policy: async (address, stored, presented, direction) => {
        calls.push([address, stored, presented, direction]);
        return direction === 'receiving';
      },
    });
    const k1 = await newKey();
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(false);
    expect(await store.isTrustedIdentity(bob, k1, 'receiving')).toBe(true);
    await store.saveIdentity(bob, k1);
    await store.isTrustedIdentity(bob, k1, 'sending');
    expect(calls[0]![1]).toBeNull();
    expect(calls[0]![2].equals(k1)).toBe(true);
    expect(calls[0]![3]).toBe('sending');
    expect(calls[2]![1]?.equals(k1)).toBe(true);
  });

  it('concurrent saves for one address are serialized: the change is reported, never lost', async () => {
    const events: IdentityChangeEvent[] = [];
    const store = await InMemoryIdentityKeyStore.create({ onIdentityChange: (e) => events.push(e) });
    const keys = await Promise.all([newKey(), newKey(), newKey()]);
    const results = await Promise.all(keys.map((k) => store.saveIdentity(bob, k)));
    expect(results.map((r) => r.kind)).toEqual(['new', 'replaced', 'replaced']);
    expect(events).toHaveLength(2);
    expect(events[1]!.previous.equals(keys[1]!)).toBe(true);
    expect((await store.getIdentity(bob))?.equals(keys[2]!)).toBe(true);
  });

  it('removeIdentity forgets the stored key (first contact again) and keeps approvals', async () => {
    const store = await InMemoryIdentityKeyStore.create({ policy: 'blockOnChange' });
    const k1 = await newKey();
    await store.saveIdentity(bob, k1);
    await store.approve(bob, k1);
    await store.removeIdentity(bob);
    expect(await store.getIdentity(bob)).toBeNull();
    expect(store.backend.snapshot().has('approved:bob.1')).toBe(true);
    expect(await store.saveIdentity(bob, await newKey())).toEqual({ kind: 'new' });
  });

  it('keeps bytes: the backend holds libsignal’s 33-byte key serialization', async () => {
    const store = await InMemoryIdentityKeyStore.create();
    const k1 = await newKey();
    await store.saveIdentity(bob, k1);
    const stored = store.backend.snapshot().get('identity:bob.1');
    expect(stored?.length).toBe(33);
    expect(Buffer.from(stored!).equals(Buffer.from(k1.serialize()))).toBe(true);
  });

  it('corrupted stored bytes surface as DecodeError, not a crash', async () => {
    const backend = new MemoryBackend();
    const store = new KeyValueIdentityKeyStore({
      identityKeyPair: await IdentityKeyPair.generate(nobleProvider),
      registrationId: 1,
      backend,
    });
    await backend.set('identity:bob.1', Uint8Array.of(5, 1, 2));
    await expect(store.getIdentity(bob)).rejects.toBeInstanceOf(DecodeError);
  });

  it('own identity and registration id', async () => {
    const pair = await IdentityKeyPair.generate(nobleProvider);
    const store = await InMemoryIdentityKeyStore.create({ identityKeyPair: pair, registrationId: 4242 });
    expect(await store.getIdentityKeyPair()).toBe(pair);
    expect(await store.getLocalRegistrationId()).toBe(4242);
  });

  it('validates its inputs', async () => {
    const store = await InMemoryIdentityKeyStore.create();
    const k = await newKey();
    await expect(store.saveIdentity({ name: '', deviceId: 1 }, k)).rejects.toThrow(RangeError);
    await expect(store.saveIdentity(bob, k.serialize() as never)).rejects.toThrow(TypeError);
    await expect(store.isTrustedIdentity(bob, k, 'both' as never)).rejects.toThrow(TypeError);
    await expect(store.approve(bob, null as never)).rejects.toThrow(TypeError);
    const pair = await IdentityKeyPair.generate(nobleProvider);
    const backend = new MemoryBackend();
    expect(
      () => new KeyValueIdentityKeyStore({ identityKeyPair: pair, registrationId: -1, backend }),
    ).toThrow(RangeError);
    expect(
      () => new KeyValueIdentityKeyStore({ identityKeyPair: {} as never, registrationId: 1, backend }),
    ).toThrow(TypeError);
    expect(
      () => new KeyValueIdentityKeyStore({ identityKeyPair: pair, registrationId: 1, backend: {} as never }),
    ).toThrow(TypeError);
    expect(
      () =>
        new KeyValueIdentityKeyStore({
          identityKeyPair: pair,
          registrationId: 1,
          backend,
          policy: 'never' as never,
        }),
    ).toThrow(TypeError);
  });
});

describe('registration ids', () => {
  it('generateRegistrationId stays in libsignal’s 1..16380', () => {
    const rnd = createDeterministicRandom('regid');
    for (let i = 0; i < 2000; i++) {
      const id = generateRegistrationId(rnd);
      expect(id).toBeGreaterThanOrEqual(1);
      expect(id).toBeLessThanOrEqual(16380);
    }
    expect(generateRegistrationId(() => Uint8Array.of(0xff, 0xff))).toBe((0xffff % 16380) + 1);
    expect(() => generateRegistrationId(() => new Uint8Array(1))).toThrow(TypeError);
  });

  it('validateRegistrationId accepts 0..2^31-1', () => {
    for (const ok of [0, 1, 16380, 0x7fffffff]) expect(() => validateRegistrationId(ok)).not.toThrow();
    for (const bad of [-1, 0x80000000]) expect(() => validateRegistrationId(bad)).toThrow(RangeError);
    for (const bad of [1.5, '1', null]) expect(() => validateRegistrationId(bad)).toThrow(TypeError);
  });
});
