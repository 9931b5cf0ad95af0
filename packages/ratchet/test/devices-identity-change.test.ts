// An account whose identity key changed (the other person re-installed): the fan-out refuses its
// new bundles before any session is touched, with an error that names the account and carries the
// new key, and `approveIdentity` is the way to take that key (the user's decision) and send again.
import {
  createAddress,
  type IdentityChangeEvent,
  KeyPair,
  type PublicKey,
  platformProvider,
} from '@e2ee-kit/core';
import {
  DeviceFanout,
  E2eeError,
  ErrorCode,
  IdentityChangedError,
  InMemoryDeviceListStore,
  type ProtocolStore,
  UntrustedIdentityError,
} from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, TestRelay, text } from './devices-relay.js';

const bobPhone = createAddress(BOB, 1);

/** Alice and Bob have talked; then Bob re-installs (same device id, a new identity key). */
async function bobReinstalled() {
  const relay = new TestRelay();
  const alice = await relay.addDevice(ALICE);
  const oldBob = await relay.addDevice(BOB);
  await alice.fanout.send(BOB, text('hi'), relay.deliverFrom(alice.party.address));
  expect(await oldBob.read()).toEqual(['hi']);
  relay.unlink(BOB, 1);
  const bob = await relay.addDevice(BOB);
  expect(bob.party.address.deviceId).toBe(1);
  const newKey = (await bob.party.store.getIdentityKeyPair()).publicKey;
  const oldKey = (await oldBob.party.store.getIdentityKeyPair()).publicKey;
  return { relay, alice, bob, newKey, oldKey };
}

type SaveIdentityResult = ReturnType<ProtocolStore['saveIdentity']>;

/**
 * Alice's fan-out over a store whose `saveIdentity` goes through `wrapSave`, after Bob's two devices
 * (one key) were replaced by two with a new key: `err` is the refusal of the send that found it.
 */
async function twoDevicesReinstalled(
  storeOptions: { onIdentityChange?: (e: IdentityChangeEvent) => void },
  wrapSave: (save: () => SaveIdentityResult) => SaveIdentityResult,
) {
  const relay = new TestRelay();
  const alice = await createTestParty(ALICE, 1, { store: storeOptions });
  const store = new Proxy(alice.store, {
    get(target, prop) {
      if (prop === 'saveIdentity')
        return (...args: Parameters<ProtocolStore['saveIdentity']>) =>
          wrapSave(() => target.saveIdentity(...args));
      const value = Reflect.get(target, prop, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as ProtocolStore;
  const fanout = new DeviceFanout(store, {
    self: alice.address,
    deviceLists: new InMemoryDeviceListStore(),
    fetchBundles: (account, ids) => relay.bundles(account, ids),
  });
  const deliver = relay.deliverFrom(alice.address);
  const phone = await relay.addDevice(BOB);
  const oldKey = (await phone.party.store.getIdentityKeyPair()).publicKey;
  await relay.addDevice(BOB, await phone.party.store.getIdentityKeyPair());
  await fanout.send(BOB, text('hi'), deliver); // learns device 2 from the 409
  relay.unlink(BOB, 1);
  relay.unlink(BOB, 2);
  const newPhone = await relay.addDevice(BOB);
  const newTablet = await relay.addDevice(BOB, await newPhone.party.store.getIdentityKeyPair());
  const newKey = (await newPhone.party.store.getIdentityKeyPair()).publicKey;
  const err = (await fanout.send(BOB, text('x'), deliver).catch((e: unknown) => e)) as IdentityChangedError;
  expect(err).toBeInstanceOf(IdentityChangedError);
  return { alice, fanout, deliver, oldKey, newKey, newPhone, newTablet, err };
}

describe('DeviceFanout and an account whose identity key changed', () => {
  it('refuses with IdentityChangedError naming the account and the new key; approveIdentity takes it and the send goes', async () => {
    const { relay, alice, bob, newKey, oldKey } = await bobReinstalled();
    const err = await alice.fanout
      .send(BOB, text('are you there?'), relay.deliverFrom(alice.party.address))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityChangedError);
    // Still an untrusted identity for code that checks for one.
    expect(err).toBeInstanceOf(UntrustedIdentityError);
    expect(E2eeError.is(err, ErrorCode.UntrustedIdentity)).toBe(true);
    const changed = err as IdentityChangedError;
    expect(changed.account).toBe(BOB);
    expect(changed.address).toEqual({ name: BOB, deviceId: 1 });
    expect(changed.identityKey.equals(newKey)).toBe(true);
    expect(bob.inbox).toHaveLength(0);
    // Nothing was taken: the old key is still the one stored.
    expect((await alice.party.store.getIdentity(bobPhone))?.equals(oldKey)).toBe(true);

    await alice.fanout.approveIdentity(BOB, changed.identityKey);
    expect((await alice.party.store.getIdentity(bobPhone))?.equals(newKey)).toBe(true);
    await alice.fanout.send(BOB, text('are you there?'), relay.deliverFrom(alice.party.address));
    expect(await bob.read()).toEqual(['are you there?']);
  });

  it('an approval is for that key only: a bundle with yet another key is refused again', async () => {
    const { relay, alice, newKey } = await bobReinstalled();
    await alice.fanout.send(BOB, text('x'), relay.deliverFrom(alice.party.address)).catch(() => {});
    relay.unlink(BOB, 1);
    const third = await relay.addDevice(BOB);
    const thirdKey = (await third.party.store.getIdentityKeyPair()).publicKey;
    await alice.fanout.approveIdentity(BOB, newKey);
    const err = await alice.fanout
      .send(BOB, text('x'), relay.deliverFrom(alice.party.address))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdentityChangedError);
    expect((err as IdentityChangedError).identityKey.equals(thirdKey)).toBe(true);
    expect(third.inbox).toHaveLength(0);
  });

  it('a store failure during approveIdentity leaves sessions and identities as they were', async () => {
    const { relay, alice, newKey, oldKey } = await bobReinstalled();
    const store = alice.party.store;
    const sessionBefore = (await store.getSession(bobPhone))?.serialize();
    expect(sessionBefore).toBeDefined();
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'saveIdentity') return () => Promise.reject(new Error('disk full'));
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    }) as ProtocolStore;
    const deviceLists = new InMemoryDeviceListStore();
    await deviceLists.saveDevices(BOB, [1]);
    const fanout = new DeviceFanout(failing, {
      self: alice.party.address,
      deviceLists,
      fetchBundles: (account, ids) => relay.bundles(account, ids),
    });
    await expect(fanout.approveIdentity(BOB, newKey)).rejects.toThrow();
    expect((await store.getSession(bobPhone))?.serialize()).toEqual(sessionBefore);
    expect((await store.getIdentity(bobPhone))?.equals(oldKey)).toBe(true);
  });

  it('two devices: the change is reported once per device after all is stored, and not at all for a failed approval', async () => {
    const events: IdentityChangeEvent[] = [];
    let failSecondSave = false;
    let saves = 0;
    const s = await twoDevicesReinstalled({ onIdentityChange: (e) => events.push(e) }, (save) =>
      failSecondSave && ++saves === 2 ? Promise.reject(new Error('disk full')) : save(),
    );
    failSecondSave = true;
    await expect(s.fanout.approveIdentity(BOB, s.err.identityKey)).rejects.toThrow('disk full');
    expect(events).toEqual([]);
    for (const id of [1, 2])
      expect((await s.alice.store.getIdentity(createAddress(BOB, id)))?.equals(s.oldKey)).toBe(true);

    failSecondSave = false;
    await s.fanout.approveIdentity(BOB, s.err.identityKey);
    expect(
      events.map((e) => [e.address.deviceId, e.previous.equals(s.oldKey), e.current.equals(s.newKey)]),
    ).toEqual([
      [1, true, true],
      [2, true, true],
    ]);
    await s.fanout.send(BOB, text('new phone, new key'), s.deliver);
    expect(await s.newPhone.read()).toEqual(['new phone, new key']);
    expect(await s.newTablet.read()).toEqual(['new phone, new key']);
  });

  it("a failed approval's undo keeps a key another tab stored for a device meanwhile", async () => {
    let interleave: (() => Promise<void>) | undefined;
    let saves = 0;
    const s = await twoDevicesReinstalled({}, async (save) => {
      if (interleave && ++saves === 2) {
        await interleave(); // another tab, over the same store, between the two saves
        throw new Error('disk full');
      }
      return save();
    });
    const otherKey = (await KeyPair.generate(platformProvider)).publicKey;
    interleave = async () => {
      await s.alice.store.saveIdentity(bobPhone, otherKey);
    };
    await expect(s.fanout.approveIdentity(BOB, s.err.identityKey)).rejects.toThrow('disk full');
    // Device 1's key is the other tab's, not put back to the old one by this approval's undo.
    expect((await s.alice.store.getIdentity(bobPhone))?.equals(otherKey)).toBe(true);
  });

  it('refuses our own account and what is not a key', async () => {
    const { alice, newKey } = await bobReinstalled();
    await expect(alice.fanout.approveIdentity(ALICE, newKey)).rejects.toThrow(TypeError);
    await expect(alice.fanout.approveIdentity('', newKey)).rejects.toThrow(TypeError);
    await expect(
      alice.fanout.approveIdentity(BOB, newKey.serialize() as unknown as PublicKey),
    ).rejects.toThrow(TypeError);
  });

  it('prints no key', async () => {
    const { relay, alice, newKey } = await bobReinstalled();
    const err = (await alice.fanout
      .send(BOB, text('x'), relay.deliverFrom(alice.party.address))
      .catch((e: unknown) => e)) as IdentityChangedError;
    const { inspect } = await import('node:util');
    const hex = Buffer.from(newKey.serialize()).toString('hex');
    const b64 = Buffer.from(newKey.serialize()).toString('base64');
    for (const printed of [String(err), err.message, inspect(err), JSON.stringify(err)]) {
      expect(printed).not.toContain(hex);
      expect(printed).not.toContain(b64);
    }
    expect(String(err)).toContain('UNTRUSTED_IDENTITY');
  });
});
