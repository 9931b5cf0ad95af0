// The API on its own terms (libsignal agreement is in interop/): round trips, the receive checks and
// their typed errors, certificates by reference, inputs that are Buffers or views, and redaction.
import { inspect } from 'node:util';
import {
  DecodeError,
  E2eeError,
  fromHex,
  IdentityKeyPair,
  KeyPair,
  nobleProvider,
  overrideProvider,
  PrivateKey,
  ProtoWriter,
  utf8,
  xeddsaSign,
} from '@e2ee-kit/core';
import {
  ContentHint,
  InvalidSenderCertificateError,
  KNOWN_SERVER_CERTIFICATE_IDS,
  type OpenOptions,
  openSealedMessage,
  SealedSenderMultiRecipientMessage,
  SealedSenderSelfSendError,
  SenderCertificate,
  sealMultiRecipient,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejection } from './helpers.js';

const provider = nobleProvider;
const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const NOW = 1_800_000_000_000;

let issuer: Awaited<ReturnType<typeof createTestIssuer>>;
let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let content: UnidentifiedSenderMessageContent;

beforeAll(async () => {
  issuer = await createTestIssuer({ provider });
  alice = await IdentityKeyPair.generate(provider);
  bob = await IdentityKeyPair.generate(provider);
  const cert = issuer.issue({
    senderUuid: ALICE,
    deviceId: 1,
    identityKey: alice.publicKey,
    expires: NOW + 1000,
  });
  content = UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate: cert,
    content: utf8('inner ratchet message'),
    contentHint: ContentHint.Resendable,
    groupId: new Uint8Array(32).fill(1),
  });
});

const local = { serviceId: BOB, deviceId: 1 };

describe('seal and open', () => {
  for (const [name, seal] of [
    ['v1', sealV1],
    ['v2', sealV2],
  ] as const) {
    it(`${name}: opens to the same content, sender from the certificate`, async () => {
      const sealed = await seal(content, alice, bob.publicKey, { provider });
      const opened = await openSealedMessage(sealed, bob, {
        trustRoots: issuer.trustRoot,
        now: NOW,
        local,
        provider,
      });
      expect(opened.content.serialize()).toEqual(content.serialize());
      expect(opened.content.content()).toEqual(utf8('inner ratchet message'));
      expect(opened.sender).toMatchObject({ serviceId: ALICE, deviceId: 1, e164: undefined });
      expect(opened.sender.identityKey.equals(alice.publicKey)).toBe(true);
    });

    it(`${name}: another recipient cannot open it; a forged sender is caught`, async () => {
      const sealed = await seal(content, alice, bob.publicKey, { provider });
      const eve = await IdentityKeyPair.generate(provider);
      expect((await rejection(unseal(sealed, eve, { provider }))).code).toBe(
        'SEALED_SENDER_DECRYPTION_FAILED',
      );
      // Eve seals alice's certificate with her own identity key.
      const forged = await seal(content, eve, bob.publicKey, { provider });
      expect((await rejection(unseal(forged, bob, { provider }))).code).toBe('SEALED_SENDER_SENDER_MISMATCH');
    });
  }

  it('openSealedMessage: expired, untrusted, revoked, self-send — typed, with reasons', async () => {
    const sealed = await sealV1(content, alice, bob.publicKey, { provider });
    const base = { trustRoots: issuer.trustRoot, now: NOW, local, provider };
    const expired = await rejection(openSealedMessage(sealed, bob, { ...base, now: NOW + 1001 }));
    expect(expired).toBeInstanceOf(InvalidSenderCertificateError);
    expect((expired as InvalidSenderCertificateError).reason).toBe('expired');
    const other = await KeyPair.generate(provider);
    const untrusted = await rejection(
      openSealedMessage(sealed, bob, { ...base, trustRoots: [other.publicKey] }),
    );
    expect((untrusted as InvalidSenderCertificateError).reason).toBe('untrusted-signer');
    const revoked = await rejection(openSealedMessage(sealed, bob, { ...base, revokedKeyIds: [1] }));
    expect((revoked as InvalidSenderCertificateError).reason).toBe('revoked');
    expect(E2eeError.is(revoked, 'SEALED_SENDER_INVALID_CERTIFICATE')).toBe(true);
    const self = await rejection(
      openSealedMessage(sealed, bob, { ...base, local: { serviceId: ALICE, deviceId: 1 } }),
    );
    expect(self).toBeInstanceOf(SealedSenderSelfSendError);
    // Same account, other device: not a self-send.
    await openSealedMessage(sealed, bob, { ...base, local: { serviceId: ALICE, deviceId: 2 } });
    // What was checked is what is compared: changing `local` while the call runs changes nothing.
    const mutable = { serviceId: ALICE, deviceId: 1 };
    const pending = openSealedMessage(sealed, bob, { ...base, local: mutable });
    mutable.serviceId = `PNI:${'9'.repeat(8)}-0000-4000-8000-000000000000`;
    mutable.deviceId = 3;
    expect(await rejection(pending)).toBeInstanceOf(SealedSenderSelfSendError);
  });

  it('openSealedMessage: a local device id outside 1..127 is a RangeError, refused before anything is opened', async () => {
    const sealed = await sealV1(content, alice, bob.publicKey, { provider });
    const base = { trustRoots: issuer.trustRoot, now: NOW, provider };
    let agreements = 0;
    const counting = overrideProvider(provider, {
      x25519: (priv: Uint8Array, pub: Uint8Array) => {
        agreements++;
        return provider.x25519(priv, pub);
      },
    });
    // libsignal refuses these as invalid arguments too (interop/test/sealed-sender-receive-path.test.ts).
    for (const deviceId of [0, 128, -1, 1.5, 2 ** 32 + 1]) {
      const err = await rejection(
        openSealedMessage(sealed, bob, { ...base, provider: counting, local: { serviceId: BOB, deviceId } }),
      );
      expect(err, `device ${deviceId}`).toBeInstanceOf(RangeError);
    }
    expect(agreements).toBe(0);
    const notNumber = { serviceId: BOB, deviceId: '1' as unknown as number };
    expect(await rejection(openSealedMessage(sealed, bob, { ...base, local: notNumber }))).toBeInstanceOf(
      TypeError,
    );
    for (const deviceId of [1, 127])
      await openSealedMessage(sealed, bob, { ...base, local: { serviceId: BOB, deviceId } });
  });

  it('openSealedMessage validates with the trust roots, time and revoked ids given at the call, not later values', async () => {
    // An app reusing one options object for several envelopes sets the next envelope's `now` (or
    // rotates the roots) while this call still decrypts: the certificate must be checked with what
    // this call was given.
    const sealed = await sealV1(content, alice, bob.publicKey, { provider });
    const other = await KeyPair.generate(provider);
    const cases: Array<[Partial<OpenOptions>, Partial<OpenOptions>, string]> = [
      [{ now: NOW + 1001 }, { now: NOW }, 'expired'],
      [{ trustRoots: [other.publicKey] }, { trustRoots: [issuer.trustRoot] }, 'untrusted-signer'],
      [{ revokedKeyIds: [1] }, { revokedKeyIds: [] }, 'revoked'],
    ];
    for (const [given, later, reason] of cases) {
      const options: OpenOptions = { trustRoots: issuer.trustRoot, now: NOW, local, provider, ...given };
      const pending = openSealedMessage(sealed, bob, options);
      Object.assign(options, later);
      const err = await rejection(pending);
      expect((err as InvalidSenderCertificateError).reason, reason).toBe(reason);
    }
    // The roots array itself, changed in place.
    const roots = [other.publicKey];
    const pending = openSealedMessage(sealed, bob, { trustRoots: roots, now: NOW, local, provider });
    roots[0] = issuer.trustRoot;
    expect(((await rejection(pending)) as InvalidSenderCertificateError).reason).toBe('untrusted-signer');
  });

  it('multi-recipient: every account opens its split; excluded ServiceIds are listed', async () => {
    const carol = await IdentityKeyPair.generate(provider);
    const CAROL = `PNI:${'7'.repeat(8)}-0000-4000-8000-000000000000`;
    const sent = await sealMultiRecipient(
      content,
      alice,
      [
        {
          serviceId: BOB.toUpperCase(),
          identityKey: bob.publicKey,
          devices: [
            { deviceId: 1, registrationId: 5 },
            { deviceId: 2, registrationId: 0x3fff },
          ],
        },
        { serviceId: CAROL, identityKey: carol.publicKey, devices: [{ deviceId: 127, registrationId: 1 }] },
      ],
      { excluded: ['11111111-2222-4333-8444-555555555555'], provider },
    );
    const parsed = SealedSenderMultiRecipientMessage.parse(sent);
    expect(Object.fromEntries(parsed.recipients())).toEqual({
      [BOB]: { deviceIds: [1, 2], registrationIds: [5, 0x3fff] },
      [CAROL.replace(/^PNI:/, 'PNI:')]: { deviceIds: [127], registrationIds: [1] },
    });
    expect(parsed.excludedRecipients()).toEqual(['11111111-2222-4333-8444-555555555555']);
    expect((await unseal(parsed.messageForRecipient(BOB), bob, { provider })).serialize()).toEqual(
      content.serialize(),
    );
    expect((await unseal(parsed.messageForRecipient(CAROL), carol, { provider })).serialize()).toEqual(
      content.serialize(),
    );
    expect(() => parsed.messageForRecipient(ALICE)).toThrow(RangeError);
    expect(() => SealedSenderMultiRecipientMessage.forSingleRecipient(sent)).toThrow(DecodeError);
  });

  it('the errors table: low-order ephemeral key, truncation, empty input, unknown version', async () => {
    const sealed = await sealV2(content, alice, bob.publicKey, { provider });
    const lowOrder = sealed.slice();
    lowOrder.fill(0, 49, 81); // E = 0: an all-zero agreement
    expect((await rejection(unseal(lowOrder, bob, { provider }))).code).toBe('INVALID_KEY_AGREEMENT');
    expect((await rejection(unseal(sealed.subarray(0, 80), bob, { provider }))).code).toBe('DECODE');
    expect((await rejection(unseal(new Uint8Array(0), bob, { provider }))).code).toBe('DECODE');
    const v3 = sealed.slice();
    v3[0] = 0x33;
    const err = await rejection(unseal(v3, bob, { provider }));
    expect(err.code).toBe('SEALED_SENDER_UNKNOWN_VERSION');
    expect((err as unknown as { version: number }).version).toBe(3);
  });

  it('inputs may be Buffers or views into a larger buffer; they are never written', async () => {
    const sealed = await sealV2(content, alice, bob.publicKey, { provider });
    const pool = Buffer.alloc(sealed.length + 64, 0xee);
    pool.set(sealed, 32);
    const view = pool.subarray(32, 32 + sealed.length);
    const before = Buffer.from(pool);
    const opened = await unseal(view, bob, { provider });
    expect(opened.serialize()).toEqual(content.serialize());
    expect(Buffer.compare(pool, before)).toBe(0);
    const parsed = UnidentifiedSenderMessageContent.deserialize(Buffer.from(content.serialize()));
    expect(parsed.content()).toEqual(utf8('inner ratchet message'));
  });
});

describe('certificates', () => {
  it('a certificate naming libsignal’s built-in test server certificate by id validates against its trust root', async () => {
    // libsignal's test certificate 0x7357C357: trust root = key of the all-zero private key, server key
    // = key of the all-0xFF private key (both public knowledge; used here only because they are).
    const root = await KeyPair.fromPrivateKey(PrivateKey.deserialize(new Uint8Array(32)), provider);
    const serverKey = PrivateKey.deserialize(new Uint8Array(32).fill(0xff));
    expect(KNOWN_SERVER_CERTIFICATE_IDS).toContain(0x7357c357);
    const inner = new ProtoWriter()
      .uint32(2, 3)
      .fixed64(3, BigInt(NOW))
      .bytes(4, alice.publicKey.serialize())
      .bytes(7, fromHex(ALICE.replace(/-/g, '')))
      .uint32(8, 0x7357c357)
      .finish();
    const bytes = new ProtoWriter()
      .bytes(1, inner)
      .bytes(2, xeddsaSign(serverKey, inner, provider))
      .finish();
    const cert = SenderCertificate.deserialize(bytes);
    expect(cert.signerId).toBe(0x7357c357);
    expect(cert.senderUuid).toBe(ALICE);
    expect(await cert.check(root.publicKey, NOW, { provider })).toEqual({ valid: true });
    expect(await cert.check(issuer.trustRoot, NOW, { provider })).toEqual({
      valid: false,
      reason: 'untrusted-signer',
    });
    const unknown = new ProtoWriter()
      .bytes(1, inner.slice(0, inner.length - 5))
      .bytes(2, new Uint8Array(64))
      .finish();
    // Field 8 replaced: an id not in the table.
    const w = new ProtoWriter()
      .uint32(2, 3)
      .fixed64(3, 1n)
      .bytes(4, alice.publicKey.serialize())
      .string(6, ALICE)
      .uint32(8, 99)
      .finish();
    const ref99 = SenderCertificate.deserialize(
      new ProtoWriter().bytes(1, w).bytes(2, new Uint8Array(64)).finish(),
    );
    expect(await ref99.check(root.publicKey, 0, { provider })).toEqual({
      valid: false,
      reason: 'unknown-signer',
    });
    expect(() => SenderCertificate.deserialize(unknown)).toThrow(DecodeError);
  });

  it('nothing prints a sender, a key or content', async () => {
    const cert = content.senderCertificate;
    for (const value of [cert, cert.signer!, content]) {
      const shown = `${String(value)} ${JSON.stringify(value)} ${inspect(value, { depth: 5 })}`;
      expect(shown).not.toContain(ALICE);
      expect(shown).not.toMatch(/inner ratchet/);
      expect(shown).toMatch(/^\[(SenderCertificate|ServerCertificate|UnidentifiedSenderMessageContent)\]/);
    }
    // The server's split names recipients; the issuer holds the trust root's and server's private keys.
    const sent = await sealMultiRecipient(
      content,
      alice,
      [{ serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] }],
      { provider },
    );
    const split = SealedSenderMultiRecipientMessage.parse(sent);
    const shown = `${String(split)} ${JSON.stringify(split)} ${inspect(split, { depth: 5 })}`;
    expect(shown).toBe(
      '[SealedSenderMultiRecipientMessage] "[SealedSenderMultiRecipientMessage]" [SealedSenderMultiRecipientMessage]',
    );
    const issuerShown = `${JSON.stringify(issuer)} ${inspect(issuer, { depth: 5, showHidden: true })}`;
    expect(issuerShown).not.toMatch(/Uint8Array|Buffer|\d+, \d+, \d+/); // no key bytes, in any form
    expect(issuerShown).toContain('[KeyPair]');
  });
});
