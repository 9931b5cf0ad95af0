/**
 * noble X25519 and Ed25519 (synchronous), with the provider contract's checks. Plain functions, as in
 * noble-sha2.ts: code that needs one of them imports it without the others.
 */
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { assertBytes } from '../bytes.js';
import { checkKey32, ed25519VerifyArgsOk } from './checks.js';

const L = ed25519.Point.Fn.ORDER;
type EdwardsPoint = InstanceType<typeof ed25519.Point>;

export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  checkKey32(privateKey, 'privateKey');
  checkKey32(publicKey, 'publicKey');
  try {
    return nobleX25519.getSharedSecret(privateKey, publicKey);
  } catch {
    // noble refuses an all-zero output; report it as such and let the caller decide.
    return new Uint8Array(32);
  }
}

export function x25519PublicKey(privateKey: Uint8Array): Uint8Array {
  checkKey32(privateKey, 'privateKey');
  return nobleX25519.getPublicKey(privateKey);
}

/**
 * The cofactorless verification equation, on encodings: `encode([s]·B − [k]·A) == R` byte for byte
 * (`s`, `k` public; `s` already reduced). What OpenSSL, BoringSSL and Web Crypto check, and libsignal's
 * XEdDSA: an R or A with a small-order component fails it.
 */
export function ed25519EquationHolds(A: EdwardsPoint, k: bigint, s: bigint, R: Uint8Array): boolean {
  const check = ed25519.Point.BASE.multiplyUnsafe(s).subtract(A.multiplyUnsafe(k)).toBytes();
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= (check[i] as number) ^ (R[i] as number);
  return diff === 0;
}

/**
 * RFC 8032 Ed25519 verification as the native verifiers do it: A strictly decoded (y < p), s < L,
 * k = SHA-512(R ‖ A ‖ M) mod L, then the cofactorless equation. Not noble's `ed25519.verify`: that
 * checks the cofactored equation (`[8]·(R + [k]A − [s]B) = O`) and refuses small-order A, so it
 * accepts an R with a small-order component that the node and Web Crypto providers (and libsignal's
 * XEdDSA) refuse, and refuses what they accept under a small-order A.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!ed25519VerifyArgsOk(publicKey, message, signature)) return false;
  const R = signature.subarray(0, 32);
  const s = bytesToNumberLE(signature.subarray(32, 64));
  if (s >= L) return false;
  let A: EdwardsPoint;
  try {
    A = ed25519.Point.fromBytes(publicKey, false);
  } catch {
    return false;
  }
  const k = bytesToNumberLE(sha512.create().update(R).update(publicKey).update(message).digest()) % L;
  return ed25519EquationHolds(A, k, s, R);
}

export function ed25519Sign(seed: Uint8Array, message: Uint8Array): Uint8Array {
  checkKey32(seed, 'seed');
  assertBytes(message, 'message');
  return ed25519.sign(message, seed);
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  checkKey32(seed, 'seed');
  return ed25519.getPublicKey(seed);
}

export const nobleCurve25519 = { x25519, x25519PublicKey, ed25519Verify, ed25519Sign, ed25519PublicKey };
