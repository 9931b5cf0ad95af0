/** `platformProvider`'s ChaCha20-Poly1305: Web Crypto for large inputs where offered, noble otherwise. */
import { VerificationError } from '../errors.js';
import { checkAead } from './checks.js';
import { nobleChacha } from './noble-chacha.js';
import { buf, owningAll, type PlatformContext } from './platform-context.js';

export function platformChacha({ support, big }: PlatformContext) {
  return owningAll({
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
      return nobleChacha.chacha20Poly1305Encrypt(key, nonce, plaintext, aad);
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
      return nobleChacha.chacha20Poly1305Decrypt(key, nonce, sealed, aad);
    },
  });
}
