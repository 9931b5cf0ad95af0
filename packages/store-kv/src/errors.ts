/**
 * Error codes of the e2ee-kit stores. Other failures use core's classes: `StoreError` (the database
 * failed, with its error as `cause`), `DecodeError` (a stored value does not decode) and
 * `VerificationError` with `AEAD_TAG_MISMATCH` (a sealed value was edited or moved to another row).
 */
import { ErrorCode as CoreErrorCode, type E2eeError } from '@e2ee-kit/core';

export const StoreErrorCode = {
  /** The store's format row is missing, malformed or from a newer version of this package. */
  StoreFormat: 'STORE_FORMAT',
  /** The store was sealed under another `encryptionKey` (or sealed / unsealed differently). */
  StoreKeyMismatch: 'STORE_KEY_MISMATCH',
} as const;
export type StoreErrorCode = (typeof StoreErrorCode)[keyof typeof StoreErrorCode];

/** Core's codes and the stores' own in one object: `E2eeError.is(err, ErrorCode.StoreKeyMismatch)`. */
export const ErrorCode = Object.freeze({ ...CoreErrorCode, ...StoreErrorCode });
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<StoreErrorCode, E2eeError> {}
}
