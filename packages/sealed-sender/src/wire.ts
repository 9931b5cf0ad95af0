/** Small decoding helpers shared by the codecs, matching how libsignal (prost) reads fields. */
import { DecodeError, DJB_TYPE, fromUtf8, PUBLIC_KEY_LENGTH, PublicKey } from '@e2ee-kit/core';
import { MAX_SEALED_MESSAGE_LENGTH } from './constants.js';

/** The UTF-8 `bytes` as a string, every code point kept (a leading U+FEFF too); else a `DecodeError`. */
export function decodeString(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch {
    throw new DecodeError('protobuf string is not valid UTF-8');
  }
}

/**
 * A public key as libsignal parses one: type byte `0x05` then 32 bytes; libsignal tolerates (and
 * ignores) trailing bytes, so this does too. Anything else is a `DecodeError`.
 */
export function readPublicKey(bytes: Uint8Array, what: string): PublicKey {
  if (bytes.length < PUBLIC_KEY_LENGTH || bytes[0] !== DJB_TYPE)
    throw new DecodeError(`${what} is not a valid public key`);
  return PublicKey.deserialize(bytes.subarray(0, PUBLIC_KEY_LENGTH));
}

/** Refuses inputs larger than the library's fixed budget before any work is done. */
export function checkInputLength(bytes: Uint8Array, what: string): void {
  if (bytes.length > MAX_SEALED_MESSAGE_LENGTH)
    throw new DecodeError(`${what} is larger than ${MAX_SEALED_MESSAGE_LENGTH} bytes`);
}

/**
 * For the sealers: an envelope of `length` bytes would be refused by every decoder here (and by the
 * server's split), so it is not produced: a `RangeError` (the content is too large to send), thrown
 * before the work where the length is known in advance.
 */
export function checkSealedLength(length: number): void {
  if (length > MAX_SEALED_MESSAGE_LENGTH)
    throw new RangeError(`the sealed message would be larger than ${MAX_SEALED_MESSAGE_LENGTH} bytes`);
}

/**
 * `value` as a `PublicKey` of the core copy this package uses (`PublicKey.from`: another copy's key, in
 * an app that loads two copies of core, is read as this copy's; anything else a `TypeError`).
 */
export function ownPublicKey(value: unknown, name: string): PublicKey {
  return PublicKey.from(value, name);
}
