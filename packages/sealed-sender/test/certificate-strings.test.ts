// A sender certificate's strings (sender ServiceId, E.164) are protobuf `string` fields: libsignal
// (prost) decodes them as the exact UTF-8 of their bytes, every code point kept. U+FEFF is one of those
// code points, not a byte-order mark to drop: a certificate naming "\uFEFF" + an ACI names another
// string than the ACI, for the self-send check and for the address the app decrypts the inner message
// as (interop/test/sealed-sender-receive-decisions.test.ts checks the same against libsignal).
import { IdentityKeyPair, nobleProvider, utf8 } from '@e2ee-kit/core';
import {
  openSealedMessage,
  SenderCertificate,
  sealV1,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';

const provider = nobleProvider;
const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const BOM = '\ufeff';
const NOW = 1_800_000_000_000;

let issuer: Awaited<ReturnType<typeof createTestIssuer>>;
let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
beforeAll(async () => {
  issuer = await createTestIssuer({ provider });
  alice = await IdentityKeyPair.generate(provider);
  bob = await IdentityKeyPair.generate(provider);
});

const issue = (senderUuid: string, senderE164?: string) =>
  issuer.issue({
    senderUuid,
    ...(senderE164 === undefined ? {} : { senderE164 }),
    deviceId: 1,
    identityKey: alice.publicKey,
    expires: NOW,
  });

describe('sender certificate strings are read as written', () => {
  it('a leading U+FEFF (one or two) in the sender ServiceId and E.164 survives serialize → deserialize', () => {
    for (const [uuid, e164] of [
      [BOM + ALICE, `${BOM}+15550001111`],
      [BOM + BOM + ALICE, BOM],
    ] as const) {
      const parsed = SenderCertificate.deserialize(issue(uuid, e164).serialize());
      expect(parsed.senderUuid).toBe(uuid);
      expect(parsed.senderE164).toBe(e164);
    }
  });

  it('any well-formed string round-trips (fast-check)', () => {
    // Strings of whole code points (no lone surrogates, which UTF-8 cannot carry), BOMs mixed in.
    const text = fc
      .array(fc.oneof(fc.constant(BOM), fc.string({ unit: 'grapheme', maxLength: 4 })), { maxLength: 6 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(text, text, (uuid, e164) => {
        const parsed = SenderCertificate.deserialize(issue(uuid, e164).serialize());
        return parsed.senderUuid === uuid && parsed.senderE164 === e164;
      }),
      { numRuns: 300 },
    );
  });

  it('a created certificate reports the strings its signed bytes carry: a lone surrogate is U+FFFD there', () => {
    // UTF-8 cannot carry a lone surrogate: the bytes hold U+FFFD (as a USVString conversion gives,
    // and as libsignal's SenderCertificate.new reports it), so the created object must say so too.
    for (const [uuid, e164, wantUuid, wantE164] of [
      ['a\ud800b', 'x\udc00', 'a\ufffdb', 'x\ufffd'],
      [`${BOM}\udbff`, '\udc00\ud800', `${BOM}\ufffd`, '\ufffd\ufffd'],
      ['\ud83d\ude00', '+1', '\ud83d\ude00', '+1'], // a pair is one code point, kept
    ] as const) {
      const created = issue(uuid, e164);
      expect([created.senderUuid, created.senderE164]).toEqual([wantUuid, wantE164]);
      const parsed = SenderCertificate.deserialize(created.serialize());
      expect([parsed.senderUuid, parsed.senderE164]).toEqual([wantUuid, wantE164]);
    }
  });

  it('a certificate naming U+FEFF + this device’s ServiceId is not a self-send; the sender is that string', async () => {
    const content = UnidentifiedSenderMessageContent.create({
      type: 'whisper',
      senderCertificate: issue(BOM + BOB),
      content: utf8('inner'),
    });
    const sealed = await sealV1(content, alice, bob.publicKey, { provider });
    const opened = await openSealedMessage(sealed, bob, {
      trustRoots: issuer.trustRoot,
      now: NOW,
      local: { serviceId: BOB, deviceId: 1 },
      provider,
    });
    expect(opened.sender.serviceId).toBe(BOM + BOB);
  });
});
