// What the sealers are given and what they produce: every envelope they return is one that `unseal`
// (and, for a SentMessage, the server's `parse`) accepts, and a recipient list is read once, so a
// caller changing it while the (asynchronous) seal runs cannot corrupt the message.
import { IdentityKeyPair, overrideProvider, platformProvider } from '@e2ee-kit/core';
import {
  MAX_SEALED_MESSAGE_LENGTH,
  type MultiRecipient,
  SealedSenderMultiRecipientMessage,
  sealMultiRecipient,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const provider = platformProvider;
const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const CAROL = '5a1e6f0c-8f5e-4b8e-9d3a-2b7c6d5e4f30';

let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let carol: IdentityKeyPair;
let issuer: Awaited<ReturnType<typeof createTestIssuer>>;

beforeAll(async () => {
  issuer = await createTestIssuer({ provider });
  [alice, bob, carol] = (await Promise.all([1, 2, 3].map(() => IdentityKeyPair.generate(provider)))) as [
    IdentityKeyPair,
    IdentityKeyPair,
    IdentityKeyPair,
  ];
});

/** A USMC whose serialization is exactly `length` bytes. */
function contentOfLength(length: number): UnidentifiedSenderMessageContent {
  const senderCertificate = issuer.issue({
    senderUuid: ALICE,
    deviceId: 1,
    identityKey: alice.publicKey,
    expires: 2_000_000_000_000,
  });
  const make = (n: number) =>
    UnidentifiedSenderMessageContent.create({
      type: 'whisper',
      senderCertificate,
      content: new Uint8Array(n),
    });
  // Two steps settle the content's length prefix (its varint width depends on the length).
  let body = length - 500;
  for (let i = 0; i < 2; i++) body += length - make(body).serialize().length;
  const usmc = make(body);
  expect(usmc.serialize().length).toBe(length);
  return usmc;
}

/** Byte equality of two large arrays (a deep `toEqual` over 4 MiB takes minutes). */
const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;

describe('sealers produce only what can be opened', () => {
  it('an envelope over MAX_SEALED_MESSAGE_LENGTH is refused when sealing (RangeError), not when opening', async () => {
    // The largest USMC `create` accepts: its envelope is larger than any decoder accepts.
    const tooBig = contentOfLength(MAX_SEALED_MESSAGE_LENGTH);
    const recipients = [
      { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
    ];
    await expect(sealV1(tooBig, alice, bob.publicKey, { provider })).rejects.toThrow(RangeError);
    await expect(sealV2(tooBig, alice, bob.publicKey, { provider })).rejects.toThrow(RangeError);
    await expect(sealMultiRecipient(tooBig, alice, recipients, { provider })).rejects.toThrow(RangeError);

    // 200 bytes under the limit leaves room for every envelope: each one opens.
    const fits = contentOfLength(MAX_SEALED_MESSAGE_LENGTH - 200);
    for (const seal of [sealV1, sealV2]) {
      const sealed = await seal(fits, alice, bob.publicKey, { provider });
      expect(sealed.length).toBeLessThanOrEqual(MAX_SEALED_MESSAGE_LENGTH);
      expect(same((await unseal(sealed, bob, { provider })).serialize(), fits.serialize())).toBe(true);
    }
    const sent = await sealMultiRecipient(fits, alice, recipients, { provider });
    const received = SealedSenderMultiRecipientMessage.parse(sent).messageForRecipient(BOB);
    expect(same((await unseal(received, bob, { provider })).serialize(), fits.serialize())).toBe(true);
  }, 60_000);
});

describe('sealMultiRecipient: the 4 MiB cap counts every recipient and device', () => {
  // A SentMessage is 1 + varint(entries) + Σ(ServiceId 17 + 3 per device + C ‖ AT 48) + E 32 + the
  // USMC + 16 bytes (the README's format); past MAX_SEALED_MESSAGE_LENGTH the server's parse refuses it.
  const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
  const counting = () => {
    const calls = { x25519: 0 };
    const p = overrideProvider(provider, {
      x25519: (priv: Uint8Array, pub: Uint8Array) => {
        calls.x25519++;
        return provider.x25519(priv, pub);
      },
    });
    return { calls, p };
  };

  it('recipients one past the cap: a RangeError before any key agreement', async () => {
    const usmc = contentOfLength(1000);
    const fixed = 1 + 3 + 32 + 1000 + 16; // 3: the varint of ~61,700 entries
    const n = Math.floor((MAX_SEALED_MESSAGE_LENGTH - fixed) / 68) + 1;
    expect(fixed + 68 * n).toBeGreaterThan(MAX_SEALED_MESSAGE_LENGTH);
    const recipients = Array.from({ length: n }, (_, i) => ({
      serviceId: uuid(i),
      identityKey: bob.publicKey,
      devices: [{ deviceId: 1, registrationId: 1 }],
    }));
    const { calls, p } = counting();
    await expect(sealMultiRecipient(usmc, alice, recipients, { provider: p })).rejects.toThrow(RangeError);
    expect(calls.x25519).toBe(0);
  });

  it('devices of one account filling the cap exactly: sealed and split; one device more: refused unsealed', async () => {
    const fixed = 1 + 1 + 17 + 48 + 32 + 16;
    const d = Math.floor((MAX_SEALED_MESSAGE_LENGTH - fixed - 1000) / 3);
    const usmc = contentOfLength(MAX_SEALED_MESSAGE_LENGTH - fixed - 3 * d);
    const devices = (k: number) =>
      Array.from({ length: k }, (_, i) => ({ deviceId: (i % 127) + 1, registrationId: i & 0x3fff }));
    const { calls, p } = counting();
    const over = [{ serviceId: BOB, identityKey: bob.publicKey, devices: devices(d + 1) }];
    await expect(sealMultiRecipient(usmc, alice, over, { provider: p })).rejects.toThrow(RangeError);
    expect(calls.x25519).toBe(0);
    const atCap = [{ serviceId: BOB, identityKey: bob.publicKey, devices: devices(d) }];
    const sent = await sealMultiRecipient(usmc, alice, atCap, { provider: p });
    expect(sent.length).toBe(MAX_SEALED_MESSAGE_LENGTH);
    expect(calls.x25519).toBe(3); // E = X25519(r, 9), then two per account whatever its device count
    const parsed = SealedSenderMultiRecipientMessage.parse(sent);
    expect(parsed.recipients().get(BOB)?.deviceIds.length).toBe(d);
    const opened = await unseal(parsed.messageForRecipient(BOB), bob, { provider });
    expect(same(opened.serialize(), usmc.serialize())).toBe(true);
  }, 60_000);
});

describe('UnidentifiedSenderMessageContent.create refuses content too large to send', () => {
  it('with a RangeError (a caller error, not malformed bytes): just past the limit and far past it', () => {
    const exact = contentOfLength(MAX_SEALED_MESSAGE_LENGTH); // the largest it accepts
    const senderCertificate = exact.senderCertificate;
    const largest = exact.content().length;
    const overhead = MAX_SEALED_MESSAGE_LENGTH - largest;
    for (const n of [largest + 1, MAX_SEALED_MESSAGE_LENGTH + 1, 3 * MAX_SEALED_MESSAGE_LENGTH]) {
      let err: unknown;
      try {
        UnidentifiedSenderMessageContent.create({
          type: 'whisper',
          senderCertificate,
          content: new Uint8Array(n),
        });
      } catch (e) {
        err = e;
      }
      expect(err, `content of ${n} bytes (overhead ${overhead})`).toBeInstanceOf(RangeError);
      expect((err as Error).message).toBe(
        `sealed content would be larger than ${MAX_SEALED_MESSAGE_LENGTH} bytes`,
      );
    }
  });
});

describe('sealMultiRecipient reads its arguments once', () => {
  it('recipients, devices and excluded ids changed while it runs do not reach the message', async () => {
    const usmc = contentOfLength(1000);
    const device = { deviceId: 1, registrationId: 101 };
    const devices = [device];
    const recipients: MultiRecipient[] = [{ serviceId: BOB, identityKey: bob.publicKey, devices }];
    const excluded = [CAROL];
    const pending = sealMultiRecipient(usmc, alice, recipients, { provider, excluded });
    // The caller's group state changes before the key agreements finish.
    recipients.push({ serviceId: CAROL, identityKey: carol.publicKey, devices: [device] });
    devices.push({ deviceId: 0, registrationId: 0xffff });
    device.deviceId = 0;
    device.registrationId = 0xffff;
    excluded.push(ALICE);
    const sent = await pending;

    const parsed = SealedSenderMultiRecipientMessage.parse(sent);
    expect([...parsed.recipients()]).toEqual([[BOB, { deviceIds: [1], registrationIds: [101] }]]);
    expect(parsed.excludedRecipients()).toEqual([CAROL]);
    const opened = await unseal(parsed.messageForRecipient(BOB), bob, { provider });
    expect(opened.serialize()).toEqual(usmc.serialize());
  });

  it('a ServiceId both a recipient and excluded, or excluded twice, is refused: the server’s split would refuse it', async () => {
    const usmc = contentOfLength(1000);
    const bobEntry = {
      serviceId: BOB,
      identityKey: bob.publicKey,
      devices: [{ deviceId: 1, registrationId: 1 }],
    };
    let agreements = 0;
    const counting = overrideProvider(provider, {
      x25519: (...a) => {
        agreements++;
        return provider.x25519(...a);
      },
    });
    for (const excluded of [
      [BOB],
      [CAROL, CAROL],
      [CAROL, CAROL.toUpperCase()],
      [`PNI:${CAROL}`, `PNI:${CAROL}`],
    ]) {
      await expect(
        sealMultiRecipient(usmc, alice, [bobEntry], { provider: counting, excluded }),
      ).rejects.toThrow(RangeError);
    }
    expect(agreements).toBe(0); // refused before any key agreement
    // What is still valid: a recipient listed twice (its devices are joined), the ACI and the PNI of
    // one UUID (two ServiceIds), and each is what the split accepts.
    const twice = await sealMultiRecipient(usmc, alice, [bobEntry, bobEntry], {
      provider: counting,
      excluded: [CAROL, `PNI:${CAROL}`],
    });
    expect(agreements).toBeGreaterThan(0); // the counter sees this provider's agreements
    const parsed = SealedSenderMultiRecipientMessage.parse(twice);
    expect(parsed.recipients().get(BOB)?.deviceIds).toEqual([1, 1]);
    expect(parsed.excludedRecipients()).toEqual([CAROL, `PNI:${CAROL}`]);
  });

  it('a sparse recipient or excluded list is a TypeError naming the hole, not a malformed message', async () => {
    const usmc = contentOfLength(1000);
    const bobEntry = {
      serviceId: BOB,
      identityKey: bob.publicKey,
      devices: [{ deviceId: 1, registrationId: 1 }],
    };
    const sparse: MultiRecipient[] = [];
    sparse[1] = bobEntry;
    await expect(sealMultiRecipient(usmc, alice, sparse, { provider })).rejects.toThrow(/recipients\[0\]/);
    const holes: string[] = [];
    holes[1] = CAROL;
    await expect(sealMultiRecipient(usmc, alice, [bobEntry], { provider, excluded: holes })).rejects.toThrow(
      TypeError,
    );
  });
});

describe('a ServiceId listed twice', () => {
  // The server joins a ServiceId's listings into one recipient (its devices appended) and hands every
  // device the first listing's key material: a second listing under another identity key seals for
  // devices that can never open their copy. libsignal reads each account's key from its identity
  // store, so its listings of one account always share a key.
  it('with the same identity key: its devices are joined and each opens the message', async () => {
    const usmc = contentOfLength(1000);
    const sent = await sealMultiRecipient(
      usmc,
      alice,
      [
        { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
        { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 2, registrationId: 2 }] },
      ],
      { provider },
    );
    const parsed = SealedSenderMultiRecipientMessage.parse(sent);
    expect([...parsed.recipients()]).toEqual([[BOB, { deviceIds: [1, 2], registrationIds: [1, 2] }]]);
    const opened = await unseal(parsed.messageForRecipient(BOB), bob, { provider });
    expect(opened.serialize()).toEqual(usmc.serialize());
  });

  it('with another identity key: refused before any key agreement', async () => {
    const usmc = contentOfLength(1000);
    const listings: MultiRecipient[] = [
      { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
      { serviceId: CAROL, identityKey: carol.publicKey, devices: [{ deviceId: 1, registrationId: 3 }] },
      { serviceId: BOB, identityKey: carol.publicKey, devices: [{ deviceId: 2, registrationId: 2 }] },
    ];
    let agreements = 0;
    const counting = overrideProvider(provider, {
      x25519: (priv: Uint8Array, pub: Uint8Array) => {
        agreements++;
        return provider.x25519(priv, pub);
      },
    });
    await expect(sealMultiRecipient(usmc, alice, listings, { provider: counting })).rejects.toThrow(
      /recipients\[2\].*another identity key/,
    );
    expect(agreements).toBe(0);
  });
});
