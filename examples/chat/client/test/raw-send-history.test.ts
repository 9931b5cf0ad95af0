/**
 * `sendText` (the raw 1:1 send, no outbox) when recording the message fails after the relay took
 * it: the contact has the message, so this device's own history must show it too — repaired at
 * once, or, when the store keeps failing, with the next outbox flush.
 */
import { StoreError } from '@e2ee-kit/core';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';
import { ChatClient, type FetchLike, type StoreOpener } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

const carriesCiphertext = (method: string, url: string) =>
  (method === 'POST' && /\/v1\/(messages|sealed\/)/.test(url)) ||
  (method === 'PUT' && /\/v1\/fanout\//.test(url));

/** Alice, whose store fails the next `failures` commits once the relay took a ciphertext (armed). */
async function alice() {
  const trap = { armed: false, failures: 1, failing: 0, down: false, refuse: false };
  const backend = new MemoryKvBackend();
  const commit = backend.commit.bind(backend);
  backend.commit = async (writes) => {
    if (trap.failing > 0) {
      trap.failing--;
      throw new StoreError('injected: the write after the send failed');
    }
    return commit(writes);
  };
  const fetch: FetchLike = async (input, init) => {
    const url0 = typeof input === 'string' ? input : String((input as { url?: string }).url ?? input);
    if (trap.down && carriesCiphertext(init?.method ?? 'GET', url0)) throw new TypeError('fetch failed');
    if (trap.refuse && carriesCiphertext(init?.method ?? 'GET', url0))
      return new Response(JSON.stringify({ error: 'bad_request', message: 'refused' }), {
        status: 400,
        headers: { 'content-type': 'application/json' },
      });
    const answer = await globalThis.fetch(input, init);
    const url = typeof input === 'string' ? input : String((input as { url?: string }).url ?? input);
    if (trap.armed && answer.ok && carriesCiphertext(init?.method ?? 'GET', url)) {
      trap.armed = false;
      trap.failing = trap.failures;
    }
    return answer;
  };
  const store: StoreOpener = (options) => KvStore.open(backend, options);
  const client = await ChatClient.register('alice', bed.opts({ store, fetch }));
  bed.clients.push(client);
  /** Alice started again on what her store holds (the process stopped). */
  const restart = async () => {
    trap.failing = 0;
    const again = await ChatClient.open(bed.opts({ store, fetch }));
    bed.clients.push(again);
    return again;
  };
  return { client, trap, restart };
}

async function bob() {
  const c = await ChatClient.register('bob', bed.opts());
  bed.clients.push(c);
  await c.connect();
  return c;
}

const shown = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => !m.system).map((m) => `${m.text}:${m.status ?? ''}`);

describe('sendText when recording the sent message fails', () => {
  it('the message the relay took is in this device’s history, as sent', async () => {
    const { client, trap } = await alice();
    const b = await bob();
    await client.sendText('bob', 'one');
    trap.armed = true;
    const two = await client.sendText('bob', 'two');
    expect(trap.failing).toBe(0); // the injected failure happened
    expect(two.message.status).toBe('sent');
    expect(two.envelopes.map((e) => e.to)).toEqual(['bob']);
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', 'two:sent']);
    await client.sendText('bob', 'three');
    await expect
      .poll(async () => (await b.messages('dm:alice')).map((m) => m.text), { timeout: 10_000 })
      .toEqual(['one', 'two', 'three']);
  });

  it('when the repair fails too, the next outbox flush writes it (as not sent: it may not have arrived)', async () => {
    const { client, trap } = await alice();
    await bob();
    await client.sendText('bob', 'one');
    trap.failures = 2; // the operation's commit, and the repair's
    trap.armed = true;
    await expect(client.sendText('bob', 'two')).rejects.toThrow(StoreError);
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent']);
    await client.flushOutbox();
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', 'two:failed']);
    await client.flushOutbox(); // written once
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', 'two:failed']);
  });

  it('sendGroupText: the group message the relay took is in this device’s history, as sent', async () => {
    const { client, trap } = await alice();
    const b = await bob();
    await b.addContact('alice');
    const group = await client.createGroup('g', ['bob']);
    await client.sendGroupText(group.id, 'one');
    trap.armed = true;
    const two = await client.sendGroupText(group.id, 'two');
    expect(trap.failing).toBe(0); // the injected failure happened
    expect(two.message.status).toBe('sent');
    expect(two.envelopes.map((e) => e.to)).toEqual(['bob']); // every member was reached
    expect(two.waiting).toEqual([]);
    expect(await shown(client, `group:${group.id}`)).toEqual(['one:sent', 'two:sent']);
    await expect
      .poll(async () => (await b.messages(`group:${group.id}`)).filter((m) => !m.system).map((m) => m.text), {
        timeout: 10_000,
      })
      .toEqual(['one', 'two']);
  });

  it('a send that never reached the relay leaves nothing behind', async () => {
    const { client, trap } = await alice();
    await bob();
    await client.sendText('bob', 'one');
    trap.down = true;
    await expect(client.sendText('bob', 'lost')).rejects.toThrow(TypeError);
    trap.down = false;
    await client.flushOutbox();
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent']);
  });
});

/**
 * `send` (the outbox path) has its own repair after the relay took a message; when that repair
 * cannot write either (a second failure, or the process stopping before it), the message must
 * still reach this device's history with the next outbox flush, as for `sendText`.
 */
describe('send (the outbox path) when recording the sent message fails twice', () => {
  it('a text to a contact: the next outbox flush writes it (as not sent: it may not have arrived)', async () => {
    const { client, trap } = await alice();
    const b = await bob();
    await client.send('dm:bob', 'one');
    trap.failures = 2; // the operation's commit, and the repair's
    trap.armed = true;
    await expect(client.send('dm:bob', 'two')).rejects.toThrow(StoreError);
    expect(trap.failing).toBe(0); // both injected failures happened
    await client.flushOutbox();
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', 'two:failed']);
    await client.flushOutbox(); // written once, and not sent again by itself
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', 'two:failed']);
    await client.send('dm:bob', 'three');
    await expect
      .poll(async () => (await b.messages('dm:alice')).map((m) => m.text), { timeout: 10_000 })
      .toEqual(['one', 'two', 'three']);
  });

  it('a group text, the process stopping after the relay took it: in the history after the restart', async () => {
    const { client, trap, restart } = await alice();
    const b = await bob();
    await b.addContact('alice');
    const group = await client.createGroup('g', ['bob']);
    const conversation = `group:${group.id}`;
    await client.send(conversation, 'one');
    trap.failures = 1_000; // nothing is written any more: as if the process had stopped
    trap.armed = true;
    await expect(client.send(conversation, 'two')).rejects.toThrow(StoreError);
    client.disconnect();
    const again = await restart();
    await again.flushOutbox();
    expect(await shown(again, conversation)).toEqual(['one:sent', 'two:failed']);
    await again.send(conversation, 'three');
    await expect
      .poll(async () => (await b.messages(conversation)).filter((m) => !m.system).map((m) => m.text), {
        timeout: 10_000,
      })
      .toEqual(['one', 'two', 'three']);
  });

  it('sendPhoto to a contact: when only the recording failed, it resolves with what the relay took', async () => {
    const { client, trap } = await alice();
    const b = await bob();
    await client.send('dm:bob', 'one');
    trap.armed = true; // the operation's commit fails; the repair's goes through
    const photo = Uint8Array.from({ length: 64 }, (_, i) => i);
    const sent = await client.sendPhoto('dm:bob', photo, { contentType: 'image/png' });
    expect(trap.failing).toBe(0); // the injected failure happened
    expect(sent.message.status).toBe('sent');
    expect(sent.envelopes.map((e) => e.to)).toEqual(['bob']);
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', '[photo]:sent']);
    await expect
      .poll(async () => (await b.messages('dm:alice')).map((m) => m.text), { timeout: 10_000 })
      .toEqual(['one', '[photo]']);
  });

  it('sendPhoto: the photo the relay took is in the history after the next outbox flush', async () => {
    const { client, trap } = await alice();
    await bob();
    await client.send('dm:bob', 'one');
    trap.failures = 2; // the operation's commit, and the repair's
    trap.armed = true;
    const photo = Uint8Array.from({ length: 64 }, (_, i) => i);
    await expect(client.sendPhoto('dm:bob', photo, { contentType: 'image/png' })).rejects.toThrow(StoreError);
    expect(trap.failing).toBe(0); // both injected failures happened
    await client.flushOutbox();
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent', '[photo]:failed']);
  });

  it('a text the relay refused for good (nothing left) gets no history entry from the flush', async () => {
    const { client, trap } = await alice();
    await bob();
    await client.send('dm:bob', 'one');
    trap.refuse = true; // refused after the send's first commit: nothing left the device
    await expect(client.send('dm:bob', 'refused')).rejects.toThrow(/refused/);
    trap.refuse = false;
    await client.flushOutbox();
    expect(await shown(client, 'dm:bob')).toEqual(['one:sent']);
  });
});
