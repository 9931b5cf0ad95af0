import { type CryptoProvider, withRandom } from '@e2ee-kit/core';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { sha256 } from '@noble/hashes/sha2.js';

/**
 * A deterministic byte stream (ChaCha20 keystream keyed by SHA-256 of the seed). For reproducible
 * tests only: never use it for real keys.
 */
export function createDeterministicRandom(seed: Uint8Array | string): (length: number) => Uint8Array {
  const seedBytes = typeof seed === 'string' ? new TextEncoder().encode(seed) : seed;
  if (!(seedBytes instanceof Uint8Array)) throw new TypeError('seed must be a string or a Uint8Array');
  const key = sha256(seedBytes);
  let counter = 0;
  return (length: number) => {
    if (!Number.isInteger(length) || length < 0 || length > 1 << 20)
      throw new RangeError('length out of range');
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(0, counter++, true);
    return chacha20(key, nonce, new Uint8Array(length));
  };
}

/** `provider` with its randomness replaced by a deterministic stream from `seed`. */
export function deterministicProvider<P extends CryptoProvider>(provider: P, seed: Uint8Array | string): P {
  return withRandom(provider, createDeterministicRandom(seed));
}
