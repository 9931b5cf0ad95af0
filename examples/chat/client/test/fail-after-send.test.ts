/**
 * A ciphertext that left the device is never followed by a rollback of the ratchet step that made
 * it. Each test lets the relay take a message and then fails the store's next commit (the
 * operation's bookkeeping after the send). Had that rollback taken the ratchet step with it, the
 * next message would reuse the same message key and counter, and the receiver would refuse it as
 * a duplicate: so every test sends on and checks that everything arrives, once.
 */
import { StoreError } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';
import { ChatClient, type FetchLike, type StoreOpener } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

/** Requests that hand ciphertext to the relay. */
const carriesCiphertext = (method: string, url: string) =>
  (method === 'POST' && /\/v1\/(messages|sealed\/)/.test(url)) ||
  (method === 'PUT' && /\/v1\/fanout\//.test(url));

/** A client whose store fails the first commit after the relay took a ciphertext, while `armed`. */
async function faultyClient(name: string) {
  const trap = { armed: false, sprung: 0, down: false };
  let sprung = false;
  const backend = new MemoryKvBackend();
  const commit = backend.commit.bind(backend);
  backend.commit = async (writes) => {
    if (sprung) {
      sprung = false;
      trap.sprung++;
      throw new StoreError('injected: the write after the send failed');
    }
    return commit(writes);
  };
  const fetch: FetchLike = async (input, init) => {
    if (trap.down) throw new TypeError('fetch failed');
    const answer = await globalThis.fetch(input, init);
    const url = typeof input === 'string' ? input : String((input as { url?: string }).url ?? input);
    if (trap.armed && answer.ok && carriesCiphertext(init?.method ?? 'GET', url)) {
      trap.armed = false;
      sprung = true;
    }
    return answer;
  };
  const store: StoreOpener = (options) => KvStore.open(backend, options);
  const client = await ChatClient.register(name, bed.opts({ store, fetch }));
  bed.clients.push(client);
  return { client, trap };
}

async function plain(name: string) {
  const c = await ChatClient.register(name, bed.opts());
  bed.clients.push(c);
  return c;
}

const texts = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => !m.system).map((m) => m.text);
const notes = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => m.system).map((m) => m.text);

describe('a failure after the relay took a message', () => {
  it('direct send: the next text decrypts at the receiver, and the sent one is kept as sent', async () => {
    const { client: alice, trap } = await faultyClient('alice');
    const bob = await plain('bob');
    await bob.connect();
    await alice.send('dm:bob', 'one');
    trap.armed = true;
    const two = await alice.send('dm:bob', 'two');
    expect(trap.sprung).toBe(1);
    expect(two.status).toBe('sent'); // went, and recorded in a step of its own
    await alice.send('dm:bob', 'three');
    await expect.poll(() => texts(bob, 'dm:alice'), { timeout: 10_000 }).toEqual(['one', 'two', 'three']);
    expect(await notes(bob, 'dm:alice')).toEqual([]);
    expect(await texts(alice, 'dm:bob')).toEqual(['one', 'two', 'three']);
  });

  it('outbox flush: the waiting text is marked sent, not failed, and the next one decrypts', async () => {
    const { client: alice, trap } = await faultyClient('alice');
    const bob = await plain('bob');
    await bob.connect();
    await alice.send('dm:bob', 'one');
    trap.down = true;
    expect((await alice.send('dm:bob', 'waited')).status).toBe('pending');
    trap.down = false;
    trap.armed = true;
    expect(await alice.flushOutbox()).toBe(1);
    expect(trap.sprung).toBe(1);
    expect((await alice.messages('dm:bob')).find((m) => m.text === 'waited')?.status).toBe('sent');
    await alice.send('dm:bob', 'after');
    await expect.poll(() => texts(bob, 'dm:alice'), { timeout: 10_000 }).toEqual(['one', 'waited', 'after']);
    expect(await notes(bob, 'dm:alice')).toEqual([]);
  });

  it('group send: the next group text decrypts at every member', async () => {
    const { client: alice, trap } = await faultyClient('alice');
    const bob = await plain('bob');
    const carol = await plain('carol');
    for (const member of [bob, carol]) {
      await member.addContact('alice');
      await member.connect();
    }
    const group = await alice.createGroup('g', ['bob', 'carol']);
    const conv = `group:${group.id}`;
    await alice.send(conv, 'one');
    trap.armed = true;
    expect((await alice.send(conv, 'two')).status).toBe('sent');
    expect(trap.sprung).toBe(1);
    await alice.send(conv, 'three');
    for (const member of [bob, carol]) {
      await expect.poll(() => texts(member, conv), { timeout: 10_000 }).toEqual(['one', 'two', 'three']);
      expect(await notes(member, conv)).not.toContainEqual(expect.stringMatching(/could not|dropped/));
    }
  });

  it('receipts: a receipt whose bookkeeping failed is not followed by a reused key', async () => {
    const { client: bob, trap } = await faultyClient('bob');
    const alice = await plain('alice');
    await alice.connect();
    await alice.send('dm:bob', 'one');
    trap.armed = true; // the delivered receipt for 'one' trips it
    await bob.connect();
    await expect.poll(() => trap.sprung, { timeout: 10_000 }).toBe(1);
    await bob.send('dm:alice', 'answer');
    await expect.poll(() => texts(alice, 'dm:bob'), { timeout: 10_000 }).toEqual(['one', 'answer']);
    expect(await notes(alice, 'dm:bob')).toEqual([]);
  });
});
