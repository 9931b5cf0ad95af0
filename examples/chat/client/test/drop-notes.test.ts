/**
 * What a hostile relay can hand a client for free — envelopes that fail to decrypt or to validate —
 * is dropped with a notice in the conversation. A notice is a stored row: written for every forged
 * envelope, a relay could grow the client's store (and the chat the person reads) without bound.
 * Each notice about a dropped message is written once until the conversation's next real message.
 */
import { randomBytes } from 'node:crypto';
import { SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { expect, it } from 'vitest';
import { ChatClient, type Envelope } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

const notes = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => m.system).map((m) => m.text);

it('forged envelopes, however many, leave each drop notice once until the next real message', async () => {
  const alice = await ChatClient.register('alice', bed.opts({ receipts: false }));
  const bob = await ChatClient.register('bob', bed.opts({ receipts: false }));
  bed.clients.push(alice, bob);
  await bob.addContact('alice');
  const group = await alice.createGroup('g', ['bob']);
  await alice.sendText('bob', 'hello');
  await alice.sendGroupText(group.id, 'hello group');
  const groupBody = (await bob.api.fetchQueued()).find((e) => e.kind === 'senderkey')?.body;
  if (!groupBody) throw new Error('no group message queued for bob');
  await bob.syncOnce();
  const conversations = ['dm:alice', `group:${group.id}`, 'group:unknown', 'sealed'];
  const before = await Promise.all(conversations.map((c) => notes(bob, c)));

  // Alice's real chain, a later iteration, any signature: rejected (the signature does not verify).
  const real = SenderKeyMessage.deserialize(groupBody);
  const badlySigned = () => {
    const unsigned = SenderKeyMessage.encodeUnsigned({
      distributionId: group.id,
      chainId: real.chainId,
      iteration: real.iteration + 1,
      ciphertext: real.ciphertext(),
    });
    return new Uint8Array([...unsigned, ...randomBytes(64)]);
  };
  let id = 10_000;
  const forge = (kind: Envelope['kind'], body: Uint8Array): Envelope => ({
    id: id++,
    from: kind === 'sealed' ? '' : alice.aci,
    fromDevice: kind === 'sealed' ? 0 : 1,
    kind,
    body,
    serverTimestamp: Date.now(),
  });
  const sealedJunk = randomBytes(120); // one drop reason (random bytes could give another each time)
  const round = async () => {
    await bob.receive(forge('whisper', randomBytes(80)));
    await bob.receive(forge('sealed', sealedJunk));
    await bob.receive(forge('senderkey', badlySigned()));
  };
  await round();
  const once = await Promise.all(conversations.map((c) => notes(bob, c)));
  for (let i = 0; i < 20; i++) await round();
  expect(await Promise.all(conversations.map((c) => notes(bob, c)))).toEqual(once);
  expect(once.flat().length).toBeGreaterThan(before.flat().length);

  // A real message, then the same forgery: the notice shows again, once.
  await alice.sendText('bob', 'still me');
  await bob.syncOnce();
  for (let i = 0; i < 5; i++) await round();
  const dm = await notes(bob, 'dm:alice');
  expect(dm.length).toBe(once[0]!.length + (once[0]!.length - before[0]!.length));
});
