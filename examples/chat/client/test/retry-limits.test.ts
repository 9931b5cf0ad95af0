/**
 * Retry receipts' loop protection across restarts: a client that cannot decrypt a message asks its
 * sender again at most 5 times for it (Signal's limit), even when it is restarted before the relay
 * saw the envelope acknowledged each time — the crash loop in which the same envelope comes again
 * and again. The policy's counters are in an app row, committed with each receipt's operation.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { RETRY_POLICY_KEY } from '../src/healing.js';
import { ChatClient, type ChatClientOptions, type Envelope, type StoreOpener } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

const opts = (store: StoreOpener): ChatClientOptions => ({ serverUrl: relay.url, store, receipts: false });
const texts = async (c: ChatClient, conversation: string) =>
  (await c.messages(conversation)).filter((m) => !m.system).map((m) => m.text);

/** Bob and Alice talk, then Alice loses her session with Bob: his next message cannot be decrypted. */
async function undecryptable(aliceStore: StoreOpener) {
  const alice = await ChatClient.register('alice', opts(aliceStore));
  const bob = await ChatClient.register('bob', opts(memoryStore()));
  clients.push(alice, bob);
  await bob.send('dm:alice', 'hi Alice');
  await alice.syncOnce();
  await alice.send('dm:bob', 'hi Bob'); // Bob's next message is a whisper message on that session
  await bob.syncOnce();
  expect(await texts(alice, 'dm:bob')).toEqual(['hi Alice', 'hi Bob']);
  await alice.store.transaction((tx) => tx.protocol.removeSession({ name: bob.aci, deviceId: 1 }));
  await bob.send('dm:alice', 'are you there?');
  const envelopes: Envelope[] = await alice.api.fetchQueued();
  expect(envelopes).toHaveLength(1); // sealed (Bob has Alice's profile key) or not, it goes the same way
  return { alice, envelope: envelopes[0] as Envelope };
}

it('a restarted client still refuses the 6th receipt for one message', async () => {
  const aliceStore = memoryStore();
  const { alice, envelope } = await undecryptable(aliceStore);
  alice.disconnect();
  const sent: number[] = [];
  for (let restart = 1; restart <= 6; restart++) {
    // Restarted before the relay saw the acknowledgement: the same envelope again.
    const restarted = await ChatClient.open(opts(aliceStore));
    clients.push(restarted);
    await restarted.receive(envelope);
    sent.push(restarted.retries.stats.receiptsSent);
    restarted.disconnect();
  }
  expect(sent).toEqual([1, 1, 1, 1, 1, 0]);
  const last = await ChatClient.open(opts(aliceStore));
  clients.push(last);
  const notes = (await last.messages('dm:bob')).filter((m) => m.system).map((m) => m.text);
  // The same envelope each time: each notice is written once (the asks are counted in `sent`).
  expect(notes.filter((t) => t.includes('asked for it again'))).toHaveLength(1);
  expect(notes.filter((t) => t.includes('could not decrypt') && !t.includes('asked'))).toHaveLength(1);
});

it('the control: without the saved counters every restart asks again', async () => {
  const aliceStore = memoryStore();
  const { alice, envelope } = await undecryptable(aliceStore);
  alice.disconnect();
  const sent: number[] = [];
  for (let restart = 1; restart <= 6; restart++) {
    const restarted = await ChatClient.open(opts(aliceStore));
    clients.push(restarted);
    await restarted.receive(envelope);
    sent.push(restarted.retries.stats.receiptsSent);
    restarted.disconnect();
    // What a client that kept its counters in memory only would find on its next start.
    await restarted.store.transaction((tx) => tx.app.delete(RETRY_POLICY_KEY));
  }
  expect(sent).toEqual([1, 1, 1, 1, 1, 1]);
});

it('an unreadable counters row starts over instead of failing the operation', async () => {
  const aliceStore = memoryStore();
  const { alice, envelope } = await undecryptable(aliceStore);
  alice.disconnect();
  const restarted = await ChatClient.open(opts(aliceStore));
  clients.push(restarted);
  await restarted.store.transaction((tx) => tx.app.put(RETRY_POLICY_KEY, Uint8Array.of(0x52, 0x09)));
  await restarted.receive(envelope);
  expect(restarted.retries.stats.receiptsSent).toBe(1);
  const row = await restarted.store.transaction((tx) => tx.app.get(RETRY_POLICY_KEY));
  expect(row?.slice(0, 2)).toEqual(Uint8Array.of(0x52, 0x01)); // replaced by a readable one
});

it('two clients of one store (two tabs) count on one policy: 5 receipts in all, not 5 each', async () => {
  const aliceStore = memoryStore();
  const { alice, envelope } = await undecryptable(aliceStore);
  alice.disconnect();
  // Two tabs of one profile: both open the same store and stay open.
  const tabA = await ChatClient.open(opts(aliceStore));
  const tabB = await ChatClient.open(opts(aliceStore));
  clients.push(tabA, tabB);
  // The same envelope keeps coming (never acknowledged), to one tab and then the other.
  for (let i = 0; i < 6; i++) {
    await tabA.receive(envelope);
    await tabB.receive(envelope);
  }
  // Signal's limit is 5 per message; a policy kept per tab would let each tab go on counting
  // from its own copy (9 receipts with these 12 deliveries).
  expect(tabA.retries.stats.receiptsSent + tabB.retries.stats.receiptsSent).toBe(5);
  expect(tabA.retries.stats.receiptsSent).toBe(3);
  expect(tabB.retries.stats.receiptsSent).toBe(2);
});
