// libsignal's published fixed-key vectors (ratchet.rs at v0.72.1, keys.rs), on every provider.
import { fromHex, PrivateKey, PublicKey, toHex } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { readVectorJson } from '../../../tools/vectors.js';
import {
  deriveHandshakeKeys,
  deriveMessageKeys,
  initiatorSecret,
  messageSeed,
  nextChainKey,
  responderSecret,
} from '../src/kdf.js';

interface Vectors {
  x3dhAsBob: Record<string, string>;
  x3dhAsAlice: Record<string, string>;
  chainKeyStep: Record<string, string>;
}
const v = readVectorJson<Vectors>('libsignal/ratchet-vectors.json');
const hex = (k: string, o: Record<string, string>) => fromHex(o[k] as string);

describe.each(providersWithoutAeadUse)('libsignal KDF vectors ($label)', ({ provider }) => {
  it('X3DH as Bob: sender chain key', async () => {
    const b = v.x3dhAsBob;
    const secret = await responderSecret(
      {
        ourIdentity: PrivateKey.deserialize(hex('bobIdentityPrivateHex', b)),
        ourSignedPreKey: PrivateKey.deserialize(hex('bobSignedPreKeyPrivateHex', b)),
        theirIdentity: PublicKey.deserialize(hex('aliceIdentityPublicHex', b)),
        theirBase: PublicKey.deserialize(hex('aliceBaseKeyPublicHex', b)),
      },
      provider,
    );
    const keys = await deriveHandshakeKeys(secret, false, provider);
    expect(toHex(keys.chainKey)).toBe(b['expectedBobSenderChainKeyHex']);
    expect(keys.spqrAuthKey).toBeUndefined();
  });

  it('X3DH as Alice: receiver chain key', async () => {
    const a = v.x3dhAsAlice;
    const secret = await initiatorSecret(
      {
        ourIdentity: PrivateKey.deserialize(hex('aliceIdentityPrivateHex', a)),
        ourBase: PrivateKey.deserialize(hex('aliceBaseKeyPrivateHex', a)),
        theirIdentity: PublicKey.deserialize(hex('bobIdentityPublicHex', a)),
        theirSignedPreKey: PublicKey.deserialize(hex('bobSignedPreKeyPublicHex', a)),
      },
      provider,
    );
    const keys = await deriveHandshakeKeys(secret, false, provider);
    expect(toHex(keys.chainKey)).toBe(a['expectedAliceReceiverChainKeyHex']);
  });

  it('chain key step: message keys and next chain key (no SPQR salt)', async () => {
    const c = v.chainKeyStep;
    const ck = hex('chainKeyHex', c);
    const keys = await deriveMessageKeys(await messageSeed(ck, provider), undefined, provider);
    expect(toHex(keys.cipherKey)).toBe(c['expectedCipherKeyHex']);
    expect(toHex(keys.macKey)).toBe(c['expectedMacKeyHex']);
    expect(toHex(await nextChainKey(ck, provider))).toBe(c['expectedNextChainKeyHex']);
  });

  it('PQXDH output is prefix-stable: RK/CK equal the 64-byte expansion with the same info', async () => {
    const secret = new Uint8Array(160).fill(7);
    const pq = await deriveHandshakeKeys(secret, true, provider);
    const okm = await provider.hkdfSha256(
      secret,
      undefined,
      new TextEncoder().encode('WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024'),
      64,
    );
    expect(toHex(pq.rootKey)).toBe(toHex(okm.subarray(0, 32)));
    expect(toHex(pq.chainKey)).toBe(toHex(okm.subarray(32, 64)));
    expect(pq.spqrAuthKey?.length).toBe(32);
  });
});
