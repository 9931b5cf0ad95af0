import { cbc, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { assertBytes } from '../bytes.js';
import { ErrorCode, VerificationError } from '../errors.js';
import { checkAead, checkCbc, checkGcm, checkKey32, checkLength } from './checks.js';
import { webRandomBytes } from './random.js';
import { reusableSha256, reusableSha512 } from './sha2-reuse.js';
import type { CryptoProvider } from './types.js';

/** Synchronous pure-TypeScript primitives; the other providers fall back to these. */
export const nobleSync = {
  // Hashes, HMAC and HKDF reuse long-lived noble hash instances (see sha2-reuse.ts): same bytes as
  // noble's one-shot functions, without constructing hash objects on every call.
  sha256(data: Uint8Array): Uint8Array {
    assertBytes(data, 'data');
    return reusableSha256.hash([data]);
  },
  sha512(data: Uint8Array): Uint8Array {
    assertBytes(data, 'data');
    return reusableSha512.hash([data]);
  },
  sha512Multi(parts: Uint8Array[]): Uint8Array {
    for (const p of parts) assertBytes(p, 'part');
    return reusableSha512.hash(parts);
  },
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'key');
    assertBytes(data, 'data');
    return reusableSha256.hmac(key, data);
  },
  hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array {
    assertBytes(key, 'key');
    assertBytes(data, 'data');
    return reusableSha512.hmac(key, data);
  },
  hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array {
    assertBytes(ikm, 'ikm');
    if (salt !== undefined) assertBytes(salt, 'salt');
    assertBytes(info, 'info');
    checkLength(length, 255 * 32);
    if (length === 0) return new Uint8Array(0);
    return reusableSha256.hkdf(ikm, salt, info, length);
  },
  aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
    checkCbc(key, iv, plaintext);
    return cbc(key, iv).encrypt(plaintext);
  },
  aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    checkCbc(key, iv, ciphertext);
    if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
      throw new VerificationError('AES-CBC ciphertext has an invalid length', { code: ErrorCode.BadPadding });
    }
    try {
      return cbc(key, iv).decrypt(ciphertext);
    } catch {
      throw new VerificationError('AES-CBC padding is invalid', { code: ErrorCode.BadPadding });
    }
  },
  aes256GcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
    checkGcm(key, nonce, plaintext, aad);
    return gcm(key, nonce, aad).encrypt(plaintext);
  },
  aes256GcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
    checkGcm(key, nonce, sealed, aad);
    if (sealed.length < 16)
      throw new VerificationError('AES-GCM input is shorter than its tag', {
        code: ErrorCode.AeadTagMismatch,
      });
    try {
      return gcm(key, nonce, aad).decrypt(sealed);
    } catch {
      throw new VerificationError('AES-GCM tag mismatch', { code: ErrorCode.AeadTagMismatch });
    }
  },
  chacha20Poly1305Encrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array {
    checkAead(key, nonce, plaintext, aad, 12);
    return chacha20poly1305(key, nonce, aad).encrypt(plaintext);
  },
  chacha20Poly1305Decrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad?: Uint8Array,
  ): Uint8Array {
    checkAead(key, nonce, sealed, aad, 12);
    if (sealed.length < 16) {
      throw new VerificationError('ChaCha20-Poly1305 input is shorter than its tag', {
        code: ErrorCode.AeadTagMismatch,
      });
    }
    try {
      return chacha20poly1305(key, nonce, aad).decrypt(sealed);
    } catch {
      throw new VerificationError('ChaCha20-Poly1305 tag mismatch', { code: ErrorCode.AeadTagMismatch });
    }
  },
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
    checkKey32(privateKey, 'privateKey');
    checkKey32(publicKey, 'publicKey');
    try {
      return x25519.getSharedSecret(privateKey, publicKey);
    } catch {
      // noble refuses an all-zero output; report it as such and let the caller decide.
      return new Uint8Array(32);
    }
  },
  x25519PublicKey(privateKey: Uint8Array): Uint8Array {
    checkKey32(privateKey, 'privateKey');
    return x25519.getPublicKey(privateKey);
  },
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
    checkKey32(publicKey, 'publicKey');
    assertBytes(message, 'message');
    assertBytes(signature, 'signature');
    if (signature.length !== 64) return false;
    try {
      return ed25519.verify(signature, message, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
    checkKey32(seed, 'seed');
    assertBytes(message, 'message');
    return ed25519.sign(message, seed);
  },
  ed25519PublicKey(seed: Uint8Array): Uint8Array {
    checkKey32(seed, 'seed');
    return ed25519.getPublicKey(seed);
  },
};

const s = nobleSync;

/** Pure TypeScript on @noble/*: runs in every JavaScript runtime, React Native included. */
export const nobleProvider: CryptoProvider = Object.freeze({
  name: 'noble',
  randomBytes: webRandomBytes,
  sha256: async (d: Uint8Array) => s.sha256(d),
  sha512: async (d: Uint8Array) => s.sha512(d),
  sha512Sync: (...parts: Uint8Array[]) => s.sha512Multi(parts),
  hmacSha256: async (k: Uint8Array, d: Uint8Array) => s.hmacSha256(k, d),
  hmacSha512: async (k: Uint8Array, d: Uint8Array) => s.hmacSha512(k, d),
  hmacSha256Sync: s.hmacSha256,
  hkdfSha256Sync: s.hkdfSha256,
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
