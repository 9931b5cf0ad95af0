import {
  createRetryRequest,
  currentRatchetKey,
  isRetryableDecryptError,
  PlaintextContent,
  planRetryResponse,
  ResendCache,
  RetryPolicy,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore } from '@e2ee-kit/ratchet/testing';

const utf8 = (text: string) => new TextEncoder().encode(text);
const alice = await createTestParty('alice', 1);
const bob = await createTestParty('bob', 1);

// Alice keeps what she sends, sealed under a 32-byte key the app keeps in the platform keystore.
const sent = await ResendCache.create({
  key: crypto.getRandomValues(new Uint8Array(32)),
  store: new InMemoryResendStore(),
});
const alicePolicy = new RetryPolicy();
const bobPolicy = new RetryPolicy();

const toBob = alice.cipher(bob);
await toBob.initiate(await bob.bundle());
await bob.cipher(alice).decrypt(await toBob.encrypt(utf8('hi Bob')));
await bob.store.removeSession(alice.address); // Bob's session is lost (wiped, restored from an old backup…)

const timestamp = Date.now(); // the envelope's timestamp
const message = await toBob.encrypt(utf8('are you there?'));
await sent.put(bob.address, timestamp, utf8('are you there?'));

// Bob: the decrypt fails → a retry receipt for the sender's device, sent unencrypted (envelope type 8).
let receipt: Uint8Array | undefined;
try {
  await bob.cipher(alice).decrypt(message);
} catch (err) {
  if (!isRetryableDecryptError(err)) throw err;
  if (bobPolicy.allowRequest(alice.address, timestamp).allowed) {
    const failed = { type: message.type, body: message.body, timestamp, senderDeviceId: alice.deviceId };
    receipt = createRetryRequest(failed).serialize();
  } // else: show "could not decrypt" to Bob
}

// Alice: archive the session if the receipt names its current ratchet key, start over, resend.
const request = PlaintextContent.deserialize(receipt as Uint8Array).decryptionErrorMessage();
const record = await alice.store.getSession(bob.address);
const cached = await sent.get(bob.address, request.timestamp);
const plan = planRetryResponse({
  request,
  localDeviceId: alice.deviceId,
  currentRatchetKey: currentRatchetKey(record),
  hasCachedMessage: cached !== undefined,
  decision: alicePolicy.allowResponse(bob.address, request.timestamp),
});
if (plan.archiveSession && record) {
  record.archiveCurrentState();
  await alice.store.saveSession(bob.address, record);
}
if (plan.action === 'resend' && cached) {
  if (!(await toBob.hasSession())) await toBob.initiate(await bob.bundle()); // the app fetches a fresh bundle
  const again = await toBob.encrypt(cached.plaintext); // sent with the original timestamp
  console.log(new TextDecoder().decode((await bob.cipher(alice).decrypt(again)).plaintext)); // are you there?
}
