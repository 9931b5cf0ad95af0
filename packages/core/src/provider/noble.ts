import { nobleAes } from './noble-aes.js';
import { nobleChacha } from './noble-chacha.js';
import { nobleCurve25519 } from './noble-curve25519.js';
import { hkdfSha256, hmacSha256, nobleSha2 } from './noble-sha2.js';
import { webRandomBytes } from './random.js';
import { sha512Iterate } from './sha512-iterate.js';
import type { CryptoProvider } from './types.js';

/**
 * Synchronous pure-TypeScript primitives; the other providers fall back to these. Each family lives
 * in its own module (noble-sha2, noble-aes, noble-chacha, noble-curve25519) so that code needing one
 * family can import it without the rest.
 */
export const nobleSync = { ...nobleSha2, ...nobleAes, ...nobleChacha, ...nobleCurve25519 };

const s = nobleSync;

/** Pure TypeScript on @noble/*: runs in every JavaScript runtime, React Native included. */
// Pure, and no property read among the values (the sync members name the functions themselves, the
// same objects as `nobleSync.*`): a bundle that never uses this provider drops it.
export const nobleProvider: CryptoProvider = /* @__PURE__ */ Object.freeze({
  name: 'noble',
  randomBytes: webRandomBytes,
  sha256: async (d: Uint8Array) => s.sha256(d),
  sha512: async (d: Uint8Array) => s.sha512(d),
  sha512Sync: (...parts: Uint8Array[]) => s.sha512Multi(parts),
  sha512IterateSync: sha512Iterate,
  hmacSha256: async (k: Uint8Array, d: Uint8Array) => s.hmacSha256(k, d),
  hmacSha512: async (k: Uint8Array, d: Uint8Array) => s.hmacSha512(k, d),
  hmacSha256Sync: hmacSha256,
  hkdfSha256Sync: hkdfSha256,
  hkdfSha256: async (ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, len: number) =>
    s.hkdfSha256(ikm, salt, info, len),
  aes256CbcEncrypt: async (k: Uint8Array, iv: Uint8Array, p: Uint8Array) => s.aes256CbcEncrypt(k, iv, p),
  aes256CbcDecrypt: async (k: Uint8Array, iv: Uint8Array, c: Uint8Array) => s.aes256CbcDecrypt(k, iv, c),
  aes256GcmEncrypt: async (k: Uint8Array, n: Uint8Array, p: Uint8Array, a?: Uint8Array) =>
    s.aes256GcmEncrypt(k, n, p, a),
  aes256GcmDecrypt: async (k: Uint8Array, n: Uint8Array, c: Uint8Array, a?: Uint8Array) =>
    s.aes256GcmDecrypt(k, n, c, a),
  chacha20Poly1305Encrypt: async (k: Uint8Array, n: Uint8Array, p: Uint8Array, a?: Uint8Array) =>
    s.chacha20Poly1305Encrypt(k, n, p, a),
  chacha20Poly1305Decrypt: async (k: Uint8Array, n: Uint8Array, c: Uint8Array, a?: Uint8Array) =>
    s.chacha20Poly1305Decrypt(k, n, c, a),
  x25519: async (priv: Uint8Array, pub: Uint8Array) => s.x25519(priv, pub),
  x25519PublicKey: async (priv: Uint8Array) => s.x25519PublicKey(priv),
  ed25519Verify: async (pub: Uint8Array, m: Uint8Array, sig: Uint8Array) => s.ed25519Verify(pub, m, sig),
  ed25519Sign: async (seed: Uint8Array, m: Uint8Array) => s.ed25519Sign(seed, m),
  ed25519PublicKey: async (seed: Uint8Array) => s.ed25519PublicKey(seed),
});
