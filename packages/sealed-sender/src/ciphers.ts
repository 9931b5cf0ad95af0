/**
 * The two symmetric constructions sealed sender uses that core's provider lacks, built on
 * @noble/ciphers (no primitive is written here):
 * - v1: AES-256-CTR from a zero counter block, then HMAC-SHA256 (provider) over the ciphertext,
 *   truncated to 10 bytes, checked in constant time before decrypting.
 * - v2: AES-256-GCM-SIV (RFC 8452) with a zero nonce and no associated data (the key is single-use).
 */
import { type CryptoProvider, constantTimeEqual } from '@e2ee-kit/core';
import { ctr, gcmsiv } from '@noble/ciphers/aes.js';
import { V1_MAC_LENGTH } from './constants.js';

const ZERO_IV = new Uint8Array(16);
const ZERO_NONCE = new Uint8Array(12);

/** `AES-256-CTR(key, plaintext) ‖ HMAC-SHA256(macKey, ciphertext)[0..10]`. */
export async function ctrHmacEncrypt(
  cipherKey: Uint8Array,
  macKey: Uint8Array,
  plaintext: Uint8Array,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ct = ctr(cipherKey, ZERO_IV).encrypt(plaintext);
  const mac = await provider.hmacSha256(macKey, ct);
  const out = new Uint8Array(ct.length + V1_MAC_LENGTH);
  out.set(ct, 0);
  out.set(mac.subarray(0, V1_MAC_LENGTH), ct.length);
  return out;
}

/** The plaintext, or undefined when the input is shorter than the MAC or the MAC does not match. */
export async function ctrHmacDecrypt(
  cipherKey: Uint8Array,
  macKey: Uint8Array,
  sealed: Uint8Array,
  provider: CryptoProvider,
): Promise<Uint8Array | undefined> {
  if (sealed.length < V1_MAC_LENGTH) return undefined;
  const ct = sealed.subarray(0, sealed.length - V1_MAC_LENGTH);
  const mac = await provider.hmacSha256(macKey, ct);
  if (!constantTimeEqual(mac.subarray(0, V1_MAC_LENGTH), sealed.subarray(ct.length))) return undefined;
  return ctr(cipherKey, ZERO_IV).decrypt(ct);
}

/** AES-256-GCM-SIV seal: ciphertext ‖ 16-byte tag. */
export function gcmSivSeal(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return gcmsiv(key, ZERO_NONCE).encrypt(plaintext);
}

/** AES-256-GCM-SIV open, or undefined when the tag does not verify (or the input is too short). */
export function gcmSivOpen(key: Uint8Array, sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < 16) return undefined;
  try {
    return gcmsiv(key, ZERO_NONCE).decrypt(sealed);
  } catch {
    return undefined;
  }
}
