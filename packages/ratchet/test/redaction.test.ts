// Issue 11.7: every exported class of ratchet (and ratchet/testing), built for real in a live session,
// prints none of the secrets it holds — identity and pre-key private keys, Kyber secret keys, root
// and chain keys, ratchet private keys, SPQR chain keys, archived states — under util.inspect,
// console.log, String(), template literals, toString or JSON, nor through any field or getter (the
// internal `currentState` / `previousStates` getters included) — nor the resend cache's app key, the
// keys it derives from it, or a plaintext it keeps sealed.
import { hkdfSync } from 'node:crypto';
import * as ratchet from '@e2ee-kit/ratchet';
import {
  createRetryRequest,
  DecryptionErrorMessage,
  generateKyberPreKey,
  generatePreKeys,
  generateSignedPreKey,
  PlaintextContent,
  PreKeyManager,
  PreKeySignalMessage,
  PreKeyStateRecord,
  ResendCache,
  RetryPolicy,
  SessionRecord,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import * as ratchetTesting from '@e2ee-kit/ratchet/testing';
import { createTestParty, InMemoryResendStore, SimulatedNetwork } from '@e2ee-kit/ratchet/testing';
import { describeRedaction } from '../../../tools/redaction.js';

async function build() {
  const alice = await createTestParty('alice');
  const bob = await createTestParty('bob');
  const ab = alice.cipher(bob);
  const ba = bob.cipher(alice);
  const bundle = await bob.bundle();
  await ab.initiate(bundle);
  const first = await ab.encrypt(new TextEncoder().encode('hello'));
  await ba.decrypt(first);
  const reply = await ba.encrypt(new TextEncoder().encode('hi'));
  await ab.decrypt(reply);
  const third = await ab.encrypt(new TextEncoder().encode('again'));
  // A second session on top, so the record has an archived state too.
  const archived = (await alice.store.getSession(bob.address))!;
  await ab.initiate(await bob.bundle());
  await ba.decrypt(await ab.encrypt(new TextEncoder().encode('new session')));
  const record = (await alice.store.getSession(bob.address))!;
  const reloaded = SessionRecord.deserialize(record.serialize());
  const state = record.currentState!;
  const archivedState = archived.currentState!;

  const identity = await alice.store.getIdentityKeyPair();
  const [preKey] = await generatePreKeys(100, 1, { provider: alice.provider });
  const signed = await generateSignedPreKey(identity, 5, { provider: alice.provider });
  const kyber = await generateKyberPreKey(identity, 6, { provider: alice.provider });
  const network = new SimulatedNetwork<unknown>();
  network.send('alice', 'bob', first);

  // Retry receipts and the resend cache, with a plaintext kept in it.
  const resendKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
  // The cache's encryption and id keys, derived independently (node:crypto, the documented HKDF).
  const derived = new Uint8Array(
    hkdfSync('sha256', resendKey, new Uint8Array(32), 'e2ee-kit resend cache v1', 64),
  );
  const resendStore = new InMemoryResendStore();
  const resendCache = await ResendCache.create({
    key: resendKey,
    store: resendStore,
    provider: alice.provider,
  });
  const sentText = 'the plaintext kept for a resend, sealed';
  await resendCache.put(bob.address, 1_700_000_000_000, new TextEncoder().encode(sentText));
  const request = createRetryRequest({
    body: third.body,
    type: 'whisper',
    timestamp: 1_700_000_000_000,
    senderDeviceId: 1,
  });
  const policy = new RetryPolicy();
  policy.allowRequest(bob.address, 1_700_000_000_000);
  policy.allowResponse(bob.address, 1_700_000_000_000);

  const secrets: Record<string, Uint8Array> = {
    'identity private key': identity.privateKey.serialize(),
    'pre-key private key': preKey!.keyPair.privateKey.serialize(),
    'signed pre-key private key': signed.keyPair.privateKey.serialize(),
    'Kyber secret key': kyber.keyPair.secretKey.serialize().subarray(1),
    'root key': state.rootKey,
    'sender chain key': state.senderChain!.chainKey.key,
    'ratchet private key': state.senderChain!.ratchetPrivate,
    'archived root key': archivedState.rootKey,
    'archived sender chain key': archivedState.senderChain!.chainKey.key,
    'resend cache app key': resendKey,
    'resend cache encryption key': derived.slice(0, 32),
    'resend cache id key': derived.slice(32, 64),
    'resend plaintext': new TextEncoder().encode(sentText),
  };
  for (const [i, c] of state.receiverChains.entries()) secrets[`receiver chain key ${i}`] = c.chainKey.key;
  if (state.spqr) {
    secrets['SPQR send chain'] = state.spqr.sendNext;
    secrets['SPQR receive chain'] = state.spqr.recvNext;
  }
  const linkRequest = await ratchet.DeviceLinkRequest.create();
  const provision = ratchet.ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: alice.address.name });
  const deviceLists = new ratchet.InMemoryDeviceListStore();
  const objects: Record<string, object> = {
    SessionRecord: record,
    'SessionRecord.deserialize': reloaded,
    'SessionRecord (archived)': archived,
    SessionState: state,
    PreKeyBundle: bundle,
    PreKeyRecord: preKey!,
    SignedPreKeyRecord: signed,
    KyberPreKeyRecord: kyber,
    PreKeyStateRecord:
      (await alice.store.getPreKeyState()) ??
      new PreKeyStateRecord({
        nextPreKeyId: 2,
        nextSignedPreKeyId: 6,
        nextKyberPreKeyId: 7,
        currentSignedPreKeyId: 5,
        retiredSignedPreKeys: [{ id: 4, retiredAt: 1 }],
        retiredLastResortKyberPreKeys: [],
      }),
    PreKeyManager: new PreKeyManager(alice.store),
    SessionCipher: ab,
    InMemoryProtocolStore: alice.store,
    SimulatedNetwork: network,
    PreKeySignalMessage: PreKeySignalMessage.deserialize(first.body),
    SignalMessage: SignalMessage.deserialize(third.body),
    IdentityKeyPair: identity,
    KeyPair: signed.keyPair,
    PrivateKey: identity.privateKey,
    PublicKey: identity.publicKey,
    KemPublicKey: kyber.publicKey,
    KeyValueIdentityKeyStore: alice.store,
    'TestParty (plain object)': alice,
    DecryptionErrorMessage: request.decryptionErrorMessage(),
    'DecryptionErrorMessage.deserialize': DecryptionErrorMessage.deserialize(
      request.decryptionErrorMessage().serialize(),
    ),
    PlaintextContent: request,
    'PlaintextContent.deserialize': PlaintextContent.deserialize(request.serialize()),
    ResendCache: resendCache,
    InMemoryResendStore: resendStore,
    RetryPolicy: policy,
    HealingCipher: new ratchet.HealingCipher({
      store: alice.store,
      localAddress: alice.address,
      resendCache,
      policy,
      fetchBundle: async () => bob.bundle(),
      sendRetryRequest: async () => {},
      resend: async () => {},
      nullMessage: new Uint8Array(0),
    }),
    // Linked devices: the provisioning message carries the account's identity private key.
    DeviceLinkRequest: linkRequest,
    ProvisionMessage: provision,
    'ProvisionMessage.deserialize': ratchet.ProvisionMessage.deserialize(provision.serialize()),
    InMemoryDeviceListStore: deviceLists,
    DeviceFanout: new ratchet.DeviceFanout(alice.store, {
      self: { name: 'alice', deviceId: 1 },
      deviceLists,
      fetchBundles: async () => [],
    }),
    // Lock managers (re-exported from core) hold no key material; built for real.
    InProcessLockManager: new ratchet.InProcessLockManager(),
    WebLocksManager: new ratchet.WebLocksManager({
      locks: { request: (_name, _options, callback) => callback() },
    }),
  };
  if (Object.keys(secrets).length < 10) throw new Error('test setup: too few secrets found');
  return { objects, secrets };
}

describeRedaction('ratchet: secrets never print', [ratchet, ratchetTesting], build, 300);
