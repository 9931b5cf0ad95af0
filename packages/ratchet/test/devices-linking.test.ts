// Linking as people do it: the app killed halfway through provisioning, a registration that failed
// after the keys were stored, a device unlinked while messages to and from it are in flight, and a
// device id re-linked with new keys (spec devices-and-healing.md §2–§3).
import { addressToString } from '@e2ee-kit/core';
import {
  DeviceLinkRequest,
  E2eeError,
  ErrorCode,
  encryptProvisionMessage,
  ProvisionMessage,
  parseLinkDeviceUri,
  VerificationError,
} from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { ALICE, alicePhoneLaptopAndBob, BOB, type Device, TestRelay, text } from './devices-relay.js';

const ids = (addresses: readonly { deviceId: number }[]) => addresses.map((a) => a.deviceId);

/** What the existing device `from` sends after scanning `request`'s QR code. */
async function envelopeFor(request: DeviceLinkRequest, from: Device) {
  const { publicKey } = parseLinkDeviceUri(request.uri);
  return encryptProvisionMessage(
    publicKey,
    ProvisionMessage.from({
      aciIdentityKeyPair: await from.party.store.getIdentityKeyPair(),
      aci: from.party.name,
      provisioningCode: 'one-time-token',
    }),
  );
}

describe('provisioning interrupted', () => {
  it('the new device was killed before it stored the envelope: the old envelope does not open a new request; a new link works', async () => {
    const relay = new TestRelay();
    const phone = await relay.addDevice(ALICE);
    const lost = await DeviceLinkRequest.create();
    const sent = await envelopeFor(lost, phone); // the phone sent it; the tablet app died
    const again = await DeviceLinkRequest.create(); // restarted: a new QR code, a new key
    const err = await again.open(sent).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VerificationError);
    expect(E2eeError.is(err, ErrorCode.InvalidMac)).toBe(true);
    const provisioned = await again.open(await envelopeFor(again, phone));
    again.dispose();
    // A disposed request refuses with a typed error, not a crash.
    const afterDispose = await again.open(await envelopeFor(again, phone)).catch((e: unknown) => e);
    expect(E2eeError.is(afterDispose)).toBe(true);
    const tablet = await relay.addDevice(provisioned.aci, provisioned.aciIdentityKeyPair);
    const bob = await relay.addDevice(BOB);
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    expect(await tablet.read()).toEqual(['hi']);
    expect(await phone.read()).toEqual(['hi']);
  });

  it('keys stored, registration failed: the kept ProvisionMessage registers later with the same identity', async () => {
    const relay = new TestRelay();
    const phone = await relay.addDevice(ALICE);
    const request = await DeviceLinkRequest.create();
    const provisioned = await request.open(await envelopeFor(request, phone));
    request.dispose();
    const kept = provisioned.serialize(); // what the app stored before registering
    // …registration failed, the app restarts and tries again with what it kept.
    const restored = ProvisionMessage.deserialize(kept);
    expect(restored.aciIdentityKeyPair.publicKey.equals(provisioned.aciIdentityKeyPair.publicKey)).toBe(true);
    const laptop = await relay.addDevice(restored.aci, restored.aciIdentityKeyPair);
    const bob = await relay.addDevice(BOB);
    const r = await bob.fanout.send(ALICE, text('hello'), relay.deliverFrom(bob.party.address));
    expect(r.accounts[0]?.status).toBe('sent');
    expect(await laptop.read()).toEqual(['hello']);
  });
});

describe('a device unlinked with messages in flight', () => {
  it('late messages from the unlinked laptop still decrypt at Bob, and do not bring it back into his sends', async () => {
    const { relay, laptop, bob } = await alicePhoneLaptopAndBob();
    await bob.fanout.send(ALICE, text('hi both'), relay.deliverFrom(bob.party.address));
    await laptop.fanout.send(BOB, text('from laptop 1'), relay.deliverFrom(laptop.party.address));
    expect(await bob.read()).toEqual(['from laptop 1']);
    // In flight: the laptop's next message to Bob, and Bob's to the laptop.
    await laptop.fanout.send(BOB, text('from laptop 2'), relay.deliverFrom(laptop.party.address));
    await bob.fanout.send(ALICE, text('to both'), relay.deliverFrom(bob.party.address));
    // Alice unlinks the laptop; Bob learns it.
    relay.unlink(ALICE, 2);
    const removed = await bob.fanout.removeDevices(ALICE, [2]);
    expect(removed.keyHolders.forget.map(addressToString)).toEqual([`${ALICE}.2`]);
    expect(await bob.read()).toEqual(['from laptop 2']); // from the archived session
    expect(await laptop.read()).toEqual(['hi both', 'to both']);
    const next = await bob.fanout.send(ALICE, text('only the phone'), relay.deliverFrom(bob.party.address));
    expect(next.accounts[0]?.devices.map((a) => a.deviceId)).toEqual([1]);
    expect(next.changes).toEqual([]);
    expect(laptop.inbox).toEqual([]);
    expect(ids(await bob.fanout.devices(ALICE))).toEqual([1]);
  });
});

describe('a device id re-linked with new keys', () => {
  it('the new laptop writes first: Bob’s next send uses the new session, the old laptop’s late message still decrypts, the stored identity unchanged', async () => {
    const { relay, phone, laptop: oldLaptop, bob } = await alicePhoneLaptopAndBob();
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    expect(await oldLaptop.read()).toEqual(['hi']);
    await oldLaptop.fanout.send(BOB, text('old laptop, late'), relay.deliverFrom(oldLaptop.party.address));
    const late = bob.inbox.splice(0);
    relay.unlink(ALICE, 2);
    const newLaptop = await relay.addDevice(ALICE, await phone.party.store.getIdentityKeyPair());
    expect(newLaptop.party.deviceId).toBe(2);
    await newLaptop.fanout.send(BOB, text('new laptop here'), relay.deliverFrom(newLaptop.party.address));
    expect(await bob.read()).toEqual(['new laptop here']);
    bob.inbox.push(...late);
    expect(await bob.read()).toEqual(['old laptop, late']);
    const r = await bob.fanout.send(ALICE, text('to the new one'), relay.deliverFrom(bob.party.address));
    expect(r.accounts[0]?.status).toBe('sent');
    expect(await newLaptop.read()).toEqual(['to the new one']);
    expect(oldLaptop.inbox).toHaveLength(0);
    // Same account identity key: nothing for Bob to approve, and none of his stored keys changed.
    const accountKey = (await phone.party.store.getIdentityKeyPair()).publicKey;
    for (const id of [1, 2])
      expect((await bob.party.store.getIdentity({ name: ALICE, deviceId: id }))?.equals(accountKey)).toBe(
        true,
      );
  });

  it('Alice’s account got a new identity key on both devices: one refusal, nothing touched, no message encrypted to the new keys', async () => {
    const { relay, phone, bob } = await alicePhoneLaptopAndBob();
    await bob.fanout.send(ALICE, text('hi'), relay.deliverFrom(bob.party.address));
    relay.unlink(ALICE, 1);
    relay.unlink(ALICE, 2);
    const newPhone = await relay.addDevice(ALICE);
    await relay.addDevice(ALICE, await newPhone.party.store.getIdentityKeyPair());
    const oldKey = await bob.party.store.getIdentity(phone.party.address);
    const logStart = relay.log.length;
    const err = await bob.fanout
      .send(ALICE, text('x'), relay.deliverFrom(bob.party.address))
      .catch((e: unknown) => e);
    expect(E2eeError.is(err, ErrorCode.UntrustedIdentity)).toBe(true);
    // The first attempt went out on the old sessions (the server answered 410); nothing after it.
    expect(relay.log.slice(logStart).map((e) => ('status' in e.answer ? 'ok' : e.answer.kind))).toEqual([
      'stale',
    ]);
    for (const id of [1, 2]) {
      const address = { name: ALICE, deviceId: id };
      expect((await bob.party.store.getIdentity(address))?.equals(oldKey as never)).toBe(true);
    }
    expect(newPhone.inbox).toEqual([]);
  });
});
