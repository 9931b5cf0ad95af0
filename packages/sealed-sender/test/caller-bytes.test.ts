// Every decoder and creator given the caller's bytes as a Node Buffer from the shared pool, or as a
// view at an odd offset into a larger ArrayBuffer: the result is the one a plain array gives, the
// caller's bytes are not written, and nothing keeps a view of them (the caller overwrites its buffer
// after the call, and every returned object still reads the same).
import { IdentityKeyPair, nobleProvider, utf8 } from '@e2ee-kit/core';
import {
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
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { beforeAll, describe, expect, it } from 'vitest';

const provider = nobleProvider;
const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const NOW = 1_800_000_000_000;

/** The caller's copies of `bytes`: a pooled Buffer and a view at offset 13 of a larger buffer. */
function callerCopies(bytes: Uint8Array): Array<[string, Uint8Array]> {
  const pooled = Buffer.from(bytes);
  // Small Buffers share one pool: the view starts inside a larger ArrayBuffer.
  if (bytes.length < 4096) expect(pooled.buffer.byteLength).toBeGreaterThan(pooled.length);
  const odd = new Uint8Array(new ArrayBuffer(bytes.length + 40), 13, bytes.length);
  odd.set(bytes);
  return [
    ['pooled Buffer', pooled],
    ['odd-offset view', odd],
  ];
}

/** Everything readable from a result, as comparable hex / values. */
const hex = (b: Uint8Array | undefined) => (b === undefined ? undefined : Buffer.from(b).toString('hex'));
const readServer = (c: ServerCertificate) => [
  hex(c.serialize()),
  hex(c.certificateBytes()),
  hex(c.signature()),
  hex(c.key.serialize()),
  c.keyId,
];
const readSender = (c: SenderCertificate) => [
  hex(c.serialize()),
  hex(c.certificateBytes()),
  hex(c.signature()),
  hex(c.identityKey.serialize()),
  c.senderUuid,
  c.senderE164,
  c.deviceId,
  c.expiresAt,
  c.signer && readServer(c.signer),
];
const readContent = (u: UnidentifiedSenderMessageContent) => [
  hex(u.serialize()),
  hex(u.content()),
  hex(u.groupId()),
  u.type,
  u.contentHint,
  readSender(u.senderCertificate),
];
const readSplit = (m: SealedSenderMultiRecipientMessage) => [
  m.version,
  [...m.recipients()],
  m.excludedRecipients(),
  hex(m.messageForRecipient(BOB)),
];

let issuer: Awaited<ReturnType<typeof createTestIssuer>>;
let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let content: UnidentifiedSenderMessageContent;
beforeAll(async () => {
  issuer = await createTestIssuer({ provider });
  alice = await IdentityKeyPair.generate(provider);
  bob = await IdentityKeyPair.generate(provider);
  content = UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate: issuer.issue({
      senderUuid: ALICE,
      senderE164: '+15550001111',
      deviceId: 1,
      identityKey: alice.publicKey,
      expires: NOW,
    }),
    content: utf8('inner'),
    groupId: new Uint8Array(32).fill(3),
  });
});

/** Decodes the caller's copies: same result as `bytes`, copies untouched, results kept after overwriting them. */
async function check<T>(
  bytes: Uint8Array,
  decode: (b: Uint8Array) => T | Promise<T>,
  read: (t: T) => unknown,
) {
  const want = read(await decode(bytes.slice()));
  for (const [kind, caller] of callerCopies(bytes)) {
    const before = Buffer.from(caller);
    const result = await decode(caller);
    expect(read(result), kind).toEqual(want);
    expect(Buffer.from(caller).equals(before), `${kind}: not written`).toBe(true);
    caller.fill(0xa5);
    expect(read(result), `${kind}: after the caller overwrote it`).toEqual(want);
  }
}

describe('decoders copy the caller’s bytes', () => {
  it('ServerCertificate, SenderCertificate and UnidentifiedSenderMessageContent.deserialize', async () => {
    const cert = content.senderCertificate;
    await check(cert.signer!.serialize(), ServerCertificate.deserialize, readServer);
    await check(cert.serialize(), SenderCertificate.deserialize, readSender);
    await check(content.serialize(), UnidentifiedSenderMessageContent.deserialize, readContent);
  });

  it('SealedSenderMultiRecipientMessage.parse and forSingleRecipient', async () => {
    const sent = await sealMultiRecipient(
      content,
      alice,
      [{ serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 7 }] }],
      { provider },
    );
    await check(sent, SealedSenderMultiRecipientMessage.parse, readSplit);
    await check(sent, SealedSenderMultiRecipientMessage.forSingleRecipient, hex);
  });

  it('unseal and openSealedMessage (v1 and v2)', async () => {
    for (const seal of [sealV1, sealV2]) {
      const sealed = await seal(content, alice, bob.publicKey, { provider });
      await check(sealed, (b) => unseal(b, bob, { provider }), readContent);
      const options = {
        trustRoots: issuer.trustRoot,
        now: NOW,
        local: { serviceId: BOB, deviceId: 1 },
        provider,
      };
      await check(
        sealed,
        (b) => openSealedMessage(b, bob, options),
        (o) => [readContent(o.content), o.sender.serviceId, o.sender.e164, o.sender.deviceId],
      );
    }
  });
});

describe('creators copy the caller’s bytes', () => {
  it('UnidentifiedSenderMessageContent.create: content and group id', async () => {
    const want = readContent(content);
    // Each pairing gets fresh copies (the previous pairing overwrote its own).
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 2; j++) {
        const [kind, body] = callerCopies(utf8('inner'))[i] as [string, Uint8Array];
        const groupId = (callerCopies(new Uint8Array(32).fill(3))[j] as [string, Uint8Array])[1];
        const made = UnidentifiedSenderMessageContent.create({
          type: 'whisper',
          senderCertificate: content.senderCertificate,
          content: body,
          groupId,
        });
        expect(readContent(made), kind).toEqual(want);
        body.fill(0xa5);
        groupId.fill(0xa5);
        expect(readContent(made), `${kind}: after the caller overwrote it`).toEqual(want);
        // What gets sealed is the content as created, not the caller's buffer now.
        const opened = await unseal(await sealV1(made, alice, bob.publicKey, { provider }), bob, {
          provider,
        });
        expect(readContent(opened), kind).toEqual(want);
      }
  });
});
