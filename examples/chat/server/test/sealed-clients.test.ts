/**
 * Sealed sender end to end between two ChatClients over a real relay, and what a client does with
 * sealed envelopes that must not be believed: a certificate from another trust root, an expired one,
 * and a genuine certificate whose identity key is not the one the session holds for that sender.
 */
import { IdentityKeyPair, nobleProvider, PrivateKey, PublicKey } from '@e2ee-kit/core';
import {
  SenderCertificate,
  ServerCertificate,
  sealV1,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { ChatClient } from '../../client/src/index.js';
import { memoryStore } from '../../client/src/memory-store.js';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call } from './helpers.js';

let relay: Relay;
beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  await relay.close();
});

const texts = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => m.text);
const notes = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => m.system).map((m) => m.text);

/** The relay's own signing key and server certificate (read from its database, as an insider could). */
async function relaySigner() {
  const row = relay.store.db
    .prepare('SELECT server_private, server_certificate FROM sealed_sender_ca')
    .get() as {
    server_private: Uint8Array;
    server_certificate: Uint8Array;
  };
  return {
    key: PrivateKey.deserialize(new Uint8Array(row.server_private)),
    certificate: ServerCertificate.deserialize(new Uint8Array(row.server_certificate)),
  };
}

async function pair() {
  // Receipts off: the test counts each text's send (a receipt would be one more sealed send).
  const alice = await ChatClient.register('alice', {
    serverUrl: relay.url,
    store: memoryStore(),
    receipts: false,
  });
  const bob = await ChatClient.register('bob', {
    serverUrl: relay.url,
    store: memoryStore(),
    receipts: false,
  });
  // First contact goes identified (carrying Alice's profile key); Bob's reply is sealed.
  await alice.sendText('bob', 'hello bob');
  await bob.syncOnce();
  await bob.sendText('alice', 'hello alice');
  await alice.syncOnce();
  await alice.sendText('bob', 'sealed now');
  await bob.syncOnce();
  return { alice, bob, aliceIdentity: await alice.store.protocol.getIdentityKeyPair() };
}

/** Posts a sealed envelope to Bob under his real access key (read from the relay's database). */
async function postSealed(bobAci: string, cert: SenderCertificate, sealer: IdentityKeyPair) {
  const bobKey = relay.store.db.prepare('SELECT identity_key FROM devices WHERE aci = ?').get(bobAci) as {
    identity_key: Uint8Array;
  };
  const ak = relay.store.db.prepare('SELECT access_key FROM access_keys WHERE aci = ?').get(bobAci) as {
    access_key: Uint8Array;
  };
  const content = UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate: cert,
    content: new TextEncoder().encode('not a ratchet message'),
  });
  const body = await sealV1(content, sealer, PublicKey.deserialize(new Uint8Array(bobKey.identity_key)));
  const r = await call(relay.url, 'POST', `/v1/sealed/${bobAci}`, {
    json: { messages: [{ deviceId: 1, body: b64(body) }] },
    headers: { 'unidentified-access-key': b64(new Uint8Array(ak.access_key)) },
  });
  expect(r.status).toBe(200);
}

it('sends 1:1 messages sealed once the access key is known, and the receiver names the certified sender', async () => {
  const { alice, bob } = await pair();
  expect(alice.sealed.stats).toEqual({ sealed: 1, unsealed: 1 });
  expect(bob.sealed.stats).toEqual({ sealed: 1, unsealed: 0 });
  expect(await texts(bob, 'dm:alice')).toEqual(['hello bob', 'hello alice', 'sealed now']);
  expect(await texts(alice, 'dm:bob')).toEqual(['hello bob', 'hello alice', 'sealed now']);
  const kinds = relay.store.db.prepare('SELECT count(*) AS n FROM envelopes').get() as { n: number };
  expect(kinds.n).toBe(0); // all acknowledged
});

it('drops sealed envelopes whose certificate is from another root, expired, or names another identity key', async () => {
  const { alice, bob, aliceIdentity } = await pair();
  const signer = await relaySigner();
  const certify = (identityKey: PublicKey, expires: number) =>
    SenderCertificate.create({
      senderUuid: alice.aci,
      deviceId: 1,
      identityKey,
      expires,
      signer: signer.certificate,
      signerKey: signer.key,
    });
  // 1. A certificate from a trust root Bob did not pin.
  const other = await createTestIssuer();
  await postSealed(
    bob.aci,
    other.issue({ senderUuid: alice.aci, deviceId: 1, identityKey: aliceIdentity.publicKey }),
    aliceIdentity,
  );
  // 2. The relay's own key, but expired.
  await postSealed(bob.aci, certify(aliceIdentity.publicKey, Date.now() - 60_000), aliceIdentity);
  // 3. The relay's own key naming Alice's ServiceId with a key that is not the one Bob's session holds.
  const mallory = await IdentityKeyPair.generate(nobleProvider);
  await postSealed(bob.aci, certify(mallory.publicKey, Date.now() + 3_600_000), mallory);
  await bob.syncOnce();
  const dropped = await notes(bob, 'sealed');

  expect(dropped[2]).toBe('dropped a sealed message that failed validation (identity mismatch)');
  expect(await texts(bob, 'dm:alice')).toEqual(['hello bob', 'hello alice', 'sealed now']);
  // Nothing of the session moved: Alice's next sealed message still opens and decrypts.
  await alice.sendText('bob', 'still fine');
  await bob.syncOnce();
  expect(await texts(bob, 'dm:alice')).toEqual(['hello bob', 'hello alice', 'sealed now', 'still fine']);
});
