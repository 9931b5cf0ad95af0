// Multi-device accounts as user stories: fan-out to every device, sync copies, linking by QR,
// unlinking, and the server's 409/410 answers (spec devices-and-healing.md §1–§3).
import { addressToString, createAddress, defaultProvider, IdentityKeyPair } from '@e2ee-kit/core';
import {
  DecodeError,
  type DeliveryAnswer,
  DeviceFanout,
  DeviceLinkRequest,
  encryptProvisionMessage,
  InMemoryDeviceListStore,
  ProvisionMessage,
  parseDeviceMismatch,
  parseLinkDeviceUri,
  planDeviceMismatch,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ALICE, BOB, type Device, TestRelay, text } from './devices-relay.js';
import { snap } from './helpers.js';

const kindOf = (a: DeliveryAnswer) => ('status' in a ? a.status : a.kind);
const ids = (addresses: readonly { deviceId: number }[]) => addresses.map((a) => a.deviceId);

async function linkByQr(relay: TestRelay, existing: Device): Promise<Device> {
  // The new device shows a QR code; the existing device scans it and sends the account identity.
  const request = await DeviceLinkRequest.create();
  const { publicKey } = parseLinkDeviceUri(request.uri);
  const envelope = await encryptProvisionMessage(
    publicKey,
    ProvisionMessage.from({
      aciIdentityKeyPair: await existing.party.store.getIdentityKeyPair(),
      aci: existing.party.name,
      provisioningCode: 'one-time-token',
    }),
  );
  const provisioned = await request.open(envelope);
  request.dispose();
  expect(provisioned.aci).toBe(existing.party.name);
  return relay.addDevice(provisioned.aci, provisioned.aciIdentityKeyPair);
}

describe('Alice has a phone and a laptop, Bob has a phone', () => {
  it('messages reach all of Bob’s devices and Alice’s other devices, sent ones too; linking, unlinking and a reused id', async () => {
    const relay = new TestRelay();
    const alicePhone = await relay.addDevice(ALICE);
    const aliceLaptop = await relay.addDevice(ALICE, await alicePhone.party.store.getIdentityKeyPair());
    const bobPhone = await relay.addDevice(BOB);
    expect(aliceLaptop.party.deviceId).toBe(2);

    // Alice's phone writes to Bob. It knows nothing yet: Bob's primary is assumed, our laptop is
    // learned from the server's 409 for the sync copy.
    const first = await alicePhone.fanout.send(
      BOB,
      text('hi Bob'),
      relay.deliverFrom(alicePhone.party.address),
    );
    expect(first.accounts.map((a) => [a.account, a.status, ids(a.devices)])).toEqual([
      [BOB, 'sent', [1]],
      [ALICE, 'sent', [2]],
    ]);
    expect(first.changes).toEqual([
      { account: ALICE, devicesAdded: [2], devicesRemoved: [], devicesReregistered: [] },
    ]);
    expect(await bobPhone.read()).toEqual(['hi Bob']);
    expect(await aliceLaptop.read()).toEqual(['hi Bob']); // the sync copy of a sent message

    // Bob answers; the 409 tells him about Alice's laptop.
    const reply = await bobPhone.fanout.send(
      ALICE,
      text('hi Alice'),
      relay.deliverFrom(bobPhone.party.address),
    );
    expect(reply.accounts[0]?.devices.map(addressToString)).toEqual([`${ALICE}.1`, `${ALICE}.2`]);
    expect(reply.changes).toEqual([
      { account: ALICE, devicesAdded: [2], devicesRemoved: [], devicesReregistered: [] },
    ]);
    expect(await alicePhone.read()).toEqual(['hi Alice']);
    expect(await aliceLaptop.read()).toEqual(['hi Alice']);

    // Alice links a tablet by QR code. It shares the account identity key.
    const aliceTablet = await linkByQr(relay, alicePhone);
    expect(aliceTablet.party.deviceId).toBe(3);
    expect(
      (await aliceTablet.party.store.getIdentityKeyPair()).publicKey.equals(
        (await alicePhone.party.store.getIdentityKeyPair()).publicKey,
      ),
    ).toBe(true);

    // Bob's next message reaches the tablet, and Bob's app is told: never silently.
    const toTablet = await bobPhone.fanout.send(
      ALICE,
      text('welcome, tablet'),
      relay.deliverFrom(bobPhone.party.address),
    );
    expect(toTablet.changes).toEqual([
      { account: ALICE, devicesAdded: [3], devicesRemoved: [], devicesReregistered: [] },
    ]);
    expect(toTablet.keyHolders.add.map(addressToString)).toEqual([`${ALICE}.3`]);
    for (const d of [alicePhone, aliceLaptop, aliceTablet])
      expect(await d.read()).toEqual(['welcome, tablet']);

    // The tablet writes to Bob; the phone and the laptop get the sent message.
    const fromTablet = await aliceTablet.fanout.send(
      BOB,
      text('from my tablet'),
      relay.deliverFrom(aliceTablet.party.address),
    );
    expect(fromTablet.accounts.map((a) => ids(a.devices))).toEqual([[1], [1, 2]]);
    expect(await bobPhone.read()).toEqual(['from my tablet']);
    expect(await alicePhone.read()).toEqual(['from my tablet']);
    expect(await aliceLaptop.read()).toEqual(['from my tablet']);

    // Alice unlinks the laptop (from the phone). From now on nothing is encrypted to it.
    relay.unlink(ALICE, 2);
    const unlinked = await alicePhone.fanout.removeDevices(ALICE, [2]);
    expect(unlinked.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [2], devicesReregistered: [] },
    ]);
    expect(unlinked.keyHolders.forget.map(addressToString)).toEqual([`${ALICE}.2`]);
    const logStart = relay.log.length;
    await alicePhone.fanout.send(BOB, text('laptop gone'), relay.deliverFrom(alicePhone.party.address));
    const bobSends = await bobPhone.fanout.send(ALICE, text('ok'), relay.deliverFrom(bobPhone.party.address));
    expect(bobSends.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [2], devicesReregistered: [] },
    ]);
    // (The tablet sends nothing now: it still counts the laptop as a device, see the 410 below.)
    // After the answer that removed it, no accepted delivery named the laptop, and its inbox stays empty.
    const accepted = relay.log.slice(logStart).filter((e) => kindOf(e.answer) === 'ok');
    for (const e of accepted)
      for (const m of e.delivery.messages) expect(addressToString(m.address)).not.toBe(`${ALICE}.2`);
    const afterFirstAnswer = relay.log
      .slice(logStart)
      .filter((e) => e.from.name === BOB)
      .slice(1);
    for (const e of afterFirstAnswer)
      expect(e.delivery.messages.map((m) => m.address.deviceId)).not.toContain(2);
    // The phone, which unlinked it, never even encrypted to it again.
    const fromPhone = relay.log.slice(logStart).filter((e) => e.from.name === ALICE && e.from.deviceId === 1);
    expect(fromPhone.length).toBeGreaterThan(0);
    for (const e of fromPhone) expect(e.delivery.messages.map((m) => m.address.deviceId)).not.toContain(2);
    expect(aliceLaptop.inbox).toEqual([]);
    expect(ids(await alicePhone.fanout.devices(ALICE))).toEqual([3]);
    expect(ids(await bobPhone.fanout.devices(ALICE))).toEqual([1, 3]);
    expect(await bobPhone.read()).toEqual(['laptop gone']);

    // Alice links a new laptop: the server reuses id 2 with a new registration id. Bob's session
    // for 2 is the old laptop's, so the server answers 410 and Bob starts a fresh session.
    const newLaptop = await linkByQr(relay, aliceTablet);
    expect(newLaptop.party.deviceId).toBe(2);
    const beforeStale = relay.log.length;
    const stale = await bobPhone.fanout.send(
      ALICE,
      text('hello new laptop'),
      relay.deliverFrom(bobPhone.party.address),
    );
    // 409 (2 missing for Bob, who dropped it) — Bob re-adds 2 with a fresh bundle; no 410 needed then.
    expect(stale.accounts[0]?.status).toBe('sent');
    expect(await newLaptop.read()).toEqual(['hello new laptop']);
    expect(
      relay.log
        .slice(beforeStale)
        .filter((e) => !e.delivery.sync)
        .map((e) => kindOf(e.answer)),
    ).toEqual(['mismatched', 'ok']);
    expect(stale.changes).toEqual([
      { account: ALICE, devicesAdded: [2], devicesRemoved: [], devicesReregistered: [] },
    ]);
    // The tablet still counts the old laptop as device 2: its session for 2 is stale, the server
    // answers 410, and the tablet archives it and starts a fresh session from the new laptop's bundle.
    const tabletSend = await aliceTablet.fanout.send(
      BOB,
      text('tablet again'),
      relay.deliverFrom(aliceTablet.party.address),
    );
    const tabletAnswers = relay.log.filter((e) => e.from.deviceId === 3 && e.delivery.sync).slice(-2);
    expect(tabletAnswers.map((e) => kindOf(e.answer))).toEqual(['stale', 'ok']);
    expect(tabletSend.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [], devicesReregistered: [2] },
    ]);
    expect(tabletSend.keyHolders.redistribute.map(addressToString)).toEqual([`${ALICE}.2`]);
    const toNewLaptop = tabletAnswers[1]?.delivery.messages.find((m) => m.address.deviceId === 2);
    expect(toNewLaptop?.type).toBe('prekey'); // a fresh session from the new laptop's bundle
    expect(await newLaptop.read()).toEqual(['tablet again']);
    expect(aliceLaptop.inbox).toEqual([]);
  });

  it('gives up after a bounded number of sends when the device list keeps changing', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    await relay.addDevice(ALICE);
    let calls = 0;
    const result = await bob.fanout.send(ALICE, text('x'), async (delivery) => {
      calls++;
      if (delivery.sync) return { status: 'ok' };
      return { kind: 'mismatched', missingDevices: [], extraDevices: [1] }; // a relay that never settles
    });
    expect(result.accounts[0]).toMatchObject({ account: ALICE, status: 'gave-up', attempts: 3 });
    expect(calls).toBe(3 + 1);
  });
});

describe('a device change is reported even when the call that applied it fails later', () => {
  it('an unlink learned from a 409, then a failed delivery: the next send still says to forget the device', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    const alicePhone = await relay.addDevice(ALICE);
    await relay.addDevice(ALICE, await alicePhone.party.store.getIdentityKeyPair());
    await bob.fanout.send(ALICE, text('hi both'), relay.deliverFrom(bob.party.address));
    expect(ids(await bob.fanout.devices(ALICE))).toEqual([1, 2]);

    // Alice unlinks her laptop. Bob's send learns it from the 409 (session archived, list saved)…
    relay.unlink(ALICE, 2);
    let calls = 0;
    const flaky = relay.deliverFrom(bob.party.address);
    const err = await bob.fanout
      .send(ALICE, text('secret'), async (d) => {
        if (++calls === 2) throw new Error('network down'); // …then the resend fails
        return flaky(d);
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ message: 'network down' });
    expect(ids(await bob.fanout.devices(ALICE))).toEqual([1]);

    // The list no longer names the laptop, so only a change kept since can tell the app to drop it
    // from its groups' sender-key holders (else the next group message is not re-keyed without it).
    const next = await bob.fanout.send(ALICE, text('again'), relay.deliverFrom(bob.party.address));
    expect(next.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [2], devicesReregistered: [] },
    ]);
    expect(next.keyHolders.forget.map(addressToString)).toEqual([`${ALICE}.2`]);
    // Reported once.
    const after = await bob.fanout.send(ALICE, text('and again'), relay.deliverFrom(bob.party.address));
    expect(after.changes).toEqual([]);
    expect(after.keyHolders.forget).toEqual([]);
  });

  it('a change kept from a call that threw is reported by the next call for that account, not another', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    await relay.addDevice(ALICE);
    const carol = 'c4601000-0000-4000-8000-00000000ca01';
    await relay.addDevice(carol);
    const lists = new InMemoryDeviceListStore();
    await lists.saveDevices(ALICE, [1, 5]); // device 5 is gone: the server has no bundle for it
    const fanout = new DeviceFanout(bob.party.store, {
      self: bob.party.address,
      deviceLists: lists,
      fetchBundles: (acc, want) => relay.bundles(acc, want),
    });
    const down = async (): Promise<DeliveryAnswer> => {
      throw new Error('network down');
    };
    await expect(fanout.send(ALICE, text('x'), down, { sync: false })).rejects.toThrow('network down');
    expect(ids(await fanout.devices(ALICE))).toEqual([1]);
    const forCarol = await fanout.encryptFor(carol, text('x'));
    expect(forCarol.changes).toEqual([]);
    expect(forCarol.keyHolders.forget).toEqual([]);
    const forAlice = await fanout.encryptFor(ALICE, text('x'));
    expect(forAlice.changes).toEqual([
      { account: ALICE, devicesAdded: [], devicesRemoved: [5], devicesReregistered: [] },
    ]);
    expect((await fanout.encryptFor(ALICE, text('x'))).changes).toEqual([]);
  });
});

describe('the 409/410 answer as typed input', () => {
  it('tells exactly which sessions to start and which to archive', () => {
    expect(
      planDeviceMismatch(parseDeviceMismatch(409, { missingDevices: [3, 2], extraDevices: [5] })),
    ).toEqual({
      start: [2, 3],
      archive: [5],
      added: [2, 3],
      removed: [5],
      reregistered: [],
    });
    expect(planDeviceMismatch(parseDeviceMismatch(410, { staleDevices: [2] }))).toEqual({
      start: [2],
      archive: [2],
      added: [],
      removed: [],
      reregistered: [2],
    });
  });

  it('answers malformed bodies with DecodeError', () => {
    for (const [status, body] of [
      [409, null],
      [409, { missingDevices: [0] }],
      [409, { missingDevices: [128] }],
      [409, { missingDevices: [1.5] }],
      [409, { missingDevices: [2, 2] }],
      [409, { missingDevices: [2], extraDevices: [2] }],
      [409, {}],
      [410, { staleDevices: 'x' }],
      [410, { staleDevices: [] }],
      [200, { staleDevices: [1] }],
    ] as const)
      expect(() => parseDeviceMismatch(status, body), JSON.stringify(body)).toThrow(DecodeError);
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.jsonValue(), (status, body) => {
        try {
          const m = parseDeviceMismatch(status, body);
          expect([409, 410]).toContain(status);
          expect(planDeviceMismatch(m).start.length + planDeviceMismatch(m).archive.length).toBeGreaterThan(
            0,
          );
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('a stored device list with a repeated, out-of-range or non-integer id is a DecodeError, and nothing is encrypted', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    await relay.addDevice(ALICE);
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    const tooMany = Array.from({ length: 128 }, (_, i) => i + 1);
    for (const bad of [[1, 1], [0], [1, 128], [1.5], [Number.NaN], tooMany, 'x', [1, '2']]) {
      const lists = new InMemoryDeviceListStore();
      await lists.saveDevices(ALICE, bad as number[]);
      const fanout = new DeviceFanout(bob.party.store, {
        self: bob.party.address,
        deviceLists: lists,
        fetchBundles: (acc, ids) => relay.bundles(acc, ids),
      });
      const before = snap(bob.party.store);
      const deliveries: unknown[] = [];
      for (const run of [
        () => fanout.encryptFor(ALICE, text('secret')),
        () =>
          fanout.send(ALICE, text('secret'), async (d) => {
            deliveries.push(d);
            return { status: 'ok' };
          }),
        () => fanout.devices(ALICE),
        () => fanout.applyDeviceMismatch(ALICE, { kind: 'stale', staleDevices: [1] }),
      ])
        await expect(run(), JSON.stringify(bad)).rejects.toBeInstanceOf(DecodeError);
      expect(deliveries).toEqual([]);
      expect(snap(bob.party.store)).toBe(before);
    }
  });

  it('a fan-out with an unknown recipient starts with the primary device only', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    const fanout = new DeviceFanout(bob.party.store, {
      self: createAddress(BOB, 1),
      deviceLists: new InMemoryDeviceListStore(),
      fetchBundles: async () => [],
    });
    expect(ids(await fanout.devices(ALICE))).toEqual([1]);
    expect(ids(await fanout.devices(BOB))).toEqual([]);
  });

  it('a failed bundle fetch while applying a 410 leaves sessions and the device list untouched', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    const alice = await relay.addDevice(ALICE);
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    expect(await alice.read()).toEqual(['hi']);
    const lists = new InMemoryDeviceListStore();
    await lists.saveDevices(ALICE, [1]);
    const failing = new DeviceFanout(bob.party.store, {
      self: bob.party.address,
      deviceLists: lists,
      fetchBundles: async () => {
        throw new Error('network down');
      },
    });
    const before = snap(bob.party.store);
    await expect(failing.applyDeviceMismatch(ALICE, { kind: 'stale', staleDevices: [1] })).rejects.toThrow(
      'network down',
    );
    expect(snap(bob.party.store)).toBe(before);
    expect(await lists.getDevices(ALICE)).toEqual([1]);
    // The session still works.
    await bob.fanout.send(ALICE, text('still here'), relay.deliverFrom(bob.party.address));
    expect(await alice.read()).toEqual(['still here']);
  });

  it('a device that comes with another identity key is refused as an identity change, not added', async () => {
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    await relay.addDevice(ALICE);
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    // The server (or whoever controls it) adds a device with its own identity key to Alice's account.
    const rogue = await relay.addDevice(ALICE, await IdentityKeyPair.generate(defaultProvider));
    const err = await bob.fanout
      .send(ALICE, text('secret'), relay.deliverFrom(bob.party.address))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'UNTRUSTED_IDENTITY',
      address: { name: ALICE, deviceId: rogue.party.deviceId },
    });
    // Nothing was started for it and nothing reached it.
    expect(ids(await bob.fanout.devices(ALICE))).toEqual([1]);
    expect(await bob.party.store.getSession(rogue.party.address)).toBeNull();
    expect(rogue.inbox).toEqual([]);
  });

  it('on first contact, bundles that disagree on the identity key are refused before any session starts', async () => {
    // No identity of Alice is known yet, so there is nothing to compare with — but the account has
    // one identity key: a server that hands out a second one for device 2 is adding its own device,
    // which Bob's safety number with Alice (one key) would never show.
    const relay = new TestRelay();
    const bob = await relay.addDevice(BOB);
    await relay.addDevice(ALICE);
    const rogue = await relay.addDevice(ALICE, await IdentityKeyPair.generate(defaultProvider));
    const before = snap(bob.party.store);
    const err = await bob.fanout
      .applyDeviceMismatch(ALICE, { kind: 'mismatched', missingDevices: [1, 2], extraDevices: [] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({
      code: 'UNTRUSTED_IDENTITY',
      address: { name: ALICE, deviceId: rogue.party.deviceId },
    });
    expect(snap(bob.party.store)).toBe(before);
    // The same through a device list the app restored (both ids, no session, no identity yet).
    const lists = new InMemoryDeviceListStore();
    await lists.saveDevices(ALICE, [1, 2]);
    const restored = new DeviceFanout(bob.party.store, {
      self: bob.party.address,
      deviceLists: lists,
      fetchBundles: (acc, ids) => relay.bundles(acc, ids),
    });
    await expect(restored.encryptFor(ALICE, text('secret'))).rejects.toMatchObject({
      code: 'UNTRUSTED_IDENTITY',
    });
    expect(snap(bob.party.store)).toBe(before);
  });
});
