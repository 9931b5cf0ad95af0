// A multi-recipient seal near its size cap runs two key agreements for each of ~61,000 accounts. Run
// all at once they would hold ~123,000 pending agreements (and their results) in memory together and,
// on a provider that computes in JavaScript, form one stretch in which no timer, I/O callback or UI
// event runs. So the agreements go in batches of a bounded number of accounts, with event-loop turns
// between batches (core's ChainWalkYielder: at least every 4,096 accounts, sooner by the clock).
// Counted through a provider whose x25519 is asynchronous: how many run at once, and whether a
// macrotask queued before the seal ran before it finished. The bytes are checked to open for a
// recipient, so batching changed nothing in the message.
import { IdentityKeyPair, nobleProvider, overrideProvider, platformProvider } from '@e2ee-kit/core';
import {
  SealedSenderMultiRecipientMessage,
  sealMultiRecipient,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const provider = platformProvider;
const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let usmc: UnidentifiedSenderMessageContent;

beforeAll(async () => {
  const issuer = await createTestIssuer({ provider });
  [alice, bob] = (await Promise.all([1, 2].map(() => IdentityKeyPair.generate(provider)))) as [
    IdentityKeyPair,
    IdentityKeyPair,
  ];
  usmc = UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate: issuer.issue({
      senderUuid: ALICE,
      deviceId: 1,
      identityKey: alice.publicKey,
      expires: 2_000_000_000_000,
    }),
    content: new Uint8Array(40).fill(7),
  });
});

/**
 * `provider` with its x25519 counted and computed in JavaScript (noble): each call resolves as a
 * microtask, so nothing but an explicit break lets a macrotask run during the seal.
 */
function instrumented(
  agree: (priv: Uint8Array, pub: Uint8Array) => Promise<Uint8Array> = nobleProvider.x25519,
) {
  const seen = { inFlight: 0, most: 0, calls: 0 };
  const p = overrideProvider(provider, {
    x25519: async (priv: Uint8Array, pub: Uint8Array) => {
      seen.calls++;
      seen.inFlight++;
      seen.most = Math.max(seen.most, seen.inFlight);
      try {
        await Promise.resolve();
        return await agree(priv, pub);
      } finally {
        seen.inFlight--;
      }
    },
  });
  return { seen, p };
}

describe('sealMultiRecipient over many accounts', () => {
  it('runs a bounded number of key agreements at once, and the message still opens', async () => {
    const n = 1_000;
    const recipients = Array.from({ length: n }, (_, i) => ({
      serviceId: uuid(i),
      identityKey: bob.publicKey,
      devices: [{ deviceId: 1, registrationId: 1 }],
    }));
    const { seen, p } = instrumented();
    const sent = await sealMultiRecipient(usmc, alice, recipients, { provider: p });
    expect(seen.calls).toBeGreaterThanOrEqual(2 * n); // two per account (and the ephemeral key's)
    expect(seen.most).toBeLessThanOrEqual(2 * 64);
    // Each account's copy is the one a recipient opens (the last one here: the batches kept order).
    const parsed = SealedSenderMultiRecipientMessage.parse(sent);
    const last = parsed.messageForRecipient(uuid(n - 1));
    expect((await unseal(last, bob, { provider })).serialize()).toEqual(usmc.serialize());
  }, 120_000);

  it('gives the event loop a turn while it seals for 4,200 accounts', async () => {
    const n = 4_200; // past the yielder's 4,096-step floor, whatever the clock says
    const recipients = Array.from({ length: n }, (_, i) => ({
      serviceId: uuid(i),
      identityKey: bob.publicKey,
      devices: [{ deviceId: 1, registrationId: 1 }],
    }));
    // Only the scheduling is looked at here: a stand-in agreement (resolved at once, as noble's) keeps
    // 8,400 of them fast.
    const { p } = instrumented(async () => new Uint8Array(32).fill(9));
    const order: string[] = [];
    setImmediate(() => order.push('a macrotask queued before the seal'));
    await sealMultiRecipient(usmc, alice, recipients, { provider: p });
    order.push('sealed');
    expect(order).toEqual(['a macrotask queued before the seal', 'sealed']);
  }, 120_000);
});
