// A send that fails halfway: the recipient already has the message when the sync copy to our other
// devices fails. The app must be able to tell, and retry only what was not sent — a plain retry of
// the whole send would give the recipient a second, differently encrypted copy (a visible duplicate).
import {
  DeviceFanout,
  E2eeError,
  ErrorCode,
  FanoutIncompleteError,
  InMemoryDeviceListStore,
} from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { ALICE, alicePhoneLaptopAndBob, BOB, type Device, type TestRelay, text } from './devices-relay.js';

async function aliceWithLaptopAndBob() {
  const { relay, phone, laptop, bob } = await alicePhoneLaptopAndBob();
  // One send first, so the phone knows the laptop (and the server's 409 is no part of what follows).
  await phone.fanout.send(BOB, text('hi'), relay.deliverFrom(phone.party.address));
  expect(await bob.read()).toEqual(['hi']);
  expect(await laptop.read()).toEqual(['hi']);
  return { relay, phone, laptop, bob };
}

/** `deliver` that throws `failure` on the `n`th call (1-based) and passes every other call on. */
function failingOnCall(relay: TestRelay, from: Device, n: number, failure: Error) {
  const real = relay.deliverFrom(from.party.address);
  let calls = 0;
  return async (d: Parameters<typeof real>[0]) => {
    if (++calls === n) throw failure;
    return real(d);
  };
}

describe('DeviceFanout.send that fails after the recipient got the message', () => {
  it('the sync copy’s deliver throws: a FanoutIncompleteError says the recipient has it; retrying the sync alone gives no duplicate', async () => {
    const { relay, phone, laptop, bob } = await aliceWithLaptopAndBob();
    const down = new Error('network down');
    const err = await phone.fanout
      .send(BOB, text('lunch?'), failingOnCall(relay, phone, 2, down))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutIncompleteError);
    expect(E2eeError.is(err, ErrorCode.FanoutIncomplete)).toBe(true);
    const incomplete = err as FanoutIncompleteError;
    expect(incomplete.cause).toBe(down);
    expect(incomplete.failed).toEqual({ account: ALICE, sync: true });
    expect(incomplete.accounts.map((a) => [a.account, a.sync, a.status])).toEqual([[BOB, false, 'sent']]);
    expect(bob.inbox).toHaveLength(1);
    expect(laptop.inbox).toHaveLength(0);

    // The app's retry: only what was not sent.
    const retry = await phone.fanout.send(BOB, text('lunch?'), relay.deliverFrom(phone.party.address), {
      only: 'sync',
    });
    expect(retry.accounts.map((a) => [a.account, a.sync, a.status])).toEqual([[ALICE, true, 'sent']]);
    expect(await bob.read()).toEqual(['lunch?']); // once
    expect(await laptop.read()).toEqual(['lunch?']);
  });

  it('a bundle fetch for the sync copy throws after the recipient got it: the same error, the fetch error as cause', async () => {
    const { relay, phone, bob } = await aliceWithLaptopAndBob();
    // Alice links a tablet; the phone learns it from the sync copy's 409, and fetching its bundle fails.
    await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
    const fetchDown = new Error('bundle fetch failed');
    const deviceLists = new InMemoryDeviceListStore();
    await deviceLists.saveDevices(BOB, [1]);
    await deviceLists.saveDevices(ALICE, [1, 2]);
    const fanout = new DeviceFanout(phone.party.store, {
      self: phone.party.address,
      deviceLists,
      fetchBundles: async (account, ids) => {
        if (account === ALICE) throw fetchDown;
        return relay.bundles(account, ids);
      },
    });
    const err = await fanout
      .send(BOB, text('dinner?'), relay.deliverFrom(phone.party.address))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FanoutIncompleteError);
    expect((err as FanoutIncompleteError).cause).toBe(fetchDown);
    expect((err as FanoutIncompleteError).accounts.map((a) => a.status)).toEqual(['sent']);
    expect(await bob.read()).toEqual(['dinner?']);
  });

  it('the recipient’s deliver throws: the error is passed on unchanged, nothing was sent, the sync copy was not tried', async () => {
    const { relay, phone, laptop, bob } = await aliceWithLaptopAndBob();
    const down = new Error('network down');
    const logStart = relay.log.length;
    await expect(phone.fanout.send(BOB, text('x'), failingOnCall(relay, phone, 1, down))).rejects.toBe(down);
    expect(relay.log.length).toBe(logStart); // no deliver after the failed one
    expect(bob.inbox).toHaveLength(0);
    expect(laptop.inbox).toHaveLength(0);
    // Retrying the whole send is right then: each device gets it once.
    await phone.fanout.send(BOB, text('x'), relay.deliverFrom(phone.party.address));
    expect(await bob.read()).toEqual(['x']);
    expect(await laptop.read()).toEqual(['x']);
    await expect(
      phone.fanout.send(BOB, text('x'), relay.deliverFrom(phone.party.address), {
        only: 'both' as 'sync',
      }),
    ).rejects.toThrow(TypeError);
  });

  it('takeUnreported hands over a device change a throwing call applied (for an app that commits what the call wrote)', async () => {
    const { relay, phone, laptop, bob } = await aliceWithLaptopAndBob();
    // Alice links a tablet: the sync copy's 409 names it, its session starts and the list is
    // saved, then the resend's deliver throws — nothing was accepted, so the error comes as it is.
    const tablet = await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
    const down = new Error('network down');
    const real = relay.deliverFrom(phone.party.address);
    let calls = 0;
    const deliver = async (d: Parameters<typeof real>[0]) => (++calls === 2 ? Promise.reject(down) : real(d));
    await expect(phone.fanout.send(BOB, text('x'), deliver, { only: 'sync' })).rejects.toBe(down);
    expect(laptop.inbox).toHaveLength(0);
    expect(tablet.inbox).toHaveLength(0);
    expect(bob.inbox).toHaveLength(0);

    const taken = phone.fanout.takeUnreported(ALICE);
    expect(taken.changes).toEqual([
      {
        account: ALICE,
        devicesAdded: [tablet.party.address.deviceId],
        devicesRemoved: [],
        devicesReregistered: [],
      },
    ]);
    expect(taken.keyHolders.add).toEqual([tablet.party.address]);
    // Reported once: neither a second take nor the next send for that account repeats it.
    expect(phone.fanout.takeUnreported(ALICE).changes).toEqual([]);
    const next = await phone.fanout.send(BOB, text('y'), relay.deliverFrom(phone.party.address), {
      only: 'sync',
    });
    expect(next.changes).toEqual([]);
    expect(await tablet.read()).toEqual(['y']);
    expect(() => phone.fanout.takeUnreported('')).toThrow(TypeError);
  });

  it('prints what was sent, never the plaintext', async () => {
    const { relay, phone } = await aliceWithLaptopAndBob();
    const err = (await phone.fanout
      .send(BOB, text('very secret words'), failingOnCall(relay, phone, 2, new Error('down')))
      .catch((e: unknown) => e)) as FanoutIncompleteError;
    const { inspect } = await import('node:util');
    for (const printed of [String(err), err.message, inspect(err), JSON.stringify(err)])
      expect(printed).not.toContain('very secret words');
    expect(String(err)).toContain('FANOUT_INCOMPLETE');
  });
});
