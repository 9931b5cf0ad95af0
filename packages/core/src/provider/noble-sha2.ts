/**
 * noble SHA-256 / SHA-512, HMAC and HKDF (synchronous), alone: a bundle that only hashes (safety
 * numbers) imports this module and none of the cipher or curve code.
 */
import { assertBytes } from '../bytes.js';
import { checkLength } from './checks.js';
import { reusableSha256, reusableSha512, sha256Hasher, sha512Hasher } from './sha2-reuse.js';
import { hkdfIsShort, hkdfShort, hmacIsShort, hmacShort } from './sha256-blocks.js';

// Hashes, HMAC and HKDF reuse long-lived noble hash instances (see sha2-reuse.ts): same bytes as
// noble's one-shot functions, without constructing hash objects on every call. Plain functions, so a
// bundle that calls only SHA-512 keeps only SHA-512. Short HMAC-SHA256 / HKDF-SHA256 inputs (every
// ratchet chain step, message key and MAC) take sha256-blocks.ts's block-by-block path instead.

export function sha256(data: Uint8Array): Uint8Array {
  assertBytes(data, 'data');
  return sha256Hasher.hash([data]);
}

export function sha512(data: Uint8Array): Uint8Array {
  assertBytes(data, 'data');
  return sha512Hasher.hash([data]);
}

export function sha512Multi(parts: Uint8Array[]): Uint8Array {
  for (const p of parts) assertBytes(p, 'part');
  return sha512Hasher.hash(parts);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  assertBytes(key, 'key');
  assertBytes(data, 'data');
  if (hmacIsShort(key.length, data.length)) return hmacShort(key, data);
  return reusableSha256.hmac(key, data);
}

export function hmacSha512(key: Uint8Array, data: Uint8Array): Uint8Array {
  assertBytes(key, 'key');
  assertBytes(data, 'data');
  return reusableSha512.hmac(key, data);
}

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  assertBytes(ikm, 'ikm');
  if (salt !== undefined) assertBytes(salt, 'salt');
  assertBytes(info, 'info');
  checkLength(length, 255 * 32);
  if (length === 0) return new Uint8Array(0);
  if (hkdfIsShort(ikm.length, salt?.length ?? 0, info.length)) return hkdfShort(ikm, salt, info, length);
  return reusableSha256.hkdf(ikm, salt, info, length);
}

export const nobleSha2 = { sha256, sha512, sha512Multi, hmacSha256, hmacSha512, hkdfSha256 };
