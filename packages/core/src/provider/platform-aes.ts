/**
 * `platformProvider`'s AES-256-CBC and AES-256-GCM: Web Crypto for large inputs, noble below (see
 * platform.ts). Two families, so a provider without GCM (defaultProviderWithoutAead) keeps no GHASH.
 */
import { VerificationError } from '../errors.js';
import { checkCbc, checkGcm } from './checks.js';
import { aes256CbcDecrypt, aes256CbcEncrypt, aes256GcmDecrypt, aes256GcmEncrypt } from './noble-aes.js';
import { buf, owningAll, type PlatformContext } from './platform-context.js';

export function platformAesCbc({ support, big }: PlatformContext) {
  return owningAll({
    async aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) {
      checkCbc(key, iv, plaintext);
      // Small inputs (every ratchet message) go to noble without waiting for the support probe.
      if (!big(plaintext.length)) return aes256CbcEncrypt(key, iv, plaintext);
      const s = await support();
      if (s.aesCbc) {
        const k = await s.subtle!.importKey('raw', buf(key), 'AES-CBC', false, ['encrypt']);
        return new Uint8Array(await s.subtle!.encrypt({ name: 'AES-CBC', iv: buf(iv) }, k, buf(plaintext)));
      }
      return aes256CbcEncrypt(key, iv, plaintext);
    },
    async aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) {
      checkCbc(key, iv, ciphertext);
      if (!big(ciphertext.length)) return aes256CbcDecrypt(key, iv, ciphertext);
      const s = await support();
      if (s.aesCbc) {
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
      return aes256CbcDecrypt(key, iv, ciphertext);
    },
  });
}

export function platformAesGcm({ support, big }: PlatformContext) {
  return owningAll({
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
      return aes256GcmEncrypt(key, nonce, plaintext, aad);
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
      return aes256GcmDecrypt(key, nonce, sealed, aad);
    },
  });
}
