/**
 * What an account the victim never talked to can make the victim's client store and show. Any
 * registered account (registering costs nothing) can send undecryptable envelopes; a notice about one
 * must not open a conversation: before, each such account added a `dm:<its name>` conversation, and
 * any rejected group message — whoever sent it, for whatever group — one under `group:unknown`, a
 * group that does not exist, named in the chat list with the sender's chosen name.
 */
import { randomBytes } from 'node:crypto';
import { SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { expect, it } from 'vitest';
import { APP_KEYS } from '../src/app-data.js';
import { ChatClient, type Envelope } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();
const registered = async (name: string) => {
  const c = await ChatClient.register(name, bed.opts({ receipts: false }));
  bed.clients.push(c);
  return c;
};
let nextId = 50_000;
const forged = (from: string, kind: Envelope['kind'], body: Uint8Array): Envelope => ({
  id: nextId++,
  from,
  fromDevice: 1,
  kind,
  body,
  serverTimestamp: Date.now(),
});
const conversations = (c: ChatClient) =>
  c.store.transaction(async (tx) => {
    const raw = await tx.app.get(APP_KEYS.conversations);
    return raw ? (JSON.parse(new TextDecoder().decode(raw)) as string[]) : [];
  });
/** A sender-key message claiming `group` and `chain`, with a signature that cannot verify. */
const badlySigned = (distributionId: string, chainId: number, iteration: number) =>
  new Uint8Array([
    ...SenderKeyMessage.encodeUnsigned({ distributionId, chainId, iteration, ciphertext: randomBytes(32) }),
    ...randomBytes(64),
  ]);

it('undecryptable envelopes from accounts we never talked to open no conversation', async () => {
  const bob = await registered('bob');
  const strangers = [];
  for (const name of ['bank-support', 'bob-security', 'mallory']) strangers.push(await registered(name));
  for (const s of strangers) {
    await bob.receive(forged(s.aci, 'whisper', randomBytes(80)));
    await bob.receive(forged(s.aci, 'prekey', randomBytes(200)));
    await bob.receive(forged(s.aci, 'senderkey', randomBytes(120)));
    await bob.receive(forged(s.aci, 'senderkey', badlySigned(crypto.randomUUID(), 7, 3)));
  }
  expect(await conversations(bob)).toEqual([]);
  expect(await bob.chatPartners()).toEqual([]);
  expect(await bob.messages('group:unknown')).toEqual([]);
});

it("a rejected message of a group we are in is noted in that group's conversation, not under group:unknown", async () => {
  const alice = await registered('alice');
  const bob = await registered('bob');
  await bob.addContact('alice');
  const group = await alice.createGroup('g', ['bob']);
  await alice.sendGroupText(group.id, 'hello group');
  const real = (await bob.api.fetchQueued()).find((e) => e.kind === 'senderkey');
  if (!real) throw new Error('no group message queued for bob');
  await bob.syncOnce();
  const skm = SenderKeyMessage.deserialize(real.body);
  await bob.receive(forged(alice.aci, 'senderkey', badlySigned(group.id, skm.chainId, skm.iteration + 1)));
  const notes = (await bob.messages(`group:${group.id}`)).filter((m) => m.system).map((m) => m.text);
  expect(notes.filter((t) => t.startsWith('rejected a group message from alice'))).toHaveLength(1);
  expect(await conversations(bob)).not.toContain('group:unknown');
});
