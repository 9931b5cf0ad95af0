/**
 * A group message whose sender key this device lacks is kept and its sender asked to send it again
 * (receive.ts). Without a key nothing about such a message can be checked, so a hostile relay can
 * hand the client any number of them, "from" any member of a group it joined: what is kept, and how
 * many re-send requests go out, must stay bounded — and a replay of one kept message asks nothing.
 */
import { randomBytes } from 'node:crypto';
import { SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { expect, it } from 'vitest';
import { ChatClient, type Envelope } from '../src/index.js';
import { MAX_PENDING_PER_SENDER } from '../src/receive.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

/** Bytes shaped like a sender-key message of `group` on a chain nobody has (any signature). */
function forgedGroupMessage(group: string, chainId: number): Uint8Array {
  const unsigned = SenderKeyMessage.encodeUnsigned({
    distributionId: group,
    chainId,
    iteration: 0,
    ciphertext: randomBytes(32),
  });
  const out = new Uint8Array(unsigned.length + 64);
  out.set(unsigned);
  out.set(randomBytes(64), unsigned.length);
  return out;
}

async function carolInAlicesGroup() {
  const alice = await ChatClient.register('alice', bed.opts({ receipts: false }));
  const carol = await ChatClient.register('carol', bed.opts({ receipts: false }));
  bed.clients.push(alice, carol);
  await carol.addContact('alice');
  const group = await alice.createGroup('g', ['carol']);
  await carol.syncOnce();
  await alice.syncOnce();
  return { alice, carol, group };
}

/** How many envelopes Carol's device queued for Alice's (the re-send requests). */
const queuedForAlice = (alice: ChatClient) => bed.relay.store.pending(alice.aci, 1, 0, 10_000).length;

it('a flood of key-less group messages keeps at most MAX_PENDING_PER_SENDER and asks as often', async () => {
  const { alice, carol, group } = await carolInAlicesGroup();
  const flood = MAX_PENDING_PER_SENDER + 20;
  for (let i = 0; i < flood; i++) {
    const env: Envelope = {
      id: 1000 + i,
      from: alice.aci,
      fromDevice: 1,
      kind: 'senderkey',
      body: forgedGroupMessage(group.id, 0x10000 + i),
      serverTimestamp: Date.now(),
    };
    await carol.receive(env); // resolves: acknowledged, never retried for ever
  }
  expect(queuedForAlice(alice)).toBe(MAX_PENDING_PER_SENDER);
  const kept = await carol.store.transaction((tx) => tx.app.get(`index:pending:${group.id}:alice`));
  expect(JSON.parse(new TextDecoder().decode(kept)).length).toBe(MAX_PENDING_PER_SENDER);
  // Alice's real messages still reach Carol (her key is unaffected).
  await alice.sendGroupText(group.id, 'still here');
  await carol.syncOnce();
  expect((await carol.messages(`group:${group.id}`)).some((m) => m.text === 'still here')).toBe(true);
});

it('a replayed key-less group message is kept once and asked for once', async () => {
  const { alice, carol, group } = await carolInAlicesGroup();
  const body = forgedGroupMessage(group.id, 0x20000);
  for (let i = 0; i < 10; i++) {
    await carol.receive({
      id: 2000 + i,
      from: alice.aci,
      fromDevice: 1,
      kind: 'senderkey',
      body,
      serverTimestamp: Date.now(),
    });
  }
  expect(queuedForAlice(alice)).toBe(1);
});
