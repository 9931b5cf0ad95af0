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
 * `false` for a signature that cannot be one (not 64 bytes), which every provider answers without
 * verifying.
 */
export function ed25519VerifyArgsOk(publicKey: unknown, message: unknown, signature: unknown): boolean {
  checkKey32(publicKey, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  return signature.length === 64;
}

/** Arguments of `sha512IterateSync`, checked alike by every provider. */
export function checkIterate(first: unknown, suffix: unknown, rounds: unknown): void {
  assertBytes(first, 'first');
  assertBytes(suffix, 'suffix');
  if (!Number.isInteger(rounds) || (rounds as number) < 1 || (rounds as number) > 0xffff_ffff)
    throw new RangeError('rounds must be an integer from 1 to 4294967295');
}
