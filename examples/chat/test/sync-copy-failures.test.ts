/**
 * Waiting sync copies (copies of our sent messages for our own other devices, left by sends whose
 * contact took the message first) when the outbox flush that sends them fails after the relay took
 * one: the copy the relay took is never encrypted again for the devices that got it, the copies
 * after it still go, and the ratchet steps that made it stand (the next message decrypts).
 */
import { expect, it } from 'vitest';
import { ChatClient } from '../client/src/index.js';
import { deviceTestbed, texts } from './devices-harness.js';
import { ownFanoutPhone } from './own-fanout-phone.js';

const bed = deviceTestbed();
const { keep, link } = bed;

/** Alice (phone + tablet) and bob, and three texts to bob whose sync copies wait on the phone. */
async function threeWaitingCopies() {
  const { phone, own, store } = await ownFanoutPhone(bed);
  const bob = keep(await ChatClient.register('bob', bed.opts()));
  const tablet = await link(phone);
  await phone.sendText('bob', 'hi'); // the phone learns of its tablet
  await tablet.syncOnce();
  own.down = true;
  for (const t of ['a', 'b', 'c']) expect((await phone.send('dm:bob', t)).status).toBe('sent');
  own.down = false;
  await bob.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< a', '< b', '< c']);
  expect(bed.relay.store.pending(phone.aci, 2)).toEqual([]);
  return { phone, bob, tablet, own, store };
}

const queued = (aci: string, deviceId: number) => bed.relay.store.pending(aci, deviceId).length;

it('the flush fails (a 503 for its next request) after the relay took copy 2 of 3: copy 2 is not sent again, copy 3 still goes', async () => {
  const { phone, bob, tablet, own } = await threeWaitingCopies();
  // Copy 1 goes; copy 2's send gets a 503 (nothing taken): kept for the next flush.
  own.failAfter = 1;
  await phone.flushOutbox();
  expect(queued(phone.aci, 2)).toBe(1);
  // A third device the phone has not sent to: copy 2's fan-out learns of it (409) and reaches both
  // devices; the phone then tells its new device our contacts, and that request fails (503).
  const third = await link(phone);
  const before = { tablet: queued(phone.aci, 2), third: queued(phone.aci, 3) };
  own.failAfter = 1;
  await phone.flushOutbox();
  expect(own.failAfter).toBeUndefined(); // the injected failure happened
  await phone.flushOutbox();
  // Each device got each copy once: the tablet copies 2 and 3, the third device copies 2 and 3;
  // and each the contact list the failed request was to carry (the third device was still to be
  // told it: own-device-news.ts), once.
  expect(queued(phone.aci, 2) - before.tablet).toBe(3);
  expect(queued(phone.aci, 3) - before.third).toBe(3);
  expect(queued(bob.aci, 1)).toBe(0); // the contact is not sent to again

  // Nothing of what went was rolled back: the next text decrypts on every device.
  await phone.send('dm:bob', 'd');
  await tablet.syncOnce();
  await third.syncOnce();
  await bob.syncOnce();
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi', '> a', '> b', '> c', '> d']);
  expect(await texts(third, 'dm:bob')).toEqual(['> b', '> c', '> d']);
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< a', '< b', '< c', '< d']);
});

it('the store fails after the relay took copy 2 of 3: copy 2 is not sent again, copy 3 still goes', async () => {
  const { phone, bob, tablet, store } = await threeWaitingCopies();
  store.failAfter = 2;
  await phone.flushOutbox();
  expect(store.failed).toBe(1); // the injected failure happened
  await phone.flushOutbox();
  expect(queued(phone.aci, 2)).toBe(3); // copies 1, 2 and 3, once each
  expect(queued(bob.aci, 1)).toBe(0);

  await phone.send('dm:bob', 'd');
  await tablet.syncOnce();
  await bob.syncOnce();
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi', '> a', '> b', '> c', '> d']);
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< a', '< b', '< c', '< d']);
});
