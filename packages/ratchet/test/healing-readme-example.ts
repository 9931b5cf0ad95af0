import {
  type Address,
  type EncryptedMessage,
  HealingCipher,
  ResendCache,
  RetryPolicy,
} from '@e2ee-kit/ratchet';
import { createTestParty, InMemoryResendStore, type TestParty } from '@e2ee-kit/ratchet/testing';

const utf8 = (text: string) => new TextEncoder().encode(text);
const alice = await createTestParty('alice', 1);
const bob = await createTestParty('bob', 1);

// Stand-ins for your server: envelopes in flight, and each device's current bundle.
type Envelope = { from: Address; to: Address } & (
  | { timestamp: number; message: EncryptedMessage }
  | { receipt: Uint8Array } // unencrypted, envelope type 8
);
const inFlight: Envelope[] = [];
const devices = new Map([alice, bob].map((p) => [p.name, p]));

// One per device: the few lines of adoption.
const healerFor = async (me: TestParty) =>
  new HealingCipher({
    store: me.store,
    localAddress: me.address,
    resendCache: await ResendCache.create({
      key: crypto.getRandomValues(new Uint8Array(32)), // yours, from the platform keystore
      store: new InMemoryResendStore(), // yours, next to the sessions
    }),
    policy: new RetryPolicy(),
    fetchBundle: async (address) => (devices.get(address.name) as TestParty).bundle(), // your GET /keys
    sendRetryRequest: async (to, receipt) => void inFlight.push({ from: me.address, to, receipt }),
    resend: async (to, message, timestamp) =>
      void inFlight.push({ from: me.address, to, timestamp, message }),
  });
const healers = new Map([
  ['alice', await healerFor(alice)],
  ['bob', await healerFor(bob)],
]);

// Your receive loop: messages, and retry receipts.
async function deliverAll() {
  for (let e = inFlight.shift(); e !== undefined; e = inFlight.shift()) {
    const healer = healers.get(e.to.name) as HealingCipher;
    if ('receipt' in e) {
      const answer = await healer.onRetryRequest(e.from, e.receipt);
      if (answer.kind !== 'resent') console.log(`message ${answer.timestamp}: may not have arrived`);
      continue;
    }
    const result = await healer.decrypt(e.from, e.message, { timestamp: e.timestamp });
    if (result.kind === 'decrypted') console.log(new TextDecoder().decode(result.message.plaintext));
    if (result.kind === 'gave-up') console.log('a message from', e.from.name, 'could not be decrypted');
  }
}
const send = async (from: TestParty, to: TestParty, text: string) => {
  const timestamp = Date.now(); // the envelope's timestamp
  const message = await (healers.get(from.name) as HealingCipher).encrypt(to.address, utf8(text), timestamp);
  inFlight.push({ from: from.address, to: to.address, timestamp, message });
  await deliverAll();
};

await send(alice, bob, 'hi Bob'); // starts a session from Bob's bundle
await bob.store.removeSession(alice.address); // Bob's session is lost (wiped, an old backup, corrupted…)
await send(alice, bob, 'are you there?'); // fails at Bob → receipt → Alice starts over and resends
await send(bob, alice, 'yes!');
