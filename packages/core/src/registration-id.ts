/**
 * Registration ids, apart from the identity store: code that only checks or draws one (the ratchet's
 * bundles and pre-keys) does not bring `KeyValueIdentityKeyStore` into a bundle (its redaction is a
 * top-level statement, which a bundler keeps together with the class).
 */

/** libsignal registration ids are 14 bits (1..16380); we accept 0..2^31-1 as libsignal's wire does. */
export function validateRegistrationId(id: unknown): asserts id is number {
  if (typeof id !== 'number' || !Number.isInteger(id))
    throw new TypeError('registrationId must be an integer');
  if (id < 0 || id > 0x7fffffff) throw new RangeError('registrationId out of range');
}

/** A random registration id in 1..16380, as libsignal's `KeyHelper.generateRegistrationId`. */
export function generateRegistrationId(randomBytes: (n: number) => Uint8Array): number {
  if (typeof randomBytes !== 'function') throw new TypeError('randomBytes must be a function');
  const b = randomBytes(2);
  if (!(b instanceof Uint8Array) || b.length < 2)
    throw new TypeError('randomBytes returned the wrong length');
  return ((((b[0] as number) << 8) | (b[1] as number)) % 16380) + 1;
}
