/**
 * A 1:1 send that reaches the contact but not, at first, our own other device: the relay answers
 * the sync copy's fan-out with a 503 once. What the contact got stands (the message is "sent", the
 * ratchet steps are kept); only the sync copy is sent again, so every device gets the message once.
 */
import { expect, it } from 'vitest';
import { ChatClient, type ChatClientOptions, type FetchLike } from '../client/src/index.js';
import { deviceTestbed, texts } from './devices-harness.js';

const bed = deviceTestbed();
const { keep, link } = bed;

/**
 * A relay reached through `fetch` that answers a fan-out PUT to `failing.path` with a 503 once
 * (after letting `failing.pass` of them through),
 * and is not reached at all while `failing.down`.
 */
function flakyRelay() {
  const failing: { path: string | undefined; pass: number; failed: number; down: boolean } = {
    path: undefined,
    pass: 0,
    failed: 0,
    down: false,
  };
  const fetch: FetchLike = (input, init) => {
    if (failing.down) return Promise.reject(new TypeError('fetch failed'));
    if (failing.path !== undefined && init?.method === 'PUT' && input.endsWith(failing.path)) {
      if (failing.pass-- > 0) return globalThis.fetch(input, init);
      failing.path = undefined;
      failing.failed++;
      return Promise.resolve(
        new Response(JSON.stringify({ error: 'unavailable', message: 'try again' }), {
          status: 503,
          headers: { 'content-type': 'application/json' },
        }),
      );
    }
    return globalThis.fetch(input, init);
  };
  return { failing, opts: (): ChatClientOptions => bed.opts({ fetch }) };
}

/** Alice (phone + tablet) and bob; one send first, so the phone knows its tablet. */
async function aliceWithTabletAndBob() {
  const flaky = flakyRelay();
  const alice = keep(await ChatClient.register('alice', flaky.opts()));
  const bob = keep(await ChatClient.register('bob', bed.opts()));
  const tablet = await link(alice);
  await alice.sendText('bob', 'hi');
  await bob.syncOnce();
  await tablet.syncOnce();
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi']);
  return {
    alice,
    bob,
    tablet,
    failOwnFanoutOnce: () => (flaky.failing.path = `/v1/fanout/${alice.aci}`),
    flaky,
  };
}

it('the sync copy’s fan-out fails once: the contact has the message once, the tablet gets it on the next flush, once', async () => {
  const { alice, bob, tablet, failOwnFanoutOnce, flaky } = await aliceWithTabletAndBob();
  failOwnFanoutOnce();
  const sent = await alice.send('dm:bob', 'lunch?');
  expect(flaky.failing.failed).toBe(1);
  // Bob has it: the text is sent (not an error the user would answer by writing it again).
  expect(sent.status).toBe('sent');
  expect(bed.relay.store.pending(alice.aci, 2)).toEqual([]);
  await bob.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< lunch?']);

  // The relay answers again: only the missing sync copy goes.
  await alice.flushOutbox();
  await tablet.syncOnce();
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi', '> lunch?']);
  expect(bed.relay.store.pending(bob.aci, 1)).toEqual([]);
  await alice.flushOutbox(); // nothing left: no second copy for anyone
  expect(bed.relay.store.pending(alice.aci, 2)).toEqual([]);
  expect(bed.relay.store.pending(bob.aci, 1)).toEqual([]);

  // The ratchet steps of the accepted send were kept: the next text decrypts on both devices.
  await alice.send('dm:bob', 'at noon');
  await bob.syncOnce();
  await tablet.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< lunch?', '< at noon']);
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi', '> lunch?', '> at noon']);
  expect(
    (await alice.messages('dm:bob')).filter((m) => !m.system).map((m) => `${m.text}:${m.status}`),
  ).toEqual(['hi:sent', 'lunch?:sent', 'at noon:sent']);
});

it('a text from the outbox whose sync copy fails once is sent, not failed: bob gets it once, the tablet on the next flush', async () => {
  const { alice, bob, tablet, failOwnFanoutOnce, flaky } = await aliceWithTabletAndBob();
  flaky.failing.down = true;
  expect((await alice.send('dm:bob', 'written offline')).status).toBe('pending');
  flaky.failing.down = false;
  failOwnFanoutOnce();
  expect(await alice.flushOutbox()).toBe(1);
  expect(flaky.failing.failed).toBe(1);
  expect(
    (await alice.messages('dm:bob')).filter((m) => !m.system).map((m) => `${m.text}:${m.status}`),
  ).toEqual(['hi:sent', 'written offline:sent']);
  await bob.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< written offline']);
  expect(bed.relay.store.pending(alice.aci, 2)).toEqual([]);

  await alice.flushOutbox();
  expect(bed.relay.store.pending(bob.aci, 1)).toEqual([]); // the contact is not sent to again
  await tablet.syncOnce();
  expect(await texts(tablet, 'dm:bob')).toEqual(['> hi', '> written offline']);
});

it('a device change the failed sync call applied is reported: the phone learns a new tablet from the 409, then the resend fails', async () => {
  const { alice, bob, flaky } = await aliceWithTabletAndBob();
  const second = await link(alice); // device 3, which the phone has not sent to yet
  flaky.failing.path = `/v1/fanout/${alice.aci}`;
  flaky.failing.pass = 1; // the 409 naming device 3 comes through; the resend gets the 503
  expect((await alice.send('dm:bob', 'dinner?')).status).toBe('sent');
  expect(flaky.failing.failed).toBe(1);
  expect((await alice.messages('dm:bob')).filter((m) => m.system).map((m) => m.text)).toEqual([
    'you linked a device (2)', // the first send's
    'you linked a device (3)',
  ]);
  await alice.flushOutbox();
  await second.syncOnce();
  expect(await texts(second, 'dm:bob')).toEqual(['> dinner?']);
  // Reported once: the sync copy's own send found the list as saved.
  expect((await alice.messages('dm:bob')).filter((m) => m.system)).toHaveLength(2);
  await bob.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['< hi', '< dinner?']);
});
