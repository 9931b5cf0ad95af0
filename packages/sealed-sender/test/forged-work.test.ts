// Work a forged envelope costs the recipient, counted in provider calls (no timing): a v1 envelope
// whose encrypted static key fails its MAC stops there, before the second key agreement and the
// second HKDF, as libsignal's sealed_sender_decrypt_to_usmc does; a v2 envelope whose GCM-SIV tag
// fails stops before the sender's key agreement (the authentication tag).
import { type CryptoProvider, IdentityKeyPair, nobleProvider, utf8 } from '@e2ee-kit/core';
import { sealV1, sealV2, UnidentifiedSenderMessageContent, unseal } from '@e2ee-kit/sealed-sender';
import { createTestIssuer } from '@e2ee-kit/sealed-sender/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { rejection } from './helpers.js';

/** nobleProvider, counting its x25519, hkdfSha256 and hmacSha256 calls. */
function counted(): { provider: CryptoProvider; calls: Record<string, number> } {
  const calls: Record<string, number> = { x25519: 0, hkdfSha256: 0, hmacSha256: 0 };
  const provider = Object.create(nobleProvider) as CryptoProvider;
  for (const name of Object.keys(calls) as Array<'x25519' | 'hkdfSha256' | 'hmacSha256'>) {
    const original = nobleProvider[name] as (...args: unknown[]) => unknown;
    Object.defineProperty(provider, name, {
      value: (...args: unknown[]) => {
        calls[name] = (calls[name] as number) + 1;
        return original.apply(nobleProvider, args);
      },
    });
  }
  return { provider, calls };
}

let alice: IdentityKeyPair;
let bob: IdentityKeyPair;
let content: UnidentifiedSenderMessageContent;
beforeAll(async () => {
  const issuer = await createTestIssuer({ provider: nobleProvider });
  alice = await IdentityKeyPair.generate(nobleProvider);
  bob = await IdentityKeyPair.generate(nobleProvider);
  const senderCertificate = issuer.issue({
    senderUuid: '9d0652a3-dcc3-4d11-975f-74d61598733f',
    deviceId: 1,
    identityKey: alice.publicKey,
  });
  content = UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate,
    content: utf8('hi'),
  });
});

describe('a forged envelope costs one key agreement chain', () => {
  it('v1: a bad encrypted-static MAC fails after one agreement, one HKDF, one HMAC (an intact one costs two of each)', async () => {
    const sealed = await sealV1(content, alice, bob.publicKey, { provider: nobleProvider });
    const forged = sealed.slice();
    forged[40] = (forged[40] as number) ^ 1; // inside field 2, the encrypted static key
    const { provider, calls } = counted();
    const err = await rejection(unseal(forged, bob, { provider }));
    expect(err.message).toBe('invalid sealed sender message: failed to decrypt sealed sender v1 message key');
    expect(calls).toEqual({ x25519: 1, hkdfSha256: 1, hmacSha256: 1 });
    const intact = counted();
    await unseal(sealed, bob, { provider: intact.provider });
    expect(intact.calls).toEqual({ x25519: 2, hkdfSha256: 2, hmacSha256: 2 });
  });

  it('v2: a bad GCM-SIV tag fails before the sender agreement and the authentication tag', async () => {
    const sealed = await sealV2(content, alice, bob.publicKey, { provider: nobleProvider });
    const forged = sealed.slice();
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1;
    const { provider, calls } = counted();
    expect((await rejection(unseal(forged, bob, { provider }))).code).toBe('SEALED_SENDER_DECRYPTION_FAILED');
    // DH(R, E) and E = X25519(r, 9); HKDFs for C, r and K.
    expect(calls).toEqual({ x25519: 2, hkdfSha256: 3, hmacSha256: 0 });
  });
});
