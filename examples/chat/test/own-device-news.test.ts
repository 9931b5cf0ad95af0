/**
 * A device of ours that the phone finds during an operation (the relay's answer for our own account
 * names it) is told our groups and contacts. When the operation fails after its main send — the
 * request that tells the new device, or the commit before it — the device list already holds the
 * new device, so no later answer names it again: what it still needs must wait for the next flush,
 * which sends it.
 */
import { expect, it } from 'vitest';
import { ChatClient } from '../client/src/index.js';
import { deviceTestbed, texts } from './devices-harness.js';
import { ownFanoutPhone } from './own-fanout-phone.js';

const bed = deviceTestbed();
const { keep, link } = bed;

/** Alice's phone (with a tablet) in a group with bob, bob her contact, and a third device just linked. */
async function newDevice() {
  const { phone, own, store } = await ownFanoutPhone(bed);
  const bob = keep(await ChatClient.register('bob', bed.opts()));
  await bob.addContact('alice');
  await phone.addContact('bob');
  const tablet = await link(phone);
  const group = await phone.createGroup('hiking', ['bob']); // the tablet is told on the way
  await tablet.syncOnce();
  expect((await tablet.groups()).map((g) => g.id)).toEqual([group.id]);
  const third = await link(phone);
  return { phone, own, store, bob, group, third };
}

/** What the third device knows after it read what waits for it. */
async function known(third: ChatClient) {
  await third.syncOnce();
  return { groups: (await third.groups()).map((g) => g.id), contacts: await third.contacts() };
}

it('sendText: the request that tells the new device gets a 503 after the sync copy went; the next flush tells it', async () => {
  const { phone, own, group, third } = await newDevice();
  own.failAfter = 1; // the sync copy (sent again after the relay named the third device) goes
  const sent = await phone.sendText('bob', 'hi');
  expect(own.failAfter).toBeUndefined(); // the injected 503 happened
  expect(sent.message.status).toBe('sent');
  await phone.flushOutbox();
  expect(await known(third)).toEqual({ groups: [group.id], contacts: ['bob'] });
  // It reads the group from now on (it gets the phone's sender key with the next message).
  await phone.sendGroupText(group.id, 'welcome');
  await third.syncOnce();
  expect(await texts(third, `group:${group.id}`)).toEqual(['> welcome']);
});

it('sendText: the commit after the sync copy went fails; the next flush tells the new device', async () => {
  const { phone, store, group, third } = await newDevice();
  store.failAfter = 1;
  const sent = await phone.sendText('bob', 'hi');
  expect(store.failed).toBe(1); // the injected commit failure happened
  expect(sent.message.status).toBe('sent');
  await phone.flushOutbox();
  expect(await known(third)).toEqual({ groups: [group.id], contacts: ['bob'] });
});

it('a sync-copy flush: the request that tells the new device gets a 503 after the copy went; the flush still tells it', async () => {
  const { phone, own, group, third } = await newDevice();
  own.down = true;
  expect((await phone.send('dm:bob', 'hi')).status).toBe('sent'); // its sync copy waits
  own.down = false;
  own.failAfter = 1; // the copy goes (to the tablet and the third device), the next request fails
  await phone.flushOutbox();
  expect(own.failAfter).toBeUndefined();
  expect(await known(third)).toEqual({ groups: [group.id], contacts: ['bob'] });
  expect(await texts(third, 'dm:bob')).toEqual(['> hi']);
});

it('a device is told once: a flush after it was told sends nothing more to our devices', async () => {
  const { phone, own, group, third } = await newDevice();
  // The tablet, found and told while the group was created: nothing waits for it.
  let before = own.accepted;
  await phone.flushOutbox();
  expect(own.accepted).toBe(before);
  own.failAfter = 1;
  await phone.sendText('bob', 'hi');
  await phone.flushOutbox();
  expect(await known(third)).toEqual({ groups: [group.id], contacts: ['bob'] });
  before = own.accepted;
  await phone.flushOutbox();
  expect(own.accepted).toBe(before);
});
