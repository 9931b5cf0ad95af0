// defaultProviderWithoutAead: the ratchet's default. Its non-AEAD methods are platformProvider's (the
// Wycheproof files run through it too, see tools/providers.ts); here: its AEADs refuse with a typed
// error, and it answers like platformProvider on both sides of the Web Crypto size threshold.
import {
  type CryptoProvider,
  defaultProviderWithoutAead,
  E2eeError,
  isCryptoProvider,
  platformProvider,
  resolveProvider,
  UnsupportedError,
} from '@e2ee-kit/core';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers/wycheproof.js';

const rnd = createDeterministicRandom('provider-without-aead.test');
const lean: CryptoProvider = defaultProviderWithoutAead;
const key = rnd(32);
const nonce = rnd(12);
// Below and above platformProvider's default webCryptoMinBytes (4096): noble and Web Crypto paths.
const sizes = [0, 31, 5000];

describe('defaultProviderWithoutAead', () => {
  it('is a frozen CryptoProvider named like the default it is cut from', () => {
    expect(isCryptoProvider(lean)).toBe(true);
    expect(resolveProvider(lean)).toBe(lean);
    expect(lean.name).toBe(platformProvider.name);
    expect(Object.isFrozen(lean)).toBe(true);
    expect(lean).not.toBe(platformProvider);
  });

  it('has every method platformProvider has, except its support() report', () => {
    const methods = (p: object) =>
      Object.keys(p)
        .filter((k) => typeof (p as Record<string, unknown>)[k] === 'function')
        .sort();
    expect(methods(lean)).toEqual(methods(platformProvider).filter((m) => m !== 'support'));
  });

  it.each([
    ['aes256GcmEncrypt', 'AES-256-GCM'],
    ['aes256GcmDecrypt', 'AES-256-GCM'],
    ['chacha20Poly1305Encrypt', 'ChaCha20-Poly1305'],
    ['chacha20Poly1305Decrypt', 'ChaCha20-Poly1305'],
  ] as const)('%s rejects with UnsupportedError naming %s', async (method, algorithm) => {
    const err = await thrown(() => lean[method](key, nonce, new Uint8Array(32)));
    expect(err).toBeInstanceOf(UnsupportedError);
    expect(E2eeError.is(err, 'UNSUPPORTED')).toBe(true);
    expect((err as Error).message).toContain(algorithm);
    // The same call works on platformProvider: only the cut provider refuses.
    await expect(platformProvider.aes256GcmEncrypt(key, nonce, new Uint8Array(32))).resolves.toHaveLength(48);
  });

  it.each(sizes)('hashes, HMAC, HKDF and AES-CBC of %i bytes equal platformProvider', async (n) => {
    const data = rnd(n);
    const iv = rnd(16);
    for (const p of [lean, platformProvider]) expect(typeof p.sha512Sync).toBe('function');
    const run = async (p: CryptoProvider) => [
      await p.sha256(data),
      await p.sha512(data),
      p.sha512Sync(data, data),
      await p.hmacSha256(key, data),
      await p.hmacSha512(key, data),
      p.hmacSha256Sync!(key, data),
      await p.hkdfSha256(data, key, data, 42),
      p.hkdfSha256Sync!(data, undefined, data, 42),
      await p.aes256CbcEncrypt(key, iv, data),
      await p.aes256CbcDecrypt(key, iv, await p.aes256CbcEncrypt(key, iv, data)),
    ];
    const [a, b] = [await run(lean), await run(platformProvider)];
    expect(a.map((x) => Buffer.from(x).toString('hex'))).toEqual(
      b.map((x) => Buffer.from(x).toString('hex')),
    );
    expect(Buffer.from(a[9]!).equals(Buffer.from(data))).toBe(true);
  });

  it('X25519 and Ed25519 equal platformProvider, and a generated key pair agrees with either', async () => {
    const seed = rnd(32);
    const msg = rnd(100);
    const priv = rnd(32);
    const theirs = await platformProvider.x25519PublicKey(rnd(32));
    for (const [a, b] of [
      [await lean.x25519PublicKey(priv), await platformProvider.x25519PublicKey(priv)],
      [await lean.x25519(priv, theirs), await platformProvider.x25519(priv, theirs)],
      [await lean.ed25519PublicKey(seed), await platformProvider.ed25519PublicKey(seed)],
      [await lean.ed25519Sign(seed, msg), await platformProvider.ed25519Sign(seed, msg)],
    ]) {
      expect(Buffer.from(a!).toString('hex')).toBe(Buffer.from(b!).toString('hex'));
    }
    const sig = await lean.ed25519Sign(seed, msg);
    expect(await lean.ed25519Verify(await lean.ed25519PublicKey(seed), msg, sig)).toBe(true);
    sig[0] = (sig[0] as number) ^ 1;
    expect(await lean.ed25519Verify(await lean.ed25519PublicKey(seed), msg, sig)).toBe(false);

    // Node's Web Crypto generates X25519 keys natively (the runtime these tests run on).
    const pair = await lean.x25519GenerateKeyPair?.();
    expect(pair).toBeDefined();
    {
      if (pair === undefined) return;
      const other = rnd(32);
      const otherPub = await platformProvider.x25519PublicKey(other);
      const viaLean = await lean.x25519(pair.privateKey, otherPub);
      expect(Buffer.from(viaLean).toString('hex')).toBe(
        Buffer.from(await platformProvider.x25519(pair.privateKey, otherPub)).toString('hex'),
      );
      expect(Buffer.from(viaLean).toString('hex')).toBe(
        Buffer.from(await platformProvider.x25519(other, pair.publicKey)).toString('hex'),
      );
    }
  });
});
