// Core's key operations with Node Buffer inputs from the shared 8 KiB pool (as `ws`, `fs` and `net`
// hand them over), against libsignal-client 0.103.0 and 0.72.1 (whose own API returns Buffers), live,
// on every provider: keys and identity key pairs load from Buffers to libsignal's bytes, XEdDSA
// signatures verify both ways, X25519 agreement equals libsignal's and HKDF equals libsignal's hkdf.
// Every Buffer handed to core is checked unchanged afterwards (the session-level Buffer run is
// libsignal-buffers.test.ts).
import {
  IdentityKeyPair,
  KemPublicKey,
  KeyPair,
  PrivateKey,
  PublicKey,
  toHex,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { afterAll, describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { libs, toLib } from '../src/libsignal.js';

const ROUNDS = 12;
const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  // An empty Buffer has its own (empty) ArrayBuffer: only non-empty ones come from the pool.
  if (
    bytes.length > 0 &&
    bytes.length < Buffer.poolSize >>> 2 &&
    buffer.buffer.byteLength !== Buffer.poolSize
  )
    throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}
afterAll(() => {
  expect(handedOut.length).toBeGreaterThan(100);
  for (const { buffer, hex } of handedOut) expect(buffer.toString('hex')).toBe(hex);
});

describe.each([libs.lib103, libs.lib72].map((l) => [l.version, l] as const))(
  'core with pooled Buffer inputs against libsignal-client %s',
  (_version, lib) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);

    it.each(allProviders.map((p) => [p.label, p.provider] as const))('%s', async (_label, provider) => {
      for (let i = 0; i < ROUNDS; i++) {
        const msg = crypto.getRandomValues(new Uint8Array(1 + i * 13));
        // libsignal signs, core verifies from Buffers (a flipped bit fails in both).
        const priv = m.PrivateKey.generate();
        const sig = new Uint8Array(priv.sign(b(msg)));
        const pub = PublicKey.deserialize(pooled(priv.getPublicKey().serialize()));
        expect(toHex(pub.serialize())).toBe(toHex(priv.getPublicKey().serialize()));
        expect(await xeddsaVerify(pub, pooled(msg), pooled(sig), provider)).toBe(true);
        const bad = sig.slice();
        bad[i % 64]! ^= 1 << (i % 8);
        expect(priv.getPublicKey().verify(b(msg), b(bad))).toBe(false);
        expect(await xeddsaVerify(pub, pooled(msg), pooled(bad), provider)).toBe(false);

        // Core signs with a key loaded from a Buffer, libsignal verifies.
        const ourPriv = PrivateKey.deserialize(pooled(m.PrivateKey.generate().serialize()));
        const ourPair = await KeyPair.fromPrivateKey(ourPriv, provider);
        const ourSig = xeddsaSign(ourPriv, pooled(msg), provider);
        expect(m.PublicKey.deserialize(b(ourPair.publicKey.serialize())).verify(b(msg), b(ourSig))).toBe(
          true,
        );

        // Agreement from Buffer-loaded keys equals libsignal's.
        const theirs = m.PrivateKey.generate();
        const shared = await ourPriv.agree(
          PublicKey.deserialize(pooled(theirs.getPublicKey().serialize())),
          provider,
        );
        expect(toHex(shared)).toBe(
          toHex(theirs.agree(m.PublicKey.deserialize(b(ourPair.publicKey.serialize())))),
        );

        // HKDF over Buffer inputs equals libsignal's hkdf.
        const ikm = crypto.getRandomValues(new Uint8Array(32));
        const info = crypto.getRandomValues(new Uint8Array(i));
        const salt = crypto.getRandomValues(new Uint8Array(16 + i));
        const theirKdf = m.hkdf(42 + i, b(ikm), b(info), b(salt));
        expect(toHex(await provider.hkdfSha256(pooled(ikm), pooled(salt), pooled(info), 42 + i))).toBe(
          toHex(theirKdf),
        );
      }
      // An identity key pair and a Kyber public key from Buffers load to libsignal's bytes.
      const identity = m.IdentityKeyPair.generate();
      const ours = IdentityKeyPair.deserialize(pooled(identity.serialize()));
      expect(toHex(ours.serialize())).toBe(toHex(identity.serialize()));
      const kem = m.KEMKeyPair.generate().getPublicKey().serialize();
      expect(toHex(KemPublicKey.deserialize(pooled(kem)).serialize())).toBe(toHex(kem));
    });
  },
);
