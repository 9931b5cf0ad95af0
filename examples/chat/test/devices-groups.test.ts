/**
 * Groups over linked devices, end to end over a real relay: group state, sender keys and group
 * messages reach every device of every member and our own other devices (which show what we sent
 * as sent); a device linked after the group exists gets the sender keys with the next message, and
 * an unlinked one is left out and then rotated past.
 */
import { expect, it } from 'vitest';
import { ChatData } from '../client/src/app-data.js';
import { ChatClient } from '../client/src/index.js';
import { accessKeyOf } from '../client/src/sealed.js';
import { deviceTestbed, texts } from './devices-harness.js';

const bed = deviceTestbed();
const { opts, keep, link } = bed;
const notes = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => m.system).map((m) => m.text);

it('a group reaches every device of every member and our own other devices, as devices come and go', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  const aliceTablet = await link(alice);
  await bob.addContact('alice'); // bob's consent to be added by alice

  // Created on alice's phone: bob gets it, and so does her tablet (the phone learns of it on the way).
  const group = await alice.createGroup('hiking', ['bob']);
  const conv = `group:${group.id}`;
  expect(await notes(alice, conv)).toContain('you linked a device (2)');
  await bob.syncOnce();
  await aliceTablet.syncOnce();
  for (const c of [bob, aliceTablet])
    expect((await c.groups()).map((g) => [g.id, g.admin, g.members, g.active])).toEqual([
      [group.id, 'alice', ['alice', 'bob'], true],
    ]);

  // Bob writes: his sender key and his message reach both of alice's devices.
  const fromBob = await bob.sendGroupText(group.id, 'hello from bob');
  expect(fromBob.distributedTo).toEqual(['alice']);
  await alice.syncOnce();
  await aliceTablet.syncOnce();
  expect(await texts(alice, conv)).toEqual(['< hello from bob']);
  expect(await texts(aliceTablet, conv)).toEqual(['< hello from bob']);

  // Alice's tablet writes: bob reads it, and her phone shows it as sent.
  await aliceTablet.sendGroupText(group.id, 'from the tablet');
  await bob.syncOnce();
  await alice.syncOnce();
  expect(await texts(bob, conv)).toEqual(['> hello from bob', '< from the tablet']);
  expect(await texts(alice, conv)).toEqual(['< hello from bob', '> from the tablet']);
  expect((await alice.messages(conv)).at(-1)).toMatchObject({ from: 'alice', outgoing: true });

  // And her phone: bob and the tablet.
  await alice.sendGroupText(group.id, 'from the phone');
  await bob.syncOnce();
  await aliceTablet.syncOnce();
  expect((await texts(bob, conv)).at(-1)).toBe('< from the phone');
  expect(await texts(aliceTablet, conv)).toEqual([
    '< hello from bob',
    '> from the tablet',
    '> from the phone',
  ]);

  // Bob links a second device after the group exists. His phone's next group message finds it:
  // the new device joins his groups and gets his sender key first.
  const bobTablet = await link(bob);
  await bob.sendGroupText(group.id, 'bob has a tablet now');
  expect(await notes(bob, conv)).toContain('you linked a device (2)');
  await bobTablet.syncOnce();
  expect((await bobTablet.groups()).map((g) => g.id)).toEqual([group.id]);
  expect(await texts(bobTablet, conv)).toEqual(['> bob has a tablet now']);
  await alice.syncOnce();
  await aliceTablet.syncOnce();

  // Alice's next group message: the relay's answer names bob's new device, which gets her sender key
  // with it and reads it.
  const next = await alice.sendGroupText(group.id, 'welcome, tablet');
  expect(await notes(alice, conv)).toContain('bob linked a device (2)');
  await bobTablet.syncOnce();
  await bob.syncOnce();
  expect(await texts(bobTablet, conv)).toEqual(['> bob has a tablet now', '< welcome, tablet']);
  expect((await texts(bob, conv)).at(-1)).toBe('< welcome, tablet');
  expect(next.distributedTo).toEqual([]); // the key went out when the relay named the new device
  // Its own messages reach everyone, and its phone shows them as sent.
  await bobTablet.sendGroupText(group.id, 'typed on the tablet');
  await alice.syncOnce();
  await aliceTablet.syncOnce();
  await bob.syncOnce();
  expect((await texts(alice, conv)).at(-1)).toBe('< typed on the tablet');
  expect((await texts(aliceTablet, conv)).at(-1)).toBe('< typed on the tablet');
  expect((await texts(bob, conv)).at(-1)).toBe('> typed on the tablet');

  // Bob unlinks the tablet. Alice's next message is not sent to it (the relay's answer drops it from
  // her list); the one after is on a new chain the tablet never got.
  await bob.unlinkDevice(2);
  // Sent the authenticated way this time (alice forgot bob's access key): the relay's authenticated
  // fan-out takes no group message, so an empty one tells her bob's devices first.
  await new ChatData(alice.store.app).delete(accessKeyOf(bob.aci));
  const unsealedBefore = alice.sealed.stats.unsealed;
  const left = await alice.sendGroupText(group.id, 'tablet gone?');
  expect(alice.sealed.stats.unsealed).toBe(unsealedBefore + 1);
  expect(left.rotation).toBeUndefined();
  expect(await notes(alice, conv)).toContain('bob unlinked a device (2)');
  expect(bed.relay.store.pending(bob.aci, 2)).toEqual([]);
  const rotated = await alice.sendGroupText(group.id, 'only for the phone');
  expect(rotated.rotation).toBeDefined();
  expect([...rotated.distributedTo].sort()).toEqual(['alice', 'bob']);
  const body = rotated.envelopes[0]?.body as Uint8Array;
  expect(await bobTablet.inspectGroupCiphertext('alice', body)).toMatchObject({ readable: false });
  await bob.syncOnce();
  await aliceTablet.syncOnce();
  expect((await texts(bob, conv)).slice(-2)).toEqual(['< tablet gone?', '< only for the phone']);
  expect((await texts(aliceTablet, conv)).slice(-2)).toEqual(['> tablet gone?', '> only for the phone']);
  // Bob's own chain rotates past his unlinked device too.
  const bobNext = await bob.sendGroupText(group.id, 'just my phone');
  expect(bobNext.rotation).toBeDefined();
  expect(
    await bobTablet.inspectGroupCiphertext('bob', bobNext.envelopes[0]?.body as Uint8Array),
  ).toMatchObject({ readable: false });
});

it('a device re-linked under the same id gets the sender keys again (the relay answers 410)', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  await bob.addContact('alice');
  const group = await alice.createGroup('book club', ['bob']);
  const conv = `group:${group.id}`;
  await bob.syncOnce();
  const oldTablet = await link(bob);
  await bob.sendGroupText(group.id, 'hi'); // bob's phone finds its tablet; the tablet joins
  await oldTablet.syncOnce();
  await alice.syncOnce();
  await alice.sendGroupText(group.id, 'hi both'); // alice finds bob's tablet
  await oldTablet.syncOnce();
  expect(await texts(oldTablet, conv)).toEqual(['> hi', '< hi both']);

  // Bob replaces the tablet: unlinked, and a new install linked, which gets the same device id.
  await bob.unlinkDevice(2);
  oldTablet.disconnect();
  const newTablet = await link(bob);
  expect(newTablet.deviceId).toBe(2);
  await bob.sendGroupText(group.id, 'new tablet');
  await newTablet.syncOnce();
  expect((await newTablet.groups()).map((g) => g.id)).toEqual([group.id]);
  // Alice still lists device 2 with the old registration: the relay's 410 makes her start a new
  // session and send her key to it again before the message.
  await alice.syncOnce();
  await alice.sendGroupText(group.id, 'welcome back');
  expect(await notes(alice, conv)).toContain('bob re-registered a device (2)');
  await newTablet.syncOnce();
  expect(await texts(newTablet, conv)).toEqual(['> new tablet', '< welcome back']);
});

it('contacts and who may add us are the account’s: every device of it gets them, and group adds are screened alike', async () => {
  const alice = keep(await ChatClient.register('alice', opts()));
  const bob = keep(await ChatClient.register('bob', opts()));
  const carol = keep(await ChatClient.register('carol', opts()));
  await alice.addContact('bob'); // before the tablet exists
  const aliceTablet = await link(alice);
  // The phone's next change finds the tablet (409) and sends it the whole list and the setting.
  await alice.addContact('carol');
  await aliceTablet.syncOnce();
  expect((await aliceTablet.contacts()).sort()).toEqual(['bob', 'carol']);
  expect(await aliceTablet.whoCanAddMe()).toBe('contacts');

  // Both devices screen a group add the same way: Bob is a contact, so his add joins on both.
  await bob.addContact('alice');
  const fromBob = await bob.createGroup('from bob', ['alice']);
  await alice.syncOnce();
  await aliceTablet.syncOnce();
  for (const c of [alice, aliceTablet]) {
    expect((await c.groups()).map((g) => g.id)).toEqual([fromBob.id]);
    expect(await c.invitations()).toEqual([]);
  }

  // A change on the tablet reaches the phone: Carol excepted, then removed as a contact.
  await aliceTablet.setWhoCanAddMe({ contactsExcept: ['carol'] });
  await alice.syncOnce();
  expect(await alice.whoCanAddMe()).toEqual({ contactsExcept: ['carol'] });
  await aliceTablet.removeContact('carol');
  await alice.syncOnce();
  expect(await alice.contacts()).toEqual(['bob']);
  // Carol's add is an invitation on both devices.
  await carol.addContact('alice');
  const fromCarol = await carol.createGroup('from carol', ['alice']);
  await alice.syncOnce();
  await aliceTablet.syncOnce();
  for (const c of [alice, aliceTablet]) {
    expect((await c.groups()).map((g) => g.id)).toEqual([fromBob.id]);
    expect((await c.invitations()).map((i) => i.group.id)).toEqual([fromCarol.id]);
  }
});
