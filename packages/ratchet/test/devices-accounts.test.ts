// Device changes seen by the rest of the kit: sender keys follow them (as plain addresses handed
// to @e2ee-kit/sender-keys) and safety numbers stay per account (@e2ee-kit/safety-number).
import { type Address, addressToString, createAddress } from '@e2ee-kit/core';
import type { DeviceChangeResult } from '@e2ee-kit/ratchet';
import { aciIdentifier, computeSafetyNumber } from '@e2ee-kit/safety-number';
import { GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, type Device, TestRelay, text } from './devices-relay.js';

const key = (a: Address) => addressToString(a);

describe('sender keys follow device changes', () => {
  it('a removed device cannot read the next group message; a newly linked one can after distribution', async () => {
    const relay = new TestRelay();
    const alicePhone = await relay.addDevice(ALICE);
    const aliceIdentity = await alicePhone.party.store.getIdentityKeyPair();
    const aliceLaptop = await relay.addDevice(ALICE, aliceIdentity);
    const bobPhone = await relay.addDevice(BOB);
    const bob = bobPhone.party.address;
    const deliver = relay.deliverFrom(bob);
    // One sender-key store per device install (the new tablet reuses the old laptop's id 2).
    const groups = new WeakMap<Device, GroupCipher>();
    const groupOf = (d: Device) => {
      if (!groups.has(d)) groups.set(d, new GroupCipher(new InMemorySenderKeyStore()));
      return groups.get(d) as GroupCipher;
    };
    const byAddress = new Map<string, Device>(
      [alicePhone, aliceLaptop].map((d) => [key(d.party.address), d]),
    );
    const bobGroup = new GroupCipher(new InMemorySenderKeyStore());
    const distributionId = generateDistributionId();

    // The app keeps the group's member devices and applies each device change to them.
    let members: Address[] = [];
    const follow = async (change: DeviceChangeResult) => {
      const forget = new Set(change.keyHolders.forget.map(key));
      members = members.filter((m) => !forget.has(key(m)));
      for (const a of change.keyHolders.add) if (!members.some((m) => key(m) === key(a))) members.push(a);
      if (change.keyHolders.redistribute.length > 0)
        await bobGroup.markNeedsDistribution(bob, distributionId, change.keyHolders.redistribute);
    };
    const groupSend = async (body: string) => {
      const plan = await bobGroup.prepareSend(bob, distributionId, members);
      for (const d of plan.needsDistribution) {
        const device = byAddress.get(key(d));
        // (Pairwise delivery of the distribution message is what DeviceFanout is for; here it is handed over.)
        await groupOf(device as Device).processDistributionMessage(bob, plan.distributionMessage.serialize());
      }
      await bobGroup.markDelivered(bob, distributionId, plan.chainId, plan.needsDistribution);
      return { plan, message: await bobGroup.encrypt(bob, distributionId, text(body)) };
    };
    const read = async (d: Device, message: Uint8Array) => {
      const out = await groupOf(d).tryDecrypt(bob, message);
      return out.status === 'decrypted' ? new TextDecoder().decode(out.plaintext) : out.status;
    };

    // Bob's first pairwise send teaches him both of Alice's devices.
    await follow(await bobPhone.fanout.send(ALICE, text('hi'), deliver));
    members = [...(await bobPhone.fanout.devices(ALICE)), ...(await bobPhone.fanout.devices(BOB))];
    expect(members.map(key)).toEqual([`${ALICE}.1`, `${ALICE}.2`]);
    const one = await groupSend('group 1');
    expect(await read(alicePhone, one.message)).toBe('group 1');
    expect(await read(aliceLaptop, one.message)).toBe('group 1');

    expect(await aliceLaptop.read()).toEqual(['hi']);
    // Alice unlinks the laptop; Bob's next pairwise send learns it (409 extra).
    relay.unlink(ALICE, 2);
    const removed = await bobPhone.fanout.send(ALICE, text('still there?'), deliver);
    expect(removed.keyHolders).toEqual({ add: [], forget: [createAddress(ALICE, 2)], redistribute: [] });
    await follow(removed);
    const two = await groupSend('group 2');
    expect(two.plan.rotation).toBe('member-removed');
    expect(two.plan.needsDistribution.map(key)).toEqual([`${ALICE}.1`]);
    expect(await read(alicePhone, two.message)).toBe('group 2');
    expect(await read(aliceLaptop, two.message)).toBe('missing-sender-key');

    // Alice links a tablet (id 2 is free again: a new registration). Bob's next send learns it.
    const tablet = await relay.addDevice(ALICE, aliceIdentity);
    byAddress.set(key(tablet.party.address), tablet);
    const added = await bobPhone.fanout.send(ALICE, text('welcome'), deliver);
    expect(added.changes).toEqual([
      { account: ALICE, devicesAdded: [2], devicesRemoved: [], devicesReregistered: [] },
    ]);
    await follow(added);
    const three = await groupSend('group 3');
    expect(three.plan.needsDistribution.map(key)).toEqual([`${ALICE}.2`]);
    expect(await read(tablet, three.message)).toBe('group 3');
    expect(await read(alicePhone, three.message)).toBe('group 3');
    expect(await read(aliceLaptop, three.message)).toBe('missing-sender-key');
    expect(aliceLaptop.inbox).toEqual([]); // nor any pairwise message since the unlink
  });
});

describe('safety numbers stay per account', () => {
  it('are computed from the account identity key and do not change when Alice links a device', async () => {
    const relay = new TestRelay();
    const alicePhone = await relay.addDevice(ALICE);
    const bobPhone = await relay.addDevice(BOB);
    const bobKey = (await bobPhone.party.store.getIdentityKeyPair()).publicKey;
    const number = async (aliceKey: Parameters<typeof computeSafetyNumber>[0]['remote']['identityKey']) =>
      computeSafetyNumber({
        local: { identifier: aciIdentifier(BOB), identityKey: bobKey },
        remote: { identifier: aciIdentifier(ALICE), identityKey: aliceKey },
        iterations: 2,
      }).digits;
    await bobPhone.fanout.send(ALICE, text('hi'), relay.deliverFrom(bobPhone.party.address));
    const before = await number((await bobPhone.party.store.getIdentity(createAddress(ALICE, 1))) as never);

    const tablet = await relay.addDevice(ALICE, await alicePhone.party.store.getIdentityKeyPair());
    const seen = await bobPhone.fanout.send(
      ALICE,
      text('hi tablet'),
      relay.deliverFrom(bobPhone.party.address),
    );
    // Visible to Bob as a device change, not as a new safety number.
    expect(seen.changes).toEqual([
      { account: ALICE, devicesAdded: [2], devicesRemoved: [], devicesReregistered: [] },
    ]);
    const tabletKey = await bobPhone.party.store.getIdentity(tablet.party.address);
    expect(tabletKey?.equals((await alicePhone.party.store.getIdentityKeyPair()).publicKey)).toBe(true);
    expect(await number(tabletKey as never)).toBe(before);
    expect(await number((await tablet.party.store.getIdentityKeyPair()).publicKey)).toBe(before);

    // Control: a device with another identity key would change the number.
    const stranger = await relay.addDevice('5742a000-0000-4000-8000-000000005742');
    expect(await number((await stranger.party.store.getIdentityKeyPair()).publicKey)).not.toBe(before);
  });
});
