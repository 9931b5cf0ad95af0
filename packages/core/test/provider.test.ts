// Provider behaviour beyond the Wycheproof files: published hash/Ed25519 answers, differential checks
// between providers, the Web Crypto paths really taken, key caches, randomness injection.
import {
  type CryptoProvider,
  createPlatformProvider,
  defaultProvider,
  E2eeError,
  ErrorCode,
  isCryptoProvider,
  nobleProvider,
  platformProvider,
  resolveProvider,
  VerificationError,
  withRandom,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { allProviders, ClassProvider } from '../../../tools/providers.js';
import { hex, same, thrown } from './helpers/wycheproof.js';

const abc = new TextEncoder().encode('abc');
const rnd = createDeterministicRandom('provider.test');

describe('published answers on every provider', () => {
  for (const { label, provider } of allProviders) {
    it(`SHA-256/SHA-512 of "abc" (FIPS 180-2 appendix examples) via ${label}`, async () => {
      expect(
        same(
          await provider.sha256(abc),
          hex('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'),
        ),
      ).toBe(true);
      const d512 = hex(
        'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
      );
      expect(same(await provider.sha512(abc), d512)).toBe(true);
      expect(same(provider.sha512Sync(abc.subarray(0, 1), abc.subarray(1)), d512)).toBe(true);
      expect(same(provider.sha512Sync(), await provider.sha512(new Uint8Array(0)))).toBe(true);
    });

    it(`Ed25519 RFC 8032 §7.1 TEST 1 and TEST 2 via ${label}`, async () => {
      const cases = [
        {
          sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
          pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
          msg: '',
          sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
        },
        {
          sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
          pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
          msg: '72',
          sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
        },
      ];
      for (const c of cases) {
        expect(same(await provider.ed25519PublicKey(hex(c.sk)), hex(c.pk))).toBe(true);
        expect(same(await provider.ed25519Sign(hex(c.sk), hex(c.msg)), hex(c.sig))).toBe(true);
        expect(await provider.ed25519Verify(hex(c.pk), hex(c.msg), hex(c.sig))).toBe(true);
      }
    });

    it(`X25519 RFC 7748 §6.1 Diffie-Hellman example via ${label}`, async () => {
      const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
      const aPub = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
      const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
      const bPub = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
      const k = hex('4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742');
      expect(same(await provider.x25519PublicKey(a), aPub)).toBe(true);
      expect(same(await provider.x25519PublicKey(b), bPub)).toBe(true);
      expect(same(await provider.x25519(a, bPub), k)).toBe(true);
      expect(same(await provider.x25519(b, aPub), k)).toBe(true);
    });
  }
});

// Sizes around the platform provider's Web Crypto threshold (4096) and block boundaries.
const SIZES = [0, 1, 15, 16, 17, 100, 4095, 4096, 4097, 70_000];

describe('differential: every provider gives noble’s bytes', () => {
  for (const { label, provider } of allProviders.filter((p) => p.label !== 'noble')) {
    it(`hashes, MACs, HKDF, AES-CBC, AES-GCM, ChaCha20-Poly1305 via ${label}`, async () => {
      const n = nobleProvider;
      for (const size of SIZES) {
        const data = rnd(size);
        const key = rnd(32);
        const iv = rnd(16);
        const nonce = rnd(12);
        const aad = rnd(size % 50);
        const pairs: Array<[string, Uint8Array, Uint8Array]> = [
          ['sha256', await provider.sha256(data), await n.sha256(data)],
          ['sha512', await provider.sha512(data), await n.sha512(data)],
          ['sha512Sync', provider.sha512Sync(data, key), n.sha512Sync(data, key)],
          ['hmacSha256', await provider.hmacSha256(key, data), await n.hmacSha256(key, data)],
          ['hmacSha512', await provider.hmacSha512(key, data), await n.hmacSha512(key, data)],
          [
            'hmac empty key',
            await provider.hmacSha256(new Uint8Array(0), data),
            await n.hmacSha256(new Uint8Array(0), data),
          ],
          ['hkdf', await provider.hkdfSha256(data, key, iv, 80), await n.hkdfSha256(data, key, iv, 80)],
          [
            'hkdf no salt',
            await provider.hkdfSha256(data, undefined, data, 42),
            await n.hkdfSha256(data, undefined, data, 42),
          ],
          ['cbc', await provider.aes256CbcEncrypt(key, iv, data), await n.aes256CbcEncrypt(key, iv, data)],
          [
            'gcm',
            await provider.aes256GcmEncrypt(key, nonce, data, aad),
            await n.aes256GcmEncrypt(key, nonce, data, aad),
          ],
          [
            'gcm no aad',
            await provider.aes256GcmEncrypt(key, nonce, data),
            await n.aes256GcmEncrypt(key, nonce, data),
          ],
          [
            'gcm 16-byte nonce',
            await provider.aes256GcmEncrypt(key, iv, data),
            await n.aes256GcmEncrypt(key, iv, data),
          ],
          [
            'chacha',
            await provider.chacha20Poly1305Encrypt(key, nonce, data, aad),
            await n.chacha20Poly1305Encrypt(key, nonce, data, aad),
          ],
        ];
        for (const [what, ours, noble] of pairs)
          expect(same(ours, noble), `${what} at ${size} bytes`).toBe(true);
        const cbc = await n.aes256CbcEncrypt(key, iv, data);
        expect(same(await provider.aes256CbcDecrypt(key, iv, cbc), data)).toBe(true);
        const gcm = await n.aes256GcmEncrypt(key, nonce, data, aad);
        expect(same(await provider.aes256GcmDecrypt(key, nonce, gcm, aad), data)).toBe(true);
        const cc = await n.chacha20Poly1305Encrypt(key, nonce, data, aad);
        expect(same(await provider.chacha20Poly1305Decrypt(key, nonce, cc, aad), data)).toBe(true);
      }
    });

    it(`long HKDF info (> 1024 bytes, OpenSSL's cap) and 0-byte output via ${label}`, async () => {
      const ikm = rnd(32);
      const info = rnd(3000);
      expect(
        same(
          await provider.hkdfSha256(ikm, undefined, info, 64),
          await nobleProvider.hkdfSha256(ikm, undefined, info, 64),
        ),
      ).toBe(true);
      expect((await provider.hkdfSha256(ikm, undefined, info, 0)).length).toBe(0);
    });
  }
});

describe('failures are typed and identical on every provider', () => {
  for (const { label, provider } of allProviders) {
    it(`tampered AEAD / CBC input via ${label}`, async () => {
      for (const size of [0, 20, 5000]) {
        const key = rnd(32);
        const nonce = rnd(12);
        const data = rnd(size);
        for (const [seal, open] of [
          [provider.aes256GcmEncrypt, provider.aes256GcmDecrypt],
          [provider.chacha20Poly1305Encrypt, provider.chacha20Poly1305Decrypt],
        ] as const) {
          const sealed = await seal(key, nonce, data, abc);
          for (const bad of [
            Uint8Array.from(sealed, (b, i) => (i === 0 ? b ^ 1 : b)),
            sealed.subarray(0, sealed.length - 1),
            sealed.subarray(0, 15),
            new Uint8Array(0),
          ]) {
            const e = await thrown(() => open(key, nonce, bad, abc));
            expect(e instanceof VerificationError && E2eeError.is(e, ErrorCode.AeadTagMismatch), `${e}`).toBe(
              true,
            );
          }
          const wrongAad = await thrown(() => open(key, nonce, sealed, new Uint8Array(0)));
          expect(E2eeError.is(wrongAad, ErrorCode.AeadTagMismatch)).toBe(true);
        }
        const iv = rnd(16);
        const ct = await provider.aes256CbcEncrypt(key, iv, data);
        for (const bad of [ct.subarray(0, ct.length - 1), new Uint8Array(0), new Uint8Array(ct.length)]) {
          const e = await thrown(() => provider.aes256CbcDecrypt(key, iv, bad));
          // An all-zero block may decrypt to valid padding by chance (1/256); that is not an error.
          if (e !== undefined) expect(E2eeError.is(e, ErrorCode.BadPadding), `${e}`).toBe(true);
        }
        expect(
          E2eeError.is(
            await thrown(() => provider.aes256CbcDecrypt(key, iv, ct.subarray(1))),
            ErrorCode.BadPadding,
          ),
        ).toBe(true);
      }
    });

    it(`programmer errors are TypeError/RangeError via ${label}`, async () => {
      const k = rnd(32);
      expect(await thrown(() => provider.x25519(rnd(31), k))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.x25519(k, 'x' as never))).toBeInstanceOf(TypeError);
      expect(await thrown(() => provider.aes256CbcEncrypt(k, rnd(15), k))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.aes256GcmEncrypt(k, rnd(7), k))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.chacha20Poly1305Encrypt(k, rnd(24), k))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.hkdfSha256(k, undefined, k, 8161))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.hkdfSha256(k, undefined, k, 1.5))).toBeInstanceOf(TypeError);
      expect(await thrown(() => provider.randomBytes(-1))).toBeInstanceOf(RangeError);
      expect(await thrown(() => provider.randomBytes(2 ** 21))).toBeInstanceOf(RangeError);
      expect(await provider.ed25519Verify(k, k, rnd(63))).toBe(false);
    });

    it(`key caches never serve a stale key for a reused buffer via ${label}`, async () => {
      const a = rnd(32);
      const b = rnd(32);
      const peer = await nobleProvider.x25519PublicKey(rnd(32));
      const scratch = a.slice();
      expect(same(await provider.x25519(scratch, peer), await nobleProvider.x25519(a, peer))).toBe(true);
      scratch.set(b);
      expect(same(await provider.x25519(scratch, peer), await nobleProvider.x25519(b, peer))).toBe(true);
      const seed = a.slice();
      const sigA = await provider.ed25519Sign(seed, abc);
      seed.set(b);
      expect(same(await provider.ed25519Sign(seed, abc), await nobleProvider.ed25519Sign(b, abc))).toBe(true);
      const pub = await nobleProvider.ed25519PublicKey(a);
      expect(await provider.ed25519Verify(pub, abc, sigA)).toBe(true);
      pub.set(await nobleProvider.ed25519PublicKey(b));
      expect(await provider.ed25519Verify(pub, abc, sigA)).toBe(false);
    });

    it(`randomBytes gives fresh bytes of the asked length via ${label}`, () => {
      for (const n of [0, 1, 32, 65_536, 65_537, 1 << 20]) expect(provider.randomBytes(n).length).toBe(n);
      expect(same(provider.randomBytes(32), provider.randomBytes(32))).toBe(false);
    });
  }
});

/** A `SubtleCrypto` that counts calls per algorithm name, so a test can prove which path ran. */
function countingSubtle(): { subtle: SubtleCrypto; calls: Map<string, number> } {
  const real = globalThis.crypto.subtle;
  const calls = new Map<string, number>();
  const name = (alg: unknown) => (typeof alg === 'string' ? alg : (alg as { name: string }).name);
  const count = (op: string, alg: unknown) =>
    calls.set(`${op}:${name(alg)}`, (calls.get(`${op}:${name(alg)}`) ?? 0) + 1);
  const counted =
    <A extends unknown[], R>(op: string, f: (alg: AlgorithmIdentifier, ...rest: A) => R) =>
    (alg: AlgorithmIdentifier, ...rest: A): R => {
      count(op, alg);
      return f(alg, ...rest);
    };
  const subtle = {
    digest: counted('digest', real.digest.bind(real)),
    importKey: (format: string, ...rest: unknown[]) => {
      const alg = rest[1] as AlgorithmIdentifier;
      calls.set(`importKey:${format}:${name(alg)}`, (calls.get(`importKey:${format}:${name(alg)}`) ?? 0) + 1);
      return (real.importKey as (...a: unknown[]) => Promise<CryptoKey>)(format, ...rest);
    },
    sign: counted('sign', real.sign.bind(real)),
    verify: counted('verify', real.verify.bind(real)),
    encrypt: counted('encrypt', real.encrypt.bind(real)),
    decrypt: counted('decrypt', real.decrypt.bind(real)),
    deriveBits: counted('deriveBits', real.deriveBits.bind(real)),
  } as unknown as SubtleCrypto;
  return { subtle, calls };
}

async function exercise(p: CryptoProvider, size: number): Promise<void> {
  const k = rnd(32);
  const data = rnd(size);
  await p.sha512(data);
  await p.hmacSha256(k, data);
  await p.hkdfSha256(data.length ? data : k, undefined, k, 32);
  await p.aes256CbcDecrypt(k, k.subarray(0, 16), await p.aes256CbcEncrypt(k, k.subarray(0, 16), data));
  await p.aes256GcmDecrypt(k, k.subarray(0, 12), await p.aes256GcmEncrypt(k, k.subarray(0, 12), data));
  await p.x25519(k, await p.x25519PublicKey(rnd(32)));
  await p.ed25519Verify(await p.ed25519PublicKey(k), data, await p.ed25519Sign(k, data));
}

describe('platform provider paths', () => {
  it('webCryptoMinBytes: 0 sends every supported algorithm to Web Crypto', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ webCryptoMinBytes: 0, subtle });
    const support = await p.support();
    expect(support).toMatchObject({
      sha: true,
      hmac: true,
      hkdf: true,
      aesCbc: true,
      aesGcm: true,
      x25519: true,
      ed25519: true,
    });
    calls.clear();
    await exercise(p, 100);
    for (const op of [
      'digest:SHA-512',
      'sign:HMAC',
      'deriveBits:HKDF',
      'encrypt:AES-CBC',
      'decrypt:AES-CBC',
      'encrypt:AES-GCM',
      'decrypt:AES-GCM',
      'deriveBits:X25519',
      'sign:Ed25519',
      'verify:Ed25519',
    ]) {
      expect(calls.get(op) ?? 0, op).toBeGreaterThan(0);
    }
  });

  it('the default threshold keeps small symmetric inputs on noble and uses Web Crypto for large ones and curves', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ subtle });
    await p.support();
    calls.clear();
    await exercise(p, 100);
    const ops = [...calls.keys()].filter((k) => !k.startsWith('importKey:')).sort();
    expect(ops).toEqual(['deriveBits:X25519', 'sign:Ed25519', 'verify:Ed25519']);
    calls.clear();
    await exercise(p, 5000);
    expect(calls.get('encrypt:AES-GCM') ?? 0).toBeGreaterThan(0);
    expect(calls.get('digest:SHA-512') ?? 0).toBeGreaterThan(0);
  });

  it('with a Web Crypto that supports nothing (React Native) everything runs on noble, same bytes', async () => {
    const broken = new Proxy(
      {},
      { get: () => () => Promise.reject(new Error('not supported')) },
    ) as SubtleCrypto;
    const p = createPlatformProvider({ subtle: broken, webCryptoMinBytes: 0 });
    const support = await p.support();
    expect(Object.values(support).every((v) => v === false)).toBe(true);
    const k = rnd(32);
    expect(
      same(
        await p.x25519(k, await nobleProvider.x25519PublicKey(k)),
        await nobleProvider.x25519(k, await nobleProvider.x25519PublicKey(k)),
      ),
    ).toBe(true);
    expect(
      same(
        await p.aes256GcmEncrypt(k, k.subarray(0, 12), k),
        await nobleProvider.aes256GcmEncrypt(k, k.subarray(0, 12), k),
      ),
    ).toBe(true);
  });

  it('X25519: a private key whose public key it derived is imported as JWK (cheaper), with the same result', async () => {
    const { subtle, calls } = countingSubtle();
    const p = createPlatformProvider({ subtle });
    const peer = await nobleProvider.x25519PublicKey(rnd(32));
    const k = rnd(32);
    await p.x25519PublicKey(k);
    calls.clear();
    expect(same(await p.x25519(k, peer), await nobleProvider.x25519(k, peer))).toBe(true);
    expect(calls.get('importKey:jwk:X25519')).toBe(1);
    // Bytes changed after the public key was derived: PKCS#8 import, still the right answer.
    k.set(rnd(32));
    calls.clear();
    expect(same(await p.x25519(k, peer), await nobleProvider.x25519(k, peer))).toBe(true);
    expect(calls.get('importKey:pkcs8:X25519')).toBe(1);
    expect(calls.get('importKey:jwk:X25519')).toBeUndefined();
  });

  it('refuses a bad threshold', () => {
    expect(() => createPlatformProvider({ webCryptoMinBytes: -1 })).toThrow(RangeError);
    expect(() => createPlatformProvider({ webCryptoMinBytes: 1.5 })).toThrow(RangeError);
  });
});

describe('provider selection and randomness injection', () => {
  it('defaultProvider is the platform provider; resolveProvider validates', () => {
    expect(defaultProvider).toBe(platformProvider);
    expect(resolveProvider(undefined)).toBe(defaultProvider);
    expect(resolveProvider(nodeProvider)).toBe(nodeProvider);
    expect(() => resolveProvider({})).toThrow(TypeError);
    expect(() => resolveProvider(null)).toThrow(TypeError);
    for (const { provider } of allProviders) expect(isCryptoProvider(provider)).toBe(true);
    expect(isCryptoProvider({ name: 'x' })).toBe(false);
  });

  it('providers are frozen: nobody can swap a primitive at runtime', () => {
    for (const { provider } of allProviders) expect(Object.isFrozen(provider)).toBe(true);
  });

  it('withRandom replaces only the randomness, checks its length and keeps the rest', async () => {
    const p = withRandom(nobleProvider, createDeterministicRandom('seed'));
    const q = withRandom(nobleProvider, createDeterministicRandom('seed'));
    expect(same(p.randomBytes(40), q.randomBytes(40))).toBe(true);
    expect(p.name).toBe('noble');
    expect(same(await p.sha256(abc), await nobleProvider.sha256(abc))).toBe(true);
    const bad = withRandom(nobleProvider, () => new Uint8Array(3));
    expect(() => bad.randomBytes(4)).toThrow(TypeError);
    expect(() => withRandom(nobleProvider, 'x' as never)).toThrow(TypeError);
  });

  it('withRandom over an app provider written as a class calls its methods on the provider itself', async () => {
    // Methods on a prototype that use private fields: called with the wrapper as `this`, they threw
    // "Cannot read private member" (the wrapper inherits from the provider but is not it).
    const p = withRandom(new ClassProvider() as unknown as CryptoProvider, createDeterministicRandom('seed'));
    expect(p.name).toBe('app');
    expect(same(await p.sha256(abc), await nobleProvider.sha256(abc))).toBe(true);
    expect(
      same(
        await p.hkdfSha256(abc, undefined, abc, 33),
        await nobleProvider.hkdfSha256(abc, undefined, abc, 33),
      ),
    ).toBe(true);
    expect(
      same(p.randomBytes(8), withRandom(nobleProvider, createDeterministicRandom('seed')).randomBytes(8)),
    ).toBe(true);
    expect(resolveProvider(p)).toBe(p);
  });
});
