/**
 * `platformProvider`: Web Crypto (`globalThis.crypto.subtle`) for what the runtime supports, detected
 * once at first use, and noble for the rest. Works in browsers, Node, Deno, Bun and workers; where
 * `crypto.subtle` is missing (React Native) every call goes to noble.
 *
 * Web Crypto calls are asynchronous and each needs an imported key, which costs more than the
 * primitive itself on small inputs. So symmetric operations switch to Web Crypto only from
 * `webCryptoMinBytes` upwards (bulk data); asymmetric operations (X25519, Ed25519) always use it when
 * available, because there it is many times faster than pure JavaScript. The bytes are identical
 * either way; tests force every path with `webCryptoMinBytes: 0`.
 */
import { assertBytes, copyBytes, toBase64 } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { checkAead, checkCbc, checkGcm, checkKey32, checkLength } from './checks.js';
import { pkcs8Ed25519, pkcs8X25519, x25519FromPkcs8 } from './der.js';
import { adoptGeneratedX25519, ContentKeyCache } from './key-cache.js';
import { nobleSync } from './noble.js';
import { webRandomBytes } from './random.js';
import type { CryptoProvider } from './types.js';

export interface PlatformProviderOptions {
  /** Symmetric inputs shorter than this go to noble (default 4096). `0` sends everything to Web Crypto. */
  webCryptoMinBytes?: number;
  /** Injected `SubtleCrypto` (tests); defaults to `globalThis.crypto.subtle`. */
  subtle?: SubtleCrypto;
}

interface Support {
  subtle: SubtleCrypto | undefined;
  sha: boolean;
  hmac: boolean;
  hkdf: boolean;
  aesCbc: boolean;
  aesGcm: boolean;
  chacha: boolean;
  x25519: boolean;
  ed25519: boolean;
}

/** Public so benchmarks and tests can print what the runtime offers. */
export interface PlatformSupport extends Omit<Support, 'subtle'> {}

const base64url = (b: Uint8Array): string =>
  toBase64(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

type BufSrc = Uint8Array<ArrayBuffer>;
const buf = (b: Uint8Array): BufSrc => b as BufSrc;

async function probe(subtle: SubtleCrypto | undefined): Promise<Support> {
  const none: Support = {
    subtle,
    sha: false,
    hmac: false,
    hkdf: false,
    aesCbc: false,
    aesGcm: false,
    chacha: false,
    x25519: false,
    ed25519: false,
  };
  if (!subtle) return none;
  const ok = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return true;
    } catch {
      return false;
    }
  };
  const k32 = new Uint8Array(32).fill(7);
  const [sha, hmac, hkdf, aesCbc, aesGcm, chacha, x25519, ed25519] = await Promise.all([
    ok(() => subtle.digest('SHA-512', new Uint8Array(1))),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      await subtle.sign('HMAC', k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'HKDF', false, ['deriveBits']);
      await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: k32, info: k32 }, k, 256);
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'AES-CBC', false, ['encrypt']);
      await subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'AES-GCM', false, ['encrypt']);
      await subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'ChaCha20-Poly1305', false, ['encrypt']);
      await subtle.encrypt(
        { name: 'ChaCha20-Poly1305', iv: new Uint8Array(12) } as AlgorithmIdentifier,
        k,
        new Uint8Array(1),
      );
    }),
    ok(async () => {
      const k = await subtle.importKey('pkcs8', buf(pkcs8X25519(k32)), { name: 'X25519' }, false, [
        'deriveBits',
      ]);
      const p = await subtle.importKey(
        'raw',
        buf(nobleSync.x25519PublicKey(k32)),
        { name: 'X25519' },
        false,
        [],
      );
      await subtle.deriveBits({ name: 'X25519', public: p } as EcdhKeyDeriveParams, k, 256);
    }),
    ok(async () => {
      const k = await subtle.importKey(
        'raw',
        buf(nobleSync.ed25519PublicKey(k32)),
        { name: 'Ed25519' },
        false,
        ['verify'],
      );
      await subtle.verify({ name: 'Ed25519' }, k, new Uint8Array(64), new Uint8Array(1));
    }),
  ]);
  return { subtle, sha, hmac, hkdf, aesCbc, aesGcm, chacha, x25519, ed25519 };
}

export function createPlatformProvider(options: PlatformProviderOptions = {}): CryptoProvider & {
  support(): Promise<PlatformSupport>;
} {
  const minBytes = options.webCryptoMinBytes ?? 4096;
  if (!Number.isInteger(minBytes) || minBytes < 0)
    throw new RangeError('webCryptoMinBytes must be a non-negative integer');
  let detected: Promise<Support> | undefined;
  const support = (): Promise<Support> => {
    if (!detected) {
      const subtle = options.subtle ?? (globalThis as { crypto?: Crypto }).crypto?.subtle;
      detected = probe(subtle);
    }
    return detected;
  };
  const big = (n: number) => n >= minBytes;
  // Imported keys, by content (see key-cache.ts: bounded, confirmed in constant time): protocol state
  // arrives as fresh byte arrays on every call, and an import costs more than the operation.
  const x25519Priv = new ContentKeyCache<CryptoKey>();
  const x25519Pub = new ContentKeyCache<CryptoKey>();
  // Public keys of private keys this provider generated or derived: with `x` known, a private key is
  // imported as a JWK (Web Crypto checks `x` against `d`), ~15× cheaper than PKCS#8 in Node.
  const publicOf = new ContentKeyCache<Uint8Array>();
  const edPub = new ContentKeyCache<CryptoKey>();
  const edPriv = new ContentKeyCache<CryptoKey>();

  const importX25519Private = async (subtle: SubtleCrypto, privateKey: Uint8Array): Promise<CryptoKey> => {
    const x = publicOf.get(privateKey);
    const d = base64url(privateKey); // before any await: the caller may reuse its buffer
    const pkcs8 = buf(pkcs8X25519(privateKey));
    if (x !== undefined) {
      try {
        const jwk: JsonWebKey = { kty: 'OKP', crv: 'X25519', d, x: base64url(x) };
        return await subtle.importKey('jwk', jwk, { name: 'X25519' }, false, ['deriveBits']);
      } catch {
        // fall through: PKCS#8 is the universally supported form
      }
    }
    try {
      return await subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
    } finally {
      pkcs8.fill(0);
    }
  };

  const provider = {
    name: 'platform',
    randomBytes: webRandomBytes,
    async support(): Promise<PlatformSupport> {
      const { subtle: _s, ...rest } = await support();
      return rest;
    },
    async sha256(data: Uint8Array) {
      assertBytes(data, 'data');
      const s = await support();
      if (s.sha && big(data.length)) return new Uint8Array(await s.subtle!.digest('SHA-256', buf(data)));
      return nobleSync.sha256(data);
    },
    async sha512(data: Uint8Array) {
      assertBytes(data, 'data');
      const s = await support();
      if (s.sha && big(data.length)) return new Uint8Array(await s.subtle!.digest('SHA-512', buf(data)));
      return nobleSync.sha512(data);
    },
    sha512Sync: (...parts: Uint8Array[]) => nobleSync.sha512Multi(parts),
    // Chain walks hash 1–64-byte inputs, below any size where Web Crypto's promises pay off.
    hmacSha256Sync: nobleSync.hmacSha256,
    hkdfSha256Sync: nobleSync.hkdfSha256,
    async hmacSha256(key: Uint8Array, data: Uint8Array) {
      assertBytes(key, 'key');
      assertBytes(data, 'data');
      const s = await support();
      if (s.hmac && big(data.length) && key.length > 0) {
        const k = await s.subtle!.importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
          'sign',
        ]);
        return new Uint8Array(await s.subtle!.sign('HMAC', k, buf(data)));
      }
      return nobleSync.hmacSha256(key, data);
    },
    async hmacSha512(key: Uint8Array, data: Uint8Array) {
      assertBytes(key, 'key');
      assertBytes(data, 'data');
      const s = await support();
      if (s.hmac && big(data.length) && key.length > 0) {
        const k = await s.subtle!.importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-512' }, false, [
          'sign',
        ]);
        return new Uint8Array(await s.subtle!.sign('HMAC', k, buf(data)));
      }
      return nobleSync.hmacSha512(key, data);
    },
    async hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number) {
      assertBytes(ikm, 'ikm');
      if (salt !== undefined) assertBytes(salt, 'salt');
      assertBytes(info, 'info');
      checkLength(length, 255 * 32);
      const s = await support();
      // OpenSSL-backed Web Crypto (Node) caps HKDF info at 1024 bytes; longer info goes to noble.
      if (s.hkdf && big(ikm.length) && length > 0 && info.length <= 1024) {
        const k = await s.subtle!.importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
        const bits = await s.subtle!.deriveBits(
          { name: 'HKDF', hash: 'SHA-256', salt: buf(salt ?? new Uint8Array(32)), info: buf(info) },
          k,
          length * 8,
        );
        return new Uint8Array(bits);
      }
      return nobleSync.hkdfSha256(ikm, salt, info, length);
    },
    async aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) {
      checkCbc(key, iv, plaintext);
      const s = await support();
      if (s.aesCbc && big(plaintext.length)) {
        const k = await s.subtle!.importKey('raw', buf(key), 'AES-CBC', false, ['encrypt']);
        return new Uint8Array(await s.subtle!.encrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(plaintext)));
      }
      return nobleSync.aes256CbcEncrypt(key, iv, plaintext);
    },
    async aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) {
      checkCbc(key, iv, ciphertext);
      const s = await support();
      if (s.aesCbc && big(ciphertext.length)) {
        if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
          throw new VerificationError('AES-CBC ciphertext has an invalid length', {
            code: 'BAD_PADDING',
          });
        }
        const k = await s.subtle!.importKey('raw', buf(key), 'AES-CBC', false, ['decrypt']);
        try {
          return new Uint8Array(
            await s.subtle!.decrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(ciphertext)),
          );
        } catch {
          throw new VerificationError('AES-CBC padding is invalid', { code: 'BAD_PADDING' });
        }
      }
      return nobleSync.aes256CbcDecrypt(key, iv, ciphertext);
    },
    async aes256GcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
      checkGcm(key, nonce, plaintext, aad);
      const s = await support();
      // Web Crypto implementations differ on non-96-bit nonces (Node's refuses < 12 bytes): noble does those.
      if (s.aesGcm && big(plaintext.length) && nonce.length === 12) {
        const k = await s.subtle!.importKey('raw', buf(key), 'AES-GCM', false, ['encrypt']);
        const params: AesGcmParams = { name: 'AES-GCM', iv: buf(nonce), tagLength: 128 };
        if (aad !== undefined) params.additionalData = buf(aad);
        return new Uint8Array(await s.subtle!.encrypt(params, k, buf(plaintext)));
      }
      return nobleSync.aes256GcmEncrypt(key, nonce, plaintext, aad);
    },
    async aes256GcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) {
      checkGcm(key, nonce, sealed, aad);
      const s = await support();
      if (s.aesGcm && big(sealed.length) && nonce.length === 12) {
        if (sealed.length < 16)
          throw new VerificationError('AES-GCM input is shorter than its tag', {
            code: 'AEAD_TAG_MISMATCH',
          });
        const k = await s.subtle!.importKey('raw', buf(key), 'AES-GCM', false, ['decrypt']);
        const params: AesGcmParams = { name: 'AES-GCM', iv: buf(nonce), tagLength: 128 };
        if (aad !== undefined) params.additionalData = buf(aad);
        try {
          return new Uint8Array(await s.subtle!.decrypt(params, k, buf(sealed)));
        } catch {
          throw new VerificationError('AES-GCM tag mismatch', { code: 'AEAD_TAG_MISMATCH' });
        }
      }
      return nobleSync.aes256GcmDecrypt(key, nonce, sealed, aad);
    },
    async chacha20Poly1305Encrypt(
      key: Uint8Array,
      nonce: Uint8Array,
      plaintext: Uint8Array,
      aad?: Uint8Array,
    ) {
      checkAead(key, nonce, plaintext, aad, 12);
      const s = await support();
      if (s.chacha && big(plaintext.length)) {
        const k = await s.subtle!.importKey('raw', buf(key), 'ChaCha20-Poly1305', false, ['encrypt']);
        const params = {
          name: 'ChaCha20-Poly1305',
          iv: buf(nonce),
          ...(aad ? { additionalData: buf(aad) } : {}),
        };
        return new Uint8Array(await s.subtle!.encrypt(params as AlgorithmIdentifier, k, buf(plaintext)));
      }
      return nobleSync.chacha20Poly1305Encrypt(key, nonce, plaintext, aad);
    },
    async chacha20Poly1305Decrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) {
      checkAead(key, nonce, sealed, aad, 12);
      const s = await support();
      if (s.chacha && big(sealed.length)) {
        if (sealed.length < 16) {
          throw new VerificationError('ChaCha20-Poly1305 input is shorter than its tag', {
            code: 'AEAD_TAG_MISMATCH',
          });
        }
        const k = await s.subtle!.importKey('raw', buf(key), 'ChaCha20-Poly1305', false, ['decrypt']);
        const params = {
          name: 'ChaCha20-Poly1305',
          iv: buf(nonce),
          ...(aad ? { additionalData: buf(aad) } : {}),
        };
        try {
          return new Uint8Array(await s.subtle!.decrypt(params as AlgorithmIdentifier, k, buf(sealed)));
        } catch {
          throw new VerificationError('ChaCha20-Poly1305 tag mismatch', { code: 'AEAD_TAG_MISMATCH' });
        }
      }
      return nobleSync.chacha20Poly1305Decrypt(key, nonce, sealed, aad);
    },
    async x25519(privateKey: Uint8Array, publicKey: Uint8Array) {
      checkKey32(privateKey, 'privateKey');
      checkKey32(publicKey, 'publicKey');
      const s = await support();
      if (s.x25519) {
        try {
          const priv = await x25519Priv.getOrSetAsync(privateKey, () =>
            importX25519Private(s.subtle!, privateKey),
          );
          const pub = await x25519Pub.getOrSetAsync(publicKey, () =>
            s.subtle!.importKey('raw', buf(publicKey), { name: 'X25519' }, false, []),
          );
          return new Uint8Array(
            await s.subtle!.deriveBits({ name: 'X25519', public: pub } as EcdhKeyDeriveParams, priv, 256),
          );
        } catch {
          // Web Crypto refuses low-order points (all-zero output); noble gives the RFC 7748 answer.
          return nobleSync.x25519(privateKey, publicKey);
        }
      }
      return nobleSync.x25519(privateKey, publicKey);
    },
    async x25519PublicKey(privateKey: Uint8Array) {
      checkKey32(privateKey, 'privateKey');
      const known = publicOf.get(privateKey);
      if (known !== undefined) return copyBytes(known);
      // A base-point multiplication via Web Crypto needs an import and an export; noble's is as fast.
      const pub = nobleSync.x25519PublicKey(privateKey);
      publicOf.set(privateKey, pub);
      return pub;
    },
    /**
     * Web Crypto's X25519 generator plus a PKCS#8 export of the private key and a raw export of the
     * public key: no base-point multiplication in JavaScript, and the generated `CryptoKey` is cached for
     * the agreements that follow. Only while `randomBytes` is this provider's own (see
     * `CryptoProvider.x25519GenerateKeyPair`).
     *
     * Not a JWK export: in Node 20 `exportKey('jwk')` is a synchronous native export on the main thread,
     * and a garbage collection during it can run the destructor of an earlier key-generation job that
     * takes the mutex the export holds — the process freezes (the node provider's issue, see node.ts).
     * Node runs the PKCS#8 and raw exports as asynchronous jobs off the main thread.
     */
    async x25519GenerateKeyPair(this: unknown) {
      if ((this as { randomBytes?: unknown } | undefined)?.randomBytes !== webRandomBytes) return undefined;
      const s = await support();
      if (!s.x25519) return undefined;
      let d: Uint8Array;
      let x: Uint8Array;
      let key: CryptoKey;
      try {
        const pair = (await s.subtle!.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
        const [pkcs8, raw] = await Promise.all([
          s.subtle!.exportKey('pkcs8', pair.privateKey),
          s.subtle!.exportKey('raw', pair.publicKey),
        ]);
        const der = new Uint8Array(pkcs8);
        d = x25519FromPkcs8(der);
        der.fill(0);
        x = new Uint8Array(raw);
        key = pair.privateKey;
      } catch {
        return undefined;
      }
      return adoptGeneratedX25519(d, x, key, x25519Priv, publicOf);
    },
    async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
      checkKey32(publicKey, 'publicKey');
      assertBytes(message, 'message');
      assertBytes(signature, 'signature');
      if (signature.length !== 64) return false;
      const s = await support();
      if (s.ed25519) {
        try {
          const k = await edPub.getOrSetAsync(publicKey, () =>
            s.subtle!.importKey('raw', buf(publicKey), { name: 'Ed25519' }, false, ['verify']),
          );
          return await s.subtle!.verify({ name: 'Ed25519' }, k, buf(signature), buf(message));
        } catch {
          return false;
        }
      }
      return nobleSync.ed25519Verify(publicKey, message, signature);
    },
    async ed25519Sign(seed: Uint8Array, message: Uint8Array) {
      checkKey32(seed, 'seed');
      assertBytes(message, 'message');
      const s = await support();
      if (s.ed25519) {
        const k = await edPriv.getOrSetAsync(seed, () =>
          s.subtle!.importKey('pkcs8', buf(pkcs8Ed25519(seed)), { name: 'Ed25519' }, false, ['sign']),
        );
        return new Uint8Array(await s.subtle!.sign({ name: 'Ed25519' }, k, buf(message)));
      }
      return nobleSync.ed25519Sign(seed, message);
    },
    async ed25519PublicKey(seed: Uint8Array) {
      return nobleSync.ed25519PublicKey(seed);
    },
  };
  return Object.freeze(provider);
}

/** Web Crypto where the runtime has it (bulk symmetric data, X25519, Ed25519), noble otherwise. */
export const platformProvider = createPlatformProvider();
