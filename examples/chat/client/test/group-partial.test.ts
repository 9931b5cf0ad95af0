/**
 * A group send the relay takes for some members and not for the others (the network fails, or
 * the relay is briefly unable to answer, after k of n members' copies were accepted). The members
 * reached have the message; the others must get it later — each exactly once, and the members
 * reached never a second time.
 */
import { StoreError } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';
import { ChatClient, type FetchLike, type StoreOpener } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

const urlOf = (input: Parameters<FetchLike>[0]) =>
  typeof input === 'string' ? input : String((input as { url?: string }).url ?? input);

/** A request that hands at least one ciphertext for ServiceId `aci` to the relay. */
function carriesCiphertextFor(aci: string, method: string, url: string, body: unknown): boolean {
  const text = typeof body === 'string' ? body : '';
  const sending =
    (method === 'POST' && /\/v1\/(messages|sealed\/)/.test(url)) ||
    (method === 'PUT' && /\/v1\/fanout\//.test(url));
  return sending && !text.includes('"messages":[]') && (url.includes(aci) || text.includes(aci));
}

/**
 * Alice, whose relay requests carrying a ciphertext for `blocked` fail while it is set (`answer`:
 * no answer at all, or a 503); `sent` counts the ciphertext requests for each ServiceId.
 */
async function alice() {
  const net = {
    blocked: undefined as string | undefined,
    answer: 'none' as 'none' | 503,
    failCommit: false,
    sent: new Map<string, number>(),
  };
  const backend = new MemoryKvBackend();
  const commit = backend.commit.bind(backend);
  let failNext = false;
  backend.commit = async (writes) => {
    if (failNext) {
      failNext = false;
      throw new StoreError('injected: the write after the send failed');
    }
    return commit(writes);
  };
  const fetch: FetchLike = async (input, init) => {
    const url = urlOf(input);
    const method = init?.method ?? 'GET';
    const blocked = net.blocked;
    if (blocked && carriesCiphertextFor(blocked, method, url, init?.body)) {
      if (net.answer === 'none') throw new TypeError('fetch failed');
      return new Response(JSON.stringify({ error: 'unavailable' }), { status: 503 });
    }
    const answer = await globalThis.fetch(input, init);
    for (const aci of net.sent.keys())
      if (answer.ok && carriesCiphertextFor(aci, method, url, init?.body))
        net.sent.set(aci, (net.sent.get(aci) ?? 0) + 1);
    // The commit right after the last member's copy was taken fails (the operation's bookkeeping).
    if (
      net.failCommit &&
      answer.ok &&
      net.sent.size > 0 &&
      carriesCiphertextFor(lastMember, method, url, init?.body)
    ) {
      net.failCommit = false;
      failNext = true;
    }
    return answer;
  };
  let lastMember = '';
  const store: StoreOpener = (options) => KvStore.open(backend, options);
  const client = await ChatClient.register('alice', bed.opts({ store, fetch }));
  bed.clients.push(client);
  return { client, net, setLast: (aci: string) => (lastMember = aci) };
}

async function member(name: string) {
  const c = await ChatClient.register(name, bed.opts());
  bed.clients.push(c);
  await c.addContact('alice');
  await c.connect();
  return c;
}

const texts = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => !m.system).map((m) => m.text);
const notes = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => m.system).map((m) => m.text);

async function threeMembers() {
  const a = await alice();
  const bob = await member('bob');
  const carol = await member('carol');
  const dave = await member('dave');
  const group = await a.client.createGroup('g', ['bob', 'carol', 'dave']);
  const conv = `group:${group.id}` as const;
  await a.client.send(conv, 'one');
  return { ...a, bob, carol, dave, conv };
}

describe('a group send that reached only some members', () => {
  for (const answer of ['none', 503] as const) {
    it(`the members not reached get it later, once (${answer === 'none' ? 'no answer' : 'a 503'} for the 2nd of 3)`, async () => {
      const { client, net, bob, carol, dave, conv } = await threeMembers();
      net.blocked = carol.aci;
      net.answer = answer;
      for (const m of [bob, carol, dave]) net.sent.set(m.aci, 0);
      const two = await client.send(conv, 'two');
      expect(two.status).toBe('sent'); // bob has it
      expect(net.sent.get(bob.aci)).toBe(1);
      expect(net.sent.get(dave.aci)).toBe(0); // the send stopped at carol
      net.blocked = undefined;
      await client.flushOutbox();
      await client.send(conv, 'three');
      for (const m of [bob, carol, dave]) {
        await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', 'two', 'three']);
        expect(await notes(m, conv)).not.toContainEqual(expect.stringMatching(/could not|dropped/));
      }
      // Bob's copy of 'two' went once: only 'three' was sent to him since.
      expect(net.sent.get(bob.aci)).toBe(2);
      expect(await texts(client, conv)).toEqual(['one', 'two', 'three']);
    });
  }

  it('sendGroupText stopping part-way says which members have it and which get it with the next flush', async () => {
    const { client, net, bob, carol, dave, conv } = await threeMembers();
    const groupId = conv.slice('group:'.length);
    net.blocked = carol.aci; // bob's copy is taken, carol's gets no answer: dave is not tried
    for (const m of [bob, carol, dave]) net.sent.set(m.aci, 0);
    const two = await client.sendGroupText(groupId, 'two');
    expect(two.message.status).toBe('sent');
    expect(two.envelopes.map((e) => [e.to, e.kind])).toEqual([['bob', 'senderkey']]);
    expect(two.envelopes[0]?.body.length).toBeGreaterThan(0);
    expect(two.waiting).toEqual(['carol', 'dave']);
    expect(two.rotation).toBeUndefined(); // the key of 'one' is used again: nothing rotated or handed out
    expect(two.distributedTo).toEqual([]);
    net.blocked = undefined;
    await client.flushOutbox();
    for (const m of [bob, carol, dave]) {
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', 'two']);
      expect(net.sent.get(m.aci)).toBe(1);
    }
    // A send that reached everyone waits for nobody.
    const three = await client.sendGroupText(groupId, 'three');
    expect(three.envelopes.map((e) => e.to)).toEqual(['bob', 'carol', 'dave']);
    expect(three.waiting).toEqual([]);
  });

  it('a text sent while a member still waits for the one before waits behind it', async () => {
    const { client, net, bob, carol, dave, conv } = await threeMembers();
    net.blocked = carol.aci;
    expect((await client.send(conv, 'two')).status).toBe('sent');
    const three = await client.send(conv, 'three');
    expect(three.status).toBe('pending'); // behind 'two', which carol has not got
    net.blocked = undefined;
    await client.flushOutbox();
    for (const m of [bob, carol, dave])
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', 'two', 'three']);
  });

  it('a photo is not queued to go a second time to the members it reached', async () => {
    const { client, net, bob, carol, dave, conv } = await threeMembers();
    net.blocked = carol.aci;
    for (const m of [bob, carol, dave]) net.sent.set(m.aci, 0);
    const bytes = Uint8Array.from({ length: 2_000 }, (_, i) => (i * 13 + 5) & 0xff);
    const sent = await client.sendPhoto(conv, bytes, { contentType: 'image/png' });
    expect(sent.message.status).toBe('sent'); // bob has it
    // Said as sendGroupText says it: who has it, and who gets it with the next flush.
    expect(sent.envelopes.map((e) => [e.to, e.kind])).toEqual([['bob', 'senderkey']]);
    expect(sent.envelopes[0]?.body.length).toBeGreaterThan(0);
    expect(sent.waiting).toEqual(['carol', 'dave']);
    net.blocked = undefined;
    await client.flushOutbox();
    for (const m of [bob, carol, dave]) {
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', '[photo]']);
      expect(net.sent.get(m.aci)).toBe(1);
    }
  });

  it('a group photo that reached nobody waits in the outbox for every member, and says so', async () => {
    const { client, net, bob, carol, dave, conv } = await threeMembers();
    net.blocked = bob.aci; // the first member's copy gets no answer: nobody has it
    const bytes = Uint8Array.from({ length: 2_000 }, (_, i) => (i * 7 + 3) & 0xff);
    const queued = await client.sendPhoto(conv, bytes, { contentType: 'image/png' });
    expect(queued.message.status).toBe('pending');
    expect(queued.envelopes).toEqual([]);
    expect(queued.waiting).toEqual(['bob', 'carol', 'dave']);
    net.blocked = undefined;
    await client.flushOutbox();
    for (const m of [bob, carol, dave])
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', '[photo]']);
    // And one that reaches everyone waits for nobody.
    const all = await client.sendPhoto(conv, bytes, { contentType: 'image/png' });
    expect(all.envelopes.map((e) => e.to)).toEqual(['bob', 'carol', 'dave']);
    expect(all.waiting).toEqual([]);
  });

  it('a failure while the sender key goes out (before the message) keeps the message waiting', async () => {
    const a = await alice();
    const [bob, carol, dave] = [await member('bob'), await member('carol'), await member('dave')];
    const group = await a.client.createGroup('g', ['bob', 'carol', 'dave']);
    const conv = `group:${group.id}`;
    a.net.blocked = carol.aci; // the first text hands out the sender key: bob's goes, carol's does not
    const first = await a.client.send(conv, 'first');
    expect(first.status).toBe('pending'); // nobody has the message yet
    a.net.blocked = undefined;
    expect(await a.client.flushOutbox()).toBe(1);
    for (const m of [bob, carol, dave])
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['first']);
  });

  it('a failure after every member was reached sends nothing again', async () => {
    const { client, net, setLast, bob, carol, dave, conv } = await threeMembers();
    for (const m of [bob, carol, dave]) net.sent.set(m.aci, 0);
    setLast(dave.aci);
    net.failCommit = true;
    expect((await client.send(conv, 'two')).status).toBe('sent');
    expect(net.failCommit).toBe(false); // the injected commit failure happened
    await client.flushOutbox();
    for (const m of [bob, carol, dave]) {
      await expect.poll(() => texts(m, conv), { timeout: 10_000 }).toEqual(['one', 'two']);
      expect(net.sent.get(m.aci)).toBe(1);
    }
  });
});
