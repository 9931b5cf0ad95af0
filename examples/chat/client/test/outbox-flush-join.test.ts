/**
 * Flushes of one client's outbox run one at a time: a flush asked for while another runs (the
 * relay's "ready" frame starts one, so does every queued send) waits for it, then looks again, and
 * counts what went out meanwhile. Two flushes side by side used to race for the same entries, and
 * which one reported them depended on which got to the store first.
 */
import { expect, it } from 'vitest';
import { ChatClient, type FetchLike } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

let down = false;
const bed = perTestRelay(() => {
  down = false;
});
const { clients, opts } = bed;
const flaky: FetchLike = (input, init) =>
  down ? Promise.reject(new TypeError('fetch failed')) : globalThis.fetch(input, init);

it('two flushes side by side: each reports the messages that waited when it was called', async () => {
  const alice = await ChatClient.register('alice', opts({ fetch: flaky }));
  const bob = await ChatClient.register('bob', opts());
  clients.push(alice, bob);
  await alice.send('dm:bob', 'first');
  down = true;
  expect((await alice.send('dm:bob', 'one')).status).toBe('pending');
  expect((await alice.send('dm:bob', 'two')).status).toBe('pending');
  down = false;
  const [a, b] = await Promise.all([alice.flushOutbox(), alice.flushOutbox()]);
  expect([a, b]).toEqual([2, 2]);
  await bob.syncOnce();
  expect((await bob.messages('dm:alice')).filter((m) => !m.system).map((m) => m.text)).toEqual([
    'first',
    'one',
    'two',
  ]);
});
