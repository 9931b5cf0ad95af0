import {
  ErrorCode as CoreErrorCode,
  type DecodeError,
  type E2eeError,
  type InvalidKeyError,
  type VerificationError,
} from '@e2ee-kit/core';

/**
 * Error codes added by this package. Every error is an `E2eeError` (or a core subclass) whose `code`
 * is one of core's `ErrorCode` values or one of these.
 */
export const RatchetErrorCode = {
  /** A message that no session state could decrypt (bad MAC, wrong session, corrupted). */
  InvalidMessage: 'INVALID_MESSAGE',
  /** Message version below 3 (pre-2016 libsignal). */
  LegacyCiphertextVersion: 'LEGACY_CIPHERTEXT_VERSION',
  /** Message version above 4. */
  UnrecognizedCiphertextVersion: 'UNRECOGNIZED_CIPHERTEXT_VERSION',
  /** A PreKey message names a one-time pre-key that is not (or no longer) in the store. */
  InvalidPreKeyId: 'INVALID_PREKEY_ID',
  /** A PreKey message names a signed pre-key that is not in the store. */
  InvalidSignedPreKeyId: 'INVALID_SIGNED_PREKEY_ID',
  /** A PreKey message names a Kyber pre-key that is not in the store. */
  InvalidKyberPreKeyId: 'INVALID_KYBER_PREKEY_ID',
  /** PQXDH was asked for but the bundle has no Kyber pre-key (or a version-4 message has no Kyber part). */
  MissingKyberPreKey: 'MISSING_KYBER_PREKEY',
  /** A version-3 (X3DH) PreKey message arrived and `acceptX3dh` is not set. */
  X3dhNotAccepted: 'X3DH_NOT_ACCEPTED',
  /** The base key of an incoming PreKey message is not canonical (libsignal ≥ 0.81 rule). */
  InvalidBaseKey: 'INVALID_BASE_KEY',
  /** A repeated PreKey message carries an identity key other than the session's. */
  IdentityMismatch: 'IDENTITY_MISMATCH',
} as const;
export type RatchetErrorCode = (typeof RatchetErrorCode)[keyof typeof RatchetErrorCode];

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `RatchetErrorCode` in one
 * object, so `E2eeError.is(err, ErrorCode.InvalidMessage)` needs nothing but this package.
 */
export const ErrorCode = Object.freeze({ ...CoreErrorCode, ...RatchetErrorCode });
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// The class each of this package's codes belongs to (`E2eeError.is(err, code)` narrows to it). Codes
// not listed (pre-key ids, X3DH refusal, identity mismatch, a missing Kyber part) are plain `E2eeError`s.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<RatchetErrorCode, E2eeError> {
    /** `VerificationError`, or `DecodeError` for a malformed post-quantum ratchet part. */
    INVALID_MESSAGE: VerificationError | DecodeError;
    LEGACY_CIPHERTEXT_VERSION: DecodeError;
    UNRECOGNIZED_CIPHERTEXT_VERSION: DecodeError;
    INVALID_BASE_KEY: InvalidKeyError;
  }
}
