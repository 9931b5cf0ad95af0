// libsignal's published fixed-key vectors (XEdDSA, chain-key step, X3DH as Bob and as Alice), reproduced
// with core's keys, agreement, HMAC and HKDF on every provider.
import {
  concatBytes,
  PrivateKey,
  PublicKey,
  SIGNATURE_LENGTH,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { readVectorJson } from '../../../tools/vectors.js';
import { hex, same } from './helpers/wycheproof.js';

interface RatchetVectors {
  x3dhAsBob: {
    bobIdentityPrivateHex: string;
    bobSignedPreKeyPrivateHex: string;
    aliceBaseKeyPublicHex: string;
    aliceIdentityPublicHex: string;
    expectedBobSenderChainKeyHex: string;
  };
  x3dhAsAlice: {
    aliceIdentityPrivateHex: string;
    aliceBaseKeyPrivateHex: string;
    bobIdentityPublicHex: string;
    bobSignedPreKeyPublicHex: string;
    expectedAliceReceiverChainKeyHex: string;
  };
  chainKeyStep: {
    chainKeyHex: string;
    expectedCipherKeyHex: string;
    expectedMacKeyHex: string;
    expectedNextChainKeyHex: string;
  };
  xeddsaSignature: { privateKeyHex: string; publicKeyHex: string; messageHex: string; signatureHex: string };
}

const v = readVectorJson<RatchetVectors>('libsignal/ratchet-vectors.json');
const text = (s: string) => new TextEncoder().encode(s);
const priv = (h: string) => PrivateKey.deserialize(hex(h));
const pub = (h: string) => PublicKey.deserialize(hex(h));

describe('libsignal ratchet-vectors.json', () => {
  for (const { label, provider } of allProviders) {
    describe(label, () => {
      const x = v.xeddsaSignature;
      const msg = hex(x.messageHex);
      const sig = hex(x.signatureHex);

      it('XEdDSA: the private key derives the public key and libsignal’s signature verifies', async () => {
        const key = await priv(x.privateKeyHex).publicKey(provider);
        expect(same(key.serialize(), hex(x.publicKeyHex))).toBe(true);
        expect(sig.length).toBe(SIGNATURE_LENGTH);
        expect(await xeddsaVerify(key, msg, sig, provider)).toBe(true);
        expect(await xeddsaVerify(pub(x.publicKeyHex), msg, sig, provider)).toBe(true);
      });

      it('XEdDSA: every single-bit change of signature or message is rejected', async () => {
        const key = pub(x.publicKeyHex);
        for (let bit = 0; bit < sig.length * 8; bit++) {
          const bad = sig.slice();
          bad[bit >> 3]! ^= 1 << (bit & 7);
          expect(await xeddsaVerify(key, msg, bad, provider), `signature bit ${bit}`).toBe(false);
        }
        for (let bit = 0; bit < msg.length * 8; bit += 7) {
          const bad = msg.slice();
          bad[bit >> 3]! ^= 1 << (bit & 7);
          expect(await xeddsaVerify(key, bad, sig, provider), `message bit ${bit}`).toBe(false);
        }
        expect(await xeddsaVerify(key, msg, sig.subarray(0, 63), provider)).toBe(false);
        expect(await xeddsaVerify(key, msg, concatBytes(sig, new Uint8Array(1)), provider)).toBe(false);
        const other = await PrivateKey.generate(provider).publicKey(provider);
        expect(await xeddsaVerify(other, msg, sig, provider)).toBe(false);
      });

      it('XEdDSA: our signatures with the vector key verify, differ per call (random Z) and carry the sign bit', async () => {
        const k = priv(x.privateKeyHex);
        const key = pub(x.publicKeyHex);
        const a = xeddsaSign(k, msg, provider);
        const b = xeddsaSign(k, msg, provider);
        expect(same(a, b)).toBe(false);
        expect(await xeddsaVerify(key, msg, a, provider)).toBe(true);
        expect(await xeddsaVerify(key, msg, b, provider)).toBe(true);
        // libsignal's signature and ours carry the same Edwards sign bit (it belongs to the key).
        expect(a[63]! >> 7).toBe(sig[63]! >> 7);
        // With the same Z the signature is reproducible (deterministic given the randomness).
        const z = new Uint8Array(64).fill(9);
        expect(same(xeddsaSign(k, msg, provider, z), xeddsaSign(k, msg, provider, z))).toBe(true);
      });

      it('chain-key step: HMAC seeds and HKDF "WhisperMessageKeys" give libsignal’s keys', async () => {
        const c = v.chainKeyStep;
        const ck = hex(c.chainKeyHex);
        const seed = await provider.hmacSha256(ck, Uint8Array.of(0x01));
        const keys = await provider.hkdfSha256(seed, undefined, text('WhisperMessageKeys'), 80);
        expect(same(keys.subarray(0, 32), hex(c.expectedCipherKeyHex))).toBe(true);
        expect(same(keys.subarray(32, 64), hex(c.expectedMacKeyHex))).toBe(true);
        expect(keys.subarray(64).length).toBe(16);
        expect(same(await provider.hmacSha256(ck, Uint8Array.of(0x02)), hex(c.expectedNextChainKeyHex))).toBe(
          true,
        );
        // "salt = none" and an empty salt are the same HKDF (RFC 5869 §2.2).
        const empty = await provider.hkdfSha256(seed, new Uint8Array(0), text('WhisperMessageKeys'), 80);
        expect(same(empty, keys)).toBe(true);
      });

      it('X3DH as Bob: agree() + HKDF "WhisperText" reproduce Bob’s sender chain key', async () => {
        const b = v.x3dhAsBob;
        const spk = priv(b.bobSignedPreKeyPrivateHex);
        const ik = priv(b.bobIdentityPrivateHex);
        const ekA = pub(b.aliceBaseKeyPublicHex);
        const ikA = pub(b.aliceIdentityPublicHex);
        const secret = concatBytes(
          new Uint8Array(32).fill(0xff),
          await spk.agree(ikA, provider),
          await ik.agree(ekA, provider),
          await spk.agree(ekA, provider),
        );
        const okm = await provider.hkdfSha256(secret, undefined, text('WhisperText'), 64);
        expect(same(okm.subarray(32, 64), hex(b.expectedBobSenderChainKeyHex))).toBe(true);
      });

      it('X3DH as Alice: agree() + HKDF "WhisperText" reproduce Alice’s receiver chain key', async () => {
        const a = v.x3dhAsAlice;
        const ik = priv(a.aliceIdentityPrivateHex);
        const ek = priv(a.aliceBaseKeyPrivateHex);
        const ikB = pub(a.bobIdentityPublicHex);
        const spkB = pub(a.bobSignedPreKeyPublicHex);
        const secret = concatBytes(
          new Uint8Array(32).fill(0xff),
          await ik.agree(spkB, provider),
          await ek.agree(ikB, provider),
          await ek.agree(spkB, provider),
        );
        const okm = await provider.hkdfSha256(secret, undefined, text('WhisperText'), 64);
        expect(same(okm.subarray(32, 64), hex(a.expectedAliceReceiverChainKeyHex))).toBe(true);
        // Control: leaving out the 0xFF discontinuity bytes must not reproduce it.
        const wrong = await provider.hkdfSha256(secret.subarray(32), undefined, text('WhisperText'), 64);
        expect(same(wrong.subarray(32, 64), hex(a.expectedAliceReceiverChainKeyHex))).toBe(false);
      });
    });
  }
});
