// The providers' speed paths give exactly the bytes of the plain reference computations:
// - the reusable SHA-2 / HMAC / HKDF instances (provider/sha2-reuse.ts) against @noble/hashes' one-shot
//   functions, at every block boundary and key length that changes the code path;
// - the content-keyed key caches (provider/key-cache.ts): hits for equal bytes in a new array, never a
//   wrong key (reused buffers, hash collisions), bounded;
// - native key generation (`x25519GenerateKeyPair`): libsignal's clamped keys with the right public key,
//   never used once the randomness is replaced.
import {
  type CryptoProvider,
  createPlatformProvider,
  KeyPair,
  nobleProvider,
  PrivateKey,
  PublicKey,
  platformProvider,
  toHex,
  withRandom,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createDeterministicRandom, deterministicProvider } from '@e2ee-kit/core/testing';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { montgomeryToEdwards } from '../src/keys.js';
import { ContentKeyCache, fnv1a, KEY_CACHE_CAPACITY } from '../src/provider/key-cache.js';
import { same } from './helpers/wycheproof.js';

const rnd = createDeterministicRandom('provider-fast-paths.test');

/** Lengths around the SHA-256 (64) and SHA-512 (128) block and padding boundaries. */
const LENGTHS = [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 111, 112, 119, 127, 128, 129, 191, 192, 257, 1000];

describe('reused hash instances give @noble/hashes one-shot bytes', () => {
  for (const { label, provider } of allProviders) {
    it(`SHA-256, SHA-512, sha512Sync over parts, HMAC-SHA256/512 at every boundary via ${label}`, async () => {
      for (const n of LENGTHS) {
        const data = rnd(n);
        expect(same(await provider.sha256(data), sha256(data)), `sha256 ${n}`).toBe(true);
        expect(same(await provider.sha512(data), sha512(data)), `sha512 ${n}`).toBe(true);
        const cut = n >> 1;
        const parts = [data.subarray(0, cut), new Uint8Array(0), data.subarray(cut)];
        expect(same(provider.sha512Sync(...parts), sha512(data)), `sha512Sync ${n}`).toBe(true);
        for (const k of [0, 1, 32, 63, 64, 65, 127, 128, 129, 300]) {
          const key = rnd(k);
          expect(
            same(await provider.hmacSha256(key, data), hmac(sha256, key, data)),
            `hmac256 k${k} d${n}`,
          ).toBe(true);
          expect(
            same(await provider.hmacSha512(key, data), hmac(sha512, key, data)),
            `hmac512 k${k} d${n}`,
          ).toBe(true);
        }
      }
    });

    it(`HKDF-SHA256 for every output length class, with and without salt, via ${label}`, async () => {
      // Large inputs take the node provider's createHmac composition instead of the reused instances.
      for (const [ikmLen, infoLen] of [
        [600, 10],
        [10, 600],
        [2000, 2000],
      ] as const) {
        const ikm = rnd(ikmLen);
        const info = rnd(infoLen);
        const salt = rnd(32);
        for (const s of [salt, undefined]) {
          const want = hkdf(sha256, ikm, s, info, 80);
          expect(same(await provider.hkdfSha256(ikm, s, info, 80), want), `hkdf ${ikmLen}/${infoLen}`).toBe(
            true,
          );
        }
      }
      const infos = [new Uint8Array(0), rnd(18), rnd(63), rnd(64), rnd(200)];
      const salts = [undefined, new Uint8Array(0), rnd(32), rnd(64), rnd(65)];
      for (const len of [1, 31, 32, 33, 42, 64, 80, 96, 97, 255 * 32]) {
        for (const [i, info] of infos.entries()) {
          const salt = salts[(len + i) % salts.length];
          const ikm = rnd((len * 7 + i) % 90);
          const ours = await provider.hkdfSha256(ikm, salt, info, len);
          expect(same(ours, hkdf(sha256, ikm, salt, info, len)), `hkdf len ${len} info ${info.length}`).toBe(
            true,
          );
        }
      }
    });
  }

  it('a call never sees state left by the previous one (interleaved hashes, MACs and KDFs)', async () => {
    const { provider } = allProviders[0]!;
    const key = rnd(32);
    const data = rnd(100);
    const expected = hmac(sha256, key, data);
    await provider.hkdfSha256(rnd(40), rnd(32), rnd(20), 200);
    provider.sha512Sync(rnd(500));
    expect(same(await provider.hmacSha256(key, data), expected)).toBe(true);
    await expect(provider.hmacSha256('x' as never, data)).rejects.toThrow(TypeError);
    expect(same(await provider.hmacSha256(key, data), expected)).toBe(true);
  });
});

/** Web Crypto with every call counted by method and first argument (format or algorithm name). */
function countingSubtle(): { subtle: SubtleCrypto; calls: Map<string, number> } {
  const real = globalThis.crypto.subtle;
  const calls = new Map<string, number>();
  const subtle = new Proxy(real, {
    get(target, prop) {
      const v = Reflect.get(target, prop) as unknown;
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const a = args[0];
        const what = typeof a === 'string' ? a : ((a as { name?: string })?.name ?? '?');
        const k = `${String(prop)}:${what}`;
        calls.set(k, (calls.get(k) ?? 0) + 1);
        return (v as (...x: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { subtle, calls };
}

describe('content-keyed key caches', () => {
  it('serve a value only for exactly the stored bytes, most recently used kept, bounded', () => {
    const c = new ContentKeyCache<string>(3);
    const a = rnd(32);
    c.set(a, 'a');
    expect(c.get(a.slice())).toBe('a');
    const b = a.slice();
    b[31] = (b[31] as number) ^ 1;
    expect(c.get(b)).toBeUndefined();
    a.fill(0); // the cache keeps its own copy
    expect(c.get(b)).toBeUndefined();
    const k = [rnd(32), rnd(32), rnd(32)];
    c.set(k[0]!, 'k0');
    c.set(k[1]!, 'k1');
    expect(c.get(k[0]!)).toBe('k0'); // k0 is now the most recent
    c.set(k[2]!, 'k2');
    c.set(rnd(32), 'x'); // evicts the least recently used: the first 'a' entry, then k1
    expect(c.size).toBe(3);
    expect(c.get(k[1]!)).toBeUndefined();
    expect(c.get(k[0]!)).toBe('k0');
    expect(c.get(k[2]!)).toBe('k2');
    c.clear();
    expect(c.size).toBe(0);
  });

  it('a hash collision is a miss, never the other key', () => {
    // Birthday search for two 8-byte inputs with the same 32-bit FNV-1a (~2^16 tries).
    const seen = new Map<number, Uint8Array>();
    let pair: [Uint8Array, Uint8Array] | undefined;
    for (let i = 0; !pair && i < 4_000_000; i++) {
      const x = new Uint8Array(8);
      new DataView(x.buffer).setFloat64(0, i * 2654435761.5);
      const h = fnv1a(x);
      const y = seen.get(h);
      if (y && !same(x, y)) pair = [x, y];
      seen.set(h, x);
    }
    expect(pair).toBeDefined();
    const [x, y] = pair!;
    const c = new ContentKeyCache<string>();
    c.set(x, 'x');
    expect(c.get(y)).toBeUndefined();
    c.set(y, 'y');
    expect(c.get(y)).toBe('y');
    expect(c.get(x)).toBeUndefined();
  });

  it('platform: a private key arriving in a new array is not imported again; the cache stays bounded', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ subtle });
    await p.support();
    calls.clear();
    const peer = await nobleProvider.x25519PublicKey(rnd(32));
    const k = rnd(32);
    const want = await nobleProvider.x25519(k, peer);
    expect(same(await p.x25519(k, peer), want)).toBe(true);
    const imports = calls.get('importKey:pkcs8') ?? 0;
    expect(imports).toBe(1);
    expect(same(await p.x25519(k.slice(), peer.slice()), want)).toBe(true);
    expect(calls.get('importKey:pkcs8')).toBe(1);
    expect(calls.get('importKey:raw')).toBe(1);
    // Push k out with KEY_CACHE_CAPACITY other keys: the next use imports it again, same answer.
    for (let i = 0; i < KEY_CACHE_CAPACITY; i++) await p.x25519(rnd(32), peer);
    expect(same(await p.x25519(k, peer), want)).toBe(true);
    expect(calls.get('importKey:pkcs8')).toBe(KEY_CACHE_CAPACITY + 2);
  });
});

const generators: ReadonlyArray<[string, CryptoProvider]> = [
  ['platform', platformProvider],
  ['platform(webcrypto-all)', createPlatformProvider({ webCryptoMinBytes: 0 })],
  ['node', nodeProvider],
];

describe('native X25519 key generation (x25519GenerateKeyPair)', () => {
  for (const [label, provider] of generators) {
    it(`gives a clamped private key, its public key, and agreements that match noble via ${label}`, async () => {
      const native = await provider.x25519GenerateKeyPair?.();
      expect(native).toBeDefined();
      for (let i = 0; i < 8; i++) {
        const kp = await KeyPair.generate(provider);
        const priv = kp.privateKey.serialize();
        expect((priv[0] as number) & 7).toBe(0);
        expect((priv[31] as number) & 0xc0).toBe(0x40);
        expect(same(kp.publicKey.raw(), await nobleProvider.x25519PublicKey(priv))).toBe(true);
        expect(same(await provider.x25519PublicKey(priv), kp.publicKey.raw())).toBe(true);
        const peer = await KeyPair.generate(nobleProvider);
        const shared = await kp.privateKey.agree(peer.publicKey, provider);
        expect(same(shared, await peer.privateKey.agree(kp.publicKey, nobleProvider))).toBe(true);
        // The same key deserialized into a new array (as a stored session gives it back) agrees alike.
        const again = PrivateKey.deserialize(priv);
        expect(same(await again.agree(peer.publicKey, provider), shared)).toBe(true);
      }
    });

    it(`x25519PublicKey hands out copies of the remembered key via ${label}`, async () => {
      const k = rnd(32);
      const want = await nobleProvider.x25519PublicKey(k);
      (await provider.x25519PublicKey(k)).fill(0xee); // derived, then scribbled on by the caller
      expect(same(await provider.x25519PublicKey(k.slice()), want)).toBe(true);
      const kp = await KeyPair.generate(provider); // generated: remembered from the generator
      (await provider.x25519PublicKey(kp.privateKey.serialize())).fill(0xee);
      expect(same(await provider.x25519PublicKey(kp.privateKey.serialize()), kp.publicKey.raw())).toBe(true);
    });

    it(`is never used once the randomness is replaced via ${label}`, async () => {
      const wrapped = withRandom(provider, createDeterministicRandom('gen'));
      expect(wrapped.x25519GenerateKeyPair).toBeUndefined();
      const a = await KeyPair.generate(deterministicProvider(provider, 'same seed'));
      const b = await KeyPair.generate(deterministicProvider(nobleProvider, 'same seed'));
      expect(same(a.privateKey.serialize(), b.privateKey.serialize())).toBe(true);
      expect(same(a.publicKey.raw(), b.publicKey.raw())).toBe(true);
      // A copy with its own randomBytes (spread) keeps the method, which then declines.
      const spread = { ...provider, randomBytes: createDeterministicRandom('same seed') } as CryptoProvider;
      expect(await spread.x25519GenerateKeyPair?.()).toBeUndefined();
      const c = await KeyPair.generate(spread);
      expect(same(c.privateKey.serialize(), b.privateKey.serialize())).toBe(true);
    });
  }

  it('platform: a generated key needs no import; a derived public key makes the import a JWK', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ subtle });
    await p.support();
    calls.clear();
    const peer = await KeyPair.generate(nobleProvider);
    const kp = await KeyPair.generate(p);
    expect(calls.get('generateKey:X25519')).toBe(1);
    calls.clear();
    const shared = await kp.privateKey.agree(peer.publicKey, p);
    expect(same(shared, await peer.privateKey.agree(kp.publicKey, nobleProvider))).toBe(true);
    expect([...calls.keys()].filter((k) => k.startsWith('importKey:')).sort()).toEqual(['importKey:raw']);
    const k = rnd(32);
    await p.x25519PublicKey(k);
    calls.clear();
    await p.x25519(k.slice(), peer.publicKey.raw());
    expect(calls.get('importKey:jwk')).toBe(1);
    expect(calls.get('importKey:pkcs8')).toBeUndefined();
  });

  it('KeyPair.generate refuses a provider hook that answers garbage', async () => {
    const bad = (v: unknown) =>
      ({ ...nobleProvider, x25519GenerateKeyPair: async () => v }) as unknown as CryptoProvider;
    await expect(KeyPair.generate(bad(null))).rejects.toThrow(TypeError);
    await expect(KeyPair.generate(bad({ privateKey: rnd(31), publicKey: rnd(32) }))).rejects.toThrow(
      RangeError,
    );
    await expect(KeyPair.generate(bad({ privateKey: rnd(32), publicKey: 'x' }))).rejects.toThrow(TypeError);
  });
});

describe('PublicKey.isCanonical stays libsignal’s exact torsion check', () => {
  it('refuses mixed keys (prime-order point + small-order point), which a small-order u list would accept', async () => {
    const good = (await KeyPair.generate(nobleProvider)).publicKey;
    expect(good.isCanonical()).toBe(true);
    const pl = montgomeryToEdwards(good.raw(), 0)!;
    const smallOrderU = new Set<string>();
    for (const t of ED25519_TORSION_SUBGROUP.slice(1)) {
      const T = ed25519.Point.fromHex(t);
      smallOrderU.add(toHex(ed25519.utils.toMontgomery(T.toBytes())));
      const mixed = PublicKey.fromRaw(ed25519.utils.toMontgomery(pl.add(T).toBytes()));
      expect(mixed.isCanonical(), `torsion ${t}`).toBe(false);
      expect(smallOrderU.has(toHex(mixed.raw()))).toBe(false);
      // Invisible to X25519 with a clamped scalar: same shared secret as the prime-order part.
      const k = PrivateKey.generate(nobleProvider);
      expect(same(await k.agree(mixed, nobleProvider), await k.agree(good, nobleProvider))).toBe(true);
    }
  });
});
