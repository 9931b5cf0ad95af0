// A device change applied to the sessions must reach the app even when a later step of the same call
// throws (the device-list save, a session start for another device): else a re-registered device is
// never re-sent the sender key — its next session works, so no later answer shows the change again.
import { addressToString } from '@e2ee-kit/core';
import { DeviceFanout, type DeviceListStore, InMemoryDeviceListStore } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, TestRelay, text } from './devices-relay.js';

/** A device-list store whose next `saveDevices` throws once `failNext` is set. */
function flakyLists(): DeviceListStore & { failNext: boolean } {
  const inner = new InMemoryDeviceListStore();
  const lists = {
    failNext: false,
    getDevices: (account: string) => inner.getDevices(account),
    async saveDevices(account: string, ids: readonly number[]) {
      if (lists.failNext) {
        lists.failNext = false;
        throw new Error('disk full');
      }
      return inner.saveDevices(account, ids);
    },
  };
  return lists;
}

async function bobKnowsAlicesLaptop() {
  const relay = new TestRelay();
  const bob = await relay.addDevice(BOB);
  const phone = await relay.addDevice(ALICE);
  await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
  const lists = flakyLists();
  const fanout = new DeviceFanout(bob.party.store, {
    self: bob.party.address,
    deviceLists: lists,
    fetchBundles: (account, ids) => relay.bundles(account, ids),
  });
  const deliver = relay.deliverFrom(bob.party.address);
  await fanout.send(ALICE, text('hi'), deliver, { sync: false });
  // Alice's laptop is reinstalled: id 2 again, a new registration.
  relay.unlink(ALICE, 2);
  const laptop = await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
  expect(laptop.party.deviceId).toBe(2);
  return { relay, fanout, lists, deliver, laptop };
}

describe('a device change is reported when a later step of the call that applied it throws', () => {
  it('a 410 re-registration whose device-list save fails is reported by the next call', async () => {
    const { fanout, lists, deliver, laptop } = await bobKnowsAlicesLaptop();
    lists.failNext = true;
    await expect(fanout.applyDeviceMismatch(ALICE, { kind: 'stale', staleDevices: [2] })).rejects.toThrow(
      'disk full',
    );
    // The new session for the laptop was started: the next send goes through without another 410…
    const next = await fanout.send(ALICE, text('hello'), deliver, { sync: false });
    expect(next.accounts[0]?.attempts).toBe(1);
    expect(await laptop.read()).toEqual(['hello']);
    // …so only the kept change can tell the app to re-share its sender keys with the new laptop.
    expect(next.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [], devicesReregistered: [2] },
    ]);
    expect(next.keyHolders.redistribute.map(addressToString)).toEqual([`${ALICE}.2`]);
    const after = await fanout.send(ALICE, text('again'), deliver, { sync: false });
    expect(after.changes).toEqual([]); // once
  });

  it('the same within send: the save after a 410 fails, the retry reports the re-registration once', async () => {
    const { fanout, lists, deliver, laptop } = await bobKnowsAlicesLaptop();
    let answers = 0;
    const failing = async (d: Parameters<typeof deliver>[0]) => {
      const a = await deliver(d);
      if (++answers === 1) lists.failNext = true; // the 410 is applied next, and its save fails
      return a;
    };
    await expect(fanout.send(ALICE, text('lost'), failing, { sync: false })).rejects.toThrow('disk full');
    const retry = await fanout.send(ALICE, text('retry'), deliver, { sync: false });
    expect(retry.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [], devicesReregistered: [2] },
    ]);
    expect(await laptop.read()).toEqual(['retry']);
  });
});
