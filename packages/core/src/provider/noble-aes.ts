/**
 * noble AES-256-CBC and AES-256-GCM (synchronous), with the provider contract's checks and errors.
 * Plain functions, so a bundle that calls only CBC keeps no GCM (GHASH) code.
 */
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { copyBytes } from '../bytes.js';
import { VerificationError } from '../errors.js';
import { checkCbc, checkGcm } from './checks.js';

export function aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  checkCbc(key, iv, plaintext);
  return cbc(key, iv).encrypt(plaintext);
}

export function aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkCbc(key, iv, ciphertext);
  if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
    throw new VerificationError('AES-CBC ciphertext has an invalid length', { code: 'BAD_PADDING' });
  }
  // noble unpads by returning a view of its output (`subarray(0, length − pad)`): the caller's
  // `.buffer` would also hold the padding, and its length differ from the node and Web Crypto
  // providers' answers. Decrypt into our own array, hand out an exact copy, wipe the array (it holds
  // the plaintext, or, for bad padding, the unauthenticated decryption).
  const out = new Uint8Array(ciphertext.length);
  try {
    return copyBytes(cbc(key, iv).decrypt(ciphertext, out));
  } catch {
    throw new VerificationError('AES-CBC padding is invalid', { code: 'BAD_PADDING' });
  } finally {
    out.fill(0);
  }
}

export function aes256GcmEncrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  checkGcm(key, nonce, plaintext, aad);
  return gcm(key, nonce, aad).encrypt(plaintext);
}

export function aes256GcmDecrypt(
  key: Uint8Array,
  nonce: Uint8Array,
  sealed: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  checkGcm(key, nonce, sealed, aad);
  if (sealed.length < 16)
    throw new VerificationError('AES-GCM input is shorter than its tag', {
      code: 'AEAD_TAG_MISMATCH',
    });
  try {
    return gcm(key, nonce, aad).decrypt(sealed);
  } catch {
    throw new VerificationError('AES-GCM tag mismatch', { code: 'AEAD_TAG_MISMATCH' });
  }
}

export const nobleAes = { aes256CbcEncrypt, aes256CbcDecrypt, aes256GcmEncrypt, aes256GcmDecrypt };
