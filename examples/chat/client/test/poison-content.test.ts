/**
 * Content that decrypts but cannot be applied — a sender-key distribution field that is not base64
 * or not a distribution message — is the sender's fault, not a failed write of ours: the message is
 * dropped and acknowledged. Were it rolled back like our own failure, the envelope would never be
 * acknowledged, come again on every connection, and fail again (the session state rolled back with
 * it); 100 of them (the relay's delivery window) would stop every later message reaching the device.
 * Anyone who can start a session can send them.
 */
import { SessionCipher } from '@e2ee-kit/ratchet';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend } from '@e2ee-kit/store-kv/testing';
import { expect, it } from 'vitest';
import { ChatClient, type Content, encodeContent, type StoreOpener } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

/** Mallory's device encrypts any content to Alice over the session her client set up. */
async function sendRaw(mallory: ChatClient, to: ChatClient, content: Content) {
  const msg = await mallory.store.transaction((tx) =>
    new SessionCipher(
      tx.protocol,
      { name: to.aci, deviceId: 1 },
      {
        localAddress: { name: mallory.aci, deviceId: 1 },
      },
    ).encrypt(encodeContent(content)),
  );
  await mallory.api.send([{ to: to.aci, deviceId: 1, kind: msg.type, body: msg.body }]);
}

it('a distribution field that cannot be read is dropped and acknowledged, and the chat goes on', async () => {
  const alice = await ChatClient.register('alice', bed.opts({ receipts: false }));
  // Mallory's own store trusts every key (hers is the attacker's client: it checks nothing).
  const backend = new MemoryKvBackend();
  const trusting: StoreOpener = (o) => KvStore.open(backend, { ...o, policy: async () => true });
  const mallory = await ChatClient.register('mallory', bed.opts({ receipts: false, store: trusting }));
  bed.clients.push(alice, mallory);
  await alice.addContact('mallory');
  const group = await mallory.createGroup('g', ['alice']);
  await alice.syncOnce();
  expect((await alice.groups()).map((g) => g.id)).toEqual([group.id]);

  await sendRaw(mallory, alice, { t: 'skdm', group: group.id, skdm: '*** not base64 ***' });
  await sendRaw(mallory, alice, { t: 'skdm', group: group.id, skdm: 'AAAA' }); // base64, not a message
  await mallory.sendText('alice', 'after them');
  await alice.connect();
  await expect.poll(() => bed.relay.store.pending(alice.aci, 1).length).toBe(0);
  expect((await alice.messages('dm:mallory')).filter((m) => !m.system).map((m) => m.text)).toEqual([
    'after them',
  ]);
});
