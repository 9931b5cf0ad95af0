/** noble ChaCha20-Poly1305 (synchronous), with the provider contract's checks and errors. */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { VerificationError } from '../errors.js';
import { checkAead } from './checks.js';

export const nobleChacha = {
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
        code: 'AEAD_TAG_MISMATCH',
      });
    }
    try {
      return chacha20poly1305(key, nonce, aad).decrypt(sealed);
    } catch {
      throw new VerificationError('ChaCha20-Poly1305 tag mismatch', { code: 'AEAD_TAG_MISMATCH' });
    }
  },
};
