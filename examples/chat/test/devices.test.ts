/**
 * Linked devices and retry receipts, end to end over a real relay: a second device links by the
 * QR code's text, messages reach every device of the recipient and (as sync copies) every other
 * device of the sender, unlinking stops delivery, and a device restored from an old backup gets
 * back — through a retry receipt — a message it could no longer decrypt.
 */
import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { expect, it } from 'vitest';
import { ChatData } from '../client/src/app-data.js';
import { DIRECTORY_KEYS } from '../client/src/directory.js';
import { ChatClient, LinkRequest, type RelayError } from '../client/src/index.js';
import { makeDevice } from '../server/test/helpers.js';
import { deviceTestbed, texts } from './devices-harness.js';

const bed = deviceTestbed();
const { opts, keep, link } = bed;

it('links a second device: messages to and from both, sync copies of sent messages, unlink stops delivery', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  const tablet = await link(alice);
  expect(tablet.name).toBe('alice');
  expect(tablet.deviceId).toBe(2);
  expect(tablet.identityKey.equals(alice.identityKey)).toBe(true);
  // The provisioning message carried the account's ServiceId and name; the tablet pinned both.
  expect(tablet.aci).toBe(alice.aci);
  const pinned = new ChatData(tablet.store.app);
  expect(await pinned.json(DIRECTORY_KEYS.byAci(alice.aci))).toBe('alice');
  expect(await pinned.json(DIRECTORY_KEYS.byName('alice'))).toBe(alice.aci);
  expect(bed.relay.store.deviceIds(alice.aci)).toEqual([1, 2]);
  // The relay keeps the account's device list.
  expect((await alice.listDevices()).map((d) => d.deviceId)).toEqual([1, 2]);
  expect((await bed.relay.store.listAccounts()).find((a) => a.name === 'alice')?.devices).toEqual([1, 2]);

  // Bob writes: his first send learns alice's second device from the relay's 409.
  const sent = await bob.sendText('alice', 'hello, both of you');
  expect(sent.envelopes.map((e) => e.to)).toEqual(['alice', 'alice']);
  expect((await bob.messages('dm:alice')).filter((m) => m.system).map((m) => m.text)).toEqual([
    'alice linked a device (2)',
  ]);
  await alice.syncOnce();
  await tablet.syncOnce();
  expect(await texts(alice, 'dm:bob')).toEqual(['< hello, both of you']);
  expect(await texts(tablet, 'dm:bob')).toEqual(['< hello, both of you']);

  // The tablet answers: bob gets it, alice's phone gets the sync copy shown as sent.
  await tablet.sendText('bob', 'hi from the tablet');
  expect((await tablet.messages('dm:bob')).filter((m) => m.system)).toEqual([]);
  await bob.syncOnce();
  await alice.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['> hello, both of you', '< hi from the tablet']);
  expect(await texts(alice, 'dm:bob')).toEqual(['< hello, both of you', '> hi from the tablet']);

  // And the phone: bob and the tablet (sync copy); the phone learns of the tablet and says so.
  await alice.sendText('bob', 'and from the phone');
  expect((await alice.messages('dm:bob')).filter((m) => m.system).map((m) => m.text)).toEqual([
    'you linked a device (2)',
  ]);
  await bob.syncOnce();
  await tablet.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual([
    '> hello, both of you',
    '< hi from the tablet',
    '< and from the phone',
  ]);
  expect(await texts(tablet, 'dm:bob')).toEqual([
    '< hello, both of you',
    '> hi from the tablet',
    '> and from the phone',
  ]);

  // Unlink the tablet: the relay drops it, its token stops working, nothing more reaches it.
  await alice.unlinkDevice(2);
  expect((await alice.listDevices()).map((d) => d.deviceId)).toEqual([1]);
  await expect(tablet.api.fetchQueued()).rejects.toMatchObject({ status: 401 });
  const sealedBefore = bob.sealed.stats.sealed;
  const after = await bob.sendText('alice', 'only the phone now');
  // Sealed (bob knows alice's access key by now): the relay's 409 came from the sealed endpoint.
  expect(bob.sealed.stats.sealed).toBe(sealedBefore + 1);
  expect(after.envelopes.map((e) => e.to)).toEqual(['alice']);
  expect((await bob.messages('dm:alice')).filter((m) => m.system).map((m) => m.text)).toEqual([
    'alice linked a device (2)',
    'alice unlinked a device (2)',
  ]);
  expect(bed.relay.store.pending(alice.aci, 2)).toEqual([]);
  await alice.syncOnce();
  expect((await texts(alice, 'dm:bob')).at(-1)).toBe('< only the phone now');
  const own = await alice.sendText('bob', 'no sync copy for an unlinked device');
  expect(own.envelopes.map((e) => e.to)).toEqual(['bob']);
  expect(bed.relay.store.pending(alice.aci, 2)).toEqual([]);
});

it('the relay answers a fan-out send that names the wrong devices with 409 / 410, and queues nothing', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  await link(alice);
  const body = new Uint8Array([1, 2, 3]);
  const missing = await alice.api.fanout(bob.aci, []).then(
    () => undefined,
    (e: unknown) => e as RelayError,
  );
  expect(missing?.status).toBe(409);
  expect(missing?.body).toMatchObject({ missingDevices: [1], extraDevices: [] });
  const extra = await alice.api
    .fanout(bob.aci, [
      { deviceId: 1, registrationId: 0, kind: 'whisper', body },
      { deviceId: 5, registrationId: 0, kind: 'whisper', body },
    ])
    .then(
      () => undefined,
      (e: unknown) => e as RelayError,
    );
  expect(extra?.status).toBe(409);
  expect(extra?.body).toMatchObject({ missingDevices: [], extraDevices: [5] });
  const stale = await alice.api
    .fanout(bob.aci, [{ deviceId: 1, registrationId: 0, kind: 'whisper', body }])
    .then(
      () => undefined,
      (e: unknown) => e as RelayError,
    );
  expect(stale?.status).toBe(410);
  expect(stale?.body).toMatchObject({ staleDevices: [1] });
  // Our own account: the sending device is never expected, the other one is.
  const own = await alice.api.fanout(alice.aci, []).then(
    () => undefined,
    (e: unknown) => e as RelayError,
  );
  expect(own?.body).toMatchObject({ missingDevices: [2] });
  expect(bed.relay.store.pending(bob.aci, 1)).toEqual([]);
});

it('a provisioning code is single-use and bound to its account', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  const request = await LinkRequest.create(bed.relay.url);
  const linking = ChatClient.link(request, opts());
  await bob.linkDevice(request.uri); // bob's code, bob's identity: this links to bob, not alice
  const linked = keep(await linking);
  expect(linked.name).toBe('bob');
  await expect(alice.linkDevice('https://example.com/not-a-link')).rejects.toMatchObject({
    name: 'DeviceError',
    reason: 'not-a-link-code',
  });
  // A device with keys of its own (signatures valid) presenting alice's code.
  const { code } = await alice.api.provisioningCode();
  const device = (await makeDevice()).registration as never;
  await expect(alice.api.linkDevice({ aci: bob.aci, provisioningCode: code, device })).rejects.toMatchObject({
    code: 'wrong_provisioning_code',
  });
  // For alice the code is good, but the device must carry the account's identity key.
  await expect(
    alice.api.linkDevice({ aci: alice.aci, provisioningCode: code, device }),
  ).rejects.toMatchObject({
    code: 'identity_mismatch',
  });
  // That attempt used the code up.
  await expect(
    alice.api.linkDevice({ aci: alice.aci, provisioningCode: code, device }),
  ).rejects.toMatchObject({
    code: 'wrong_provisioning_code',
  });
  expect((await alice.listDevices()).map((d) => d.deviceId)).toEqual([1]);
});

it('restore from an old backup: a message the restored device cannot decrypt comes again through a retry receipt', async () => {
  // Delivery receipts off: the test counts the undecryptable messages (a receipt would be one more).
  const noReceipts = { receipts: false };
  const alice = keep(await ChatClient.register('alice', opts(noReceipts)));
  const bob = keep(await ChatClient.register('bob', opts(noReceipts)));
  await alice.sendText('bob', 'before the backup');
  await bob.syncOnce();
  const recoveryCode = await alice.recoveryCode();
  await alice.backup({ password: 'correct horse battery staple', argon2: MIN_ARGON2_PARAMS });

  // After the backup the conversation goes on: both ratchets move past what the backup holds.
  await bob.sendText('alice', 'after the backup 1');
  await alice.syncOnce();
  await alice.sendText('bob', 'after the backup 2');
  await bob.syncOnce();
  alice.disconnect();

  // Alice's phone is lost; she restores the old backup on a new one.
  const restored = keep(
    (
      await ChatClient.restore(
        'alice',
        recoveryCode,
        { password: 'correct horse battery staple' },
        opts(noReceipts),
      )
    ).client,
  );
  // Bob writes on his current session: the restored state cannot decrypt it.
  await bob.sendText('alice', 'are you there?');
  await restored.syncOnce(); // bad MAC → a retry receipt to bob's device
  expect(restored.retries.stats.receiptsSent).toBe(1);
  expect(bed.relay.store.pending(bob.aci, 1).map((e) => e.type)).toEqual(['plaintext']);
  await bob.syncOnce(); // the receipt: archive, fresh bundle, re-send from the resend cache
  expect(bob.retries.stats.resent).toBe(1);
  await restored.syncOnce();
  const got = await texts(restored, 'dm:bob');
  expect(got).toContain('< are you there?');
  // The conversation continues both ways on the new session.
  await restored.sendText('bob', 'yes, restored');
  await bob.syncOnce();
  expect((await texts(bob, 'dm:alice')).at(-1)).toBe('< yes, restored');
  await bob.sendText('alice', 'good');
  await restored.syncOnce();
  expect((await texts(restored, 'dm:bob')).at(-1)).toBe('< good');
});
