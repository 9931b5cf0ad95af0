// Garbage in, for every public function: random and damaged bytes to every decoder give an E2eeError
// (never another error, a hang or a large allocation); wrong argument types and ranges give TypeError /
// RangeError; inputs over the fixed budget are refused before any work.
import { E2eeError, fromHex, IdentityKeyPair, nobleProvider } from '@e2ee-kit/core';
import {
  MAX_SEALED_MESSAGE_LENGTH,
  normalizeServiceId,
  openSealedMessage,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
  sealMultiRecipient,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { v1, v2 } from './helpers.js';

const provider = nobleProvider;
const usmc = UnidentifiedSenderMessageContent.deserialize(fromHex(v1.usmc));
const cert = usmc.senderCertificate;
let me: IdentityKeyPair;
beforeAll(async () => {
  me = await IdentityKeyPair.generate(provider);
});

const valid = {
  usmc: fromHex(v1.usmc),
  cert: cert.serialize(),
  server: cert.signer!.serialize(),
  sealedV1: fromHex(v1.sealed),
  received: fromHex(v2.received),
  sent: fromHex(v2.sent),
};

function damaged(b: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.uint8Array({ maxLength: 400 }),
    fc.nat(b.length).map((n) => b.slice(0, n)),
    fc.tuple(fc.nat(b.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
      const c = b.slice();
      c[i] = (c[i] as number) ^ x;
      return c;
    }),
  );
}

function typedOnly(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (err) {
    return E2eeError.is(err);
  }
}

async function typedOnlyAsync(f: () => Promise<unknown>): Promise<boolean> {
  try {
    await f();
    return true;
  } catch (err) {
    return E2eeError.is(err);
  }
}

describe('decoders answer garbage with typed errors', () => {
  const sync: Array<[string, Uint8Array, (b: Uint8Array) => unknown]> = [
    ['ServerCertificate.deserialize', valid.server, (b) => ServerCertificate.deserialize(b)],
    ['SenderCertificate.deserialize', valid.cert, (b) => SenderCertificate.deserialize(b)],
    [
      'UnidentifiedSenderMessageContent.deserialize',
      valid.usmc,
      (b) => UnidentifiedSenderMessageContent.deserialize(b),
    ],
    [
      'SealedSenderMultiRecipientMessage.parse',
      valid.sent,
      (b) => SealedSenderMultiRecipientMessage.parse(b),
    ],
    [
      'SealedSenderMultiRecipientMessage.forSingleRecipient',
      valid.sent,
      (b) => SealedSenderMultiRecipientMessage.forSingleRecipient(b),
    ],
  ];
  for (const [name, v, decode] of sync)
    it(name, () => {
      fc.assert(
        fc.property(damaged(v), (b) => typedOnly(() => decode(b))),
        { numRuns: 1500 },
      );
    });

  it('unseal and openSealedMessage', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(damaged(valid.sealedV1), damaged(valid.received)), async (b) => {
        const opts = { trustRoots: me.publicKey, now: 0, local: { serviceId: 'x', deviceId: 1 }, provider };
        return (
          (await typedOnlyAsync(() => unseal(b, me, { provider }))) &&
          typedOnlyAsync(() => openSealedMessage(b, me, opts))
        );
      }),
      { numRuns: 300 },
    );
  });

  it('inputs over the budget are refused before any work', async () => {
    const huge = new Uint8Array(MAX_SEALED_MESSAGE_LENGTH + 1);
    huge[0] = 0x23;
    for (const f of [
      () => SealedSenderMultiRecipientMessage.parse(huge),
      () => SenderCertificate.deserialize(huge),
      () => ServerCertificate.deserialize(huge),
      () => UnidentifiedSenderMessageContent.deserialize(huge),
    ])
      expect(f).toThrow(/larger than/);
    await expect(unseal(huge, me)).rejects.toThrow(/larger than/);
  });
});

describe('wrong argument types and ranges', () => {
  const notBytes = [undefined, null, 'bytes', 42, [1, 2, 3], {}, new ArrayBuffer(4)];
  it('decoders', async () => {
    for (const x of notBytes) {
      for (const f of [
        ServerCertificate.deserialize,
        SenderCertificate.deserialize,
        UnidentifiedSenderMessageContent.deserialize,
        SealedSenderMultiRecipientMessage.parse,
      ])
        expect(() => f(x as never)).toThrow(TypeError);
      await expect(unseal(x as never, me)).rejects.toThrow(TypeError);
    }
  });

  it('sealing, opening, creating', async () => {
    await expect(sealV1({} as never, me, me.publicKey)).rejects.toThrow(TypeError);
    await expect(sealV2(usmc, {} as never, me.publicKey)).rejects.toThrow(TypeError);
    await expect(sealV1(usmc, me, 'key' as never)).rejects.toThrow(TypeError);
    await expect(unseal(valid.sealedV1, 'me' as never)).rejects.toThrow(TypeError);
    await expect(openSealedMessage(valid.sealedV1, me, undefined as never)).rejects.toThrow(TypeError);
    const r = (devices: unknown, serviceId = '9d0652a3-dcc3-4d11-975f-74d61598733f') => [
      { serviceId, identityKey: me.publicKey, devices },
    ];
    await expect(sealMultiRecipient(usmc, me, r([]) as never)).rejects.toThrow(RangeError);
    await expect(
      sealMultiRecipient(usmc, me, r([{ deviceId: 0, registrationId: 1 }]) as never),
    ).rejects.toThrow(RangeError);
    await expect(
      sealMultiRecipient(usmc, me, r([{ deviceId: 1, registrationId: 0x4000 }]) as never),
    ).rejects.toThrow(RangeError);
    await expect(
      sealMultiRecipient(usmc, me, r([{ deviceId: 1, registrationId: 1 }], 'bob') as never),
    ).rejects.toThrow(RangeError);
    await expect(sealMultiRecipient(usmc, me, 'all' as never)).rejects.toThrow(TypeError);
    const signer = cert.signer!;
    expect(() => ServerCertificate.create(-1, me.publicKey, me.privateKey)).toThrow(RangeError);
    expect(() => ServerCertificate.create(1, me.publicKey, me.publicKey as never)).toThrow(TypeError);
    const fields = {
      senderUuid: 'a',
      deviceId: 1,
      identityKey: me.publicKey,
      expires: 1,
      signer,
      signerKey: me.privateKey,
    };
    expect(() => SenderCertificate.create({ ...fields, deviceId: 128 })).toThrow(RangeError);
    expect(() => SenderCertificate.create({ ...fields, expires: -1 })).toThrow(RangeError);
    expect(() => SenderCertificate.create({ ...fields, expires: 'soon' as never })).toThrow(TypeError);
    expect(() => SenderCertificate.create({ ...fields, senderUuid: 5 as never })).toThrow(TypeError);
    expect(() =>
      UnidentifiedSenderMessageContent.create({
        type: 'text' as never,
        senderCertificate: cert,
        content: new Uint8Array(),
      }),
    ).toThrow(TypeError);
    expect(() =>
      UnidentifiedSenderMessageContent.create({
        type: 'whisper',
        senderCertificate: cert,
        content: 'x' as never,
      }),
    ).toThrow(TypeError);
    expect(() =>
      UnidentifiedSenderMessageContent.create({
        type: 'whisper',
        senderCertificate: cert,
        content: new Uint8Array(),
        contentHint: -1,
      }),
    ).toThrow(RangeError);
    await expect(cert.validate(me.publicKey, Number.NaN)).rejects.toThrow(RangeError);
    await expect(cert.validate(['root'] as never, 0)).rejects.toThrow(TypeError);
    await expect(cert.validate(me.publicKey, 0, { revokedKeyIds: 5 as never })).rejects.toThrow(TypeError);
    expect(() => normalizeServiceId('PNI:not-a-uuid')).toThrow(RangeError);
    expect(() => SealedSenderMultiRecipientMessage.parse(valid.sent).messageForRecipient('nobody')).toThrow(
      RangeError,
    );
  });
});
