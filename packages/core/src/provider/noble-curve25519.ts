/**
 * noble X25519 and Ed25519 (synchronous), with the provider contract's checks. Plain functions, as in
 * noble-sha2.ts: code that needs one of them imports it without the others.
 */
import { ed25519, x25519 as nobleX25519 } from '@noble/curves/ed25519.js';
import { assertBytes } from '../bytes.js';
import { checkKey32, ed25519VerifyArgsOk } from './checks.js';

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

export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!ed25519VerifyArgsOk(publicKey, message, signature)) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
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
