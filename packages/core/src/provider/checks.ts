import { assertBytes } from '../bytes.js';

export function checkLength(length: number, max: number, name = 'length'): void {
  if (typeof length !== 'number' || !Number.isInteger(length))
    throw new TypeError(`${name} must be an integer`);
  if (length < 0 || length > max) throw new RangeError(`${name} must be between 0 and ${max}`);
}

export function checkKey32(key: unknown, name = 'key'): asserts key is Uint8Array {
  assertBytes(key, name, 32);
}

export function checkAead(
  key: unknown,
  nonce: unknown,
  data: unknown,
  aad: unknown,
  nonceLength?: number,
): void {
  assertBytes(key, 'key', 32);
  assertBytes(nonce, 'nonce');
  if (nonceLength !== undefined && nonce.length !== nonceLength) {
    throw new RangeError(`nonce must be ${nonceLength} bytes, got ${nonce.length}`);
  }
  if (nonce.length === 0) throw new RangeError('nonce must not be empty');
  assertBytes(data, 'data');
  if (aad !== undefined) assertBytes(aad, 'aad');
}

/** AES-GCM nonces: 12 bytes is the standard; other lengths from 8 bytes up use the GHASH-derived J0 (SP 800-38D). */
export const GCM_MIN_NONCE_LENGTH = 8;

export function checkGcm(key: unknown, nonce: unknown, data: unknown, aad: unknown): void {
  checkAead(key, nonce, data, aad);
  if ((nonce as Uint8Array).length < GCM_MIN_NONCE_LENGTH) {
    throw new RangeError(`AES-GCM nonce must be at least ${GCM_MIN_NONCE_LENGTH} bytes`);
  }
}

export function checkCbc(key: unknown, iv: unknown, data: unknown): void {
  assertBytes(key, 'key', 32);
  assertBytes(iv, 'iv', 16);
  assertBytes(data, 'data');
}

/**
 * Ed25519 verification's argument checks: `TypeError`/`RangeError` for a wrong type or key length;
 * `false` for a signature that cannot be one (not 64 bytes) or a public key that RFC 8032 §5.1.3
 * decoding refuses, which every provider answers without verifying. OpenSSL (node:crypto, and Web
 * Crypto in Node) decodes those keys anyway (y mod p, −0 as 0) and would accept, under the non-canonical
 * encodings of the identity, R = [s]B for any message, where the noble provider's strict decoding refuses.
 */
export function ed25519VerifyArgsOk(publicKey: unknown, message: unknown, signature: unknown): boolean {
  checkKey32(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  return signature.length === 64 && ed25519KeyCanonical(publicKey);
}

/**
 * Whether a 32-byte Edwards point encoding has y < p and is not x = 0 with the sign bit set (x = 0 only
 * for y = ±1). Public data: plain branches. p = 2²⁵⁵ − 19, so y ≥ p is bytes 1..30 all 0xff, byte 31
 * 0x7f (sign bit aside) and byte 0 ≥ 0xed; y = p − 1 is the same with byte 0 = 0xec.
 */
function ed25519KeyCanonical(a: Uint8Array): boolean {
  const last = a[31] as number;
  let all = last | 0x80; // 0xff iff bytes 1..31 (sign bit aside) are those of p − 1
  let any = last & 0x7f; // 0 iff they are those of y = 1
  for (let i = 1; i < 31; i++) {
    all &= a[i] as number;
    any |= a[i] as number;
  }
  const lo = a[0] as number;
  if (all === 0xff && lo >= 0xed) return false;
  return last < 0x80 || !(all === 0xff ? lo === 0xec : any === 0 && lo === 1);
}

/** Arguments of `sha512IterateSync`, checked alike by every provider. */
export function checkIterate(first: unknown, suffix: unknown, rounds: unknown): void {
  assertBytes(first, 'first');
  assertBytes(suffix, 'suffix');
  if (!Number.isInteger(rounds) || (rounds as number) < 1 || (rounds as number) > 0xffff_ffff)
    throw new RangeError('rounds must be an integer from 1 to 4294967295');
}
