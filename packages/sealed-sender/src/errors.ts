/**
 * Errors specific to sealed sender. Other failures use core's classes: `DecodeError` (malformed bytes),
 * `InvalidKeyError` (a bad key type, an all-zero key agreement) and `TypeError` / `RangeError` for misuse.
 */
import {
  ErrorCode as CoreErrorCode,
  DecodeError,
  E2eeError,
  type E2eeErrorOptions,
  VerificationError,
} from '@e2ee-kit/core';

export const SealedSenderErrorCode = {
  /** The version byte is not one this library reads. */
  UnknownVersion: 'SEALED_SENDER_UNKNOWN_VERSION',
  /** The envelope does not open with this recipient's identity key: a MAC, the ephemeral key or the AEAD tag failed. */
  DecryptionFailed: 'SEALED_SENDER_DECRYPTION_FAILED',
  /** The envelope opened, but it was not sealed by the identity key named in the sender certificate. */
  SenderMismatch: 'SEALED_SENDER_SENDER_MISMATCH',
  /** The sender certificate did not validate (untrusted signer, revoked, bad signature, expired, unknown signer id). */
  InvalidCertificate: 'SEALED_SENDER_INVALID_CERTIFICATE',
  /** The message comes from this very device (same ServiceId or E.164, same device id). */
  SelfSend: 'SEALED_SENDER_SELF_SEND',
} as const;
export type SealedSenderErrorCode = (typeof SealedSenderErrorCode)[keyof typeof SealedSenderErrorCode];

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `SealedSenderErrorCode` in one
 * object, so `E2eeError.is(err, ErrorCode.DecryptionFailed)` needs nothing but this package.
 */
export const ErrorCode = Object.freeze({ ...CoreErrorCode, ...SealedSenderErrorCode });
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** A sealed message (or SentMessage) whose version byte is unknown. */
export class SealedSenderVersionError extends DecodeError {
  readonly version: number;
  constructor(version: number) {
    super(`unknown sealed sender message version ${version}`, {
      code: SealedSenderErrorCode.UnknownVersion,
    });
    this.name = 'SealedSenderVersionError';
    this.version = version;
  }
}

/** Why a sender certificate failed validation (`SenderCertificate.check`). */
export type CertificateFailure =
  | 'unknown-signer'
  | 'revoked'
  | 'untrusted-signer'
  | 'bad-signature'
  | 'expired';

/** The sender certificate inside an opened envelope did not validate. Nothing was consumed. */
export class InvalidSenderCertificateError extends VerificationError {
  readonly reason: CertificateFailure;
  constructor(reason: CertificateFailure, options?: E2eeErrorOptions) {
    super(`sender certificate failed validation: ${reason}`, {
      ...options,
      code: SealedSenderErrorCode.InvalidCertificate,
    });
    this.name = 'InvalidSenderCertificateError';
    this.reason = reason;
  }
}

/** The message was sent by this device to itself (libsignal's `SealedSenderSelfSend`). */
export class SealedSenderSelfSendError extends E2eeError {
  constructor(options?: E2eeErrorOptions) {
    super(SealedSenderErrorCode.SelfSend, 'message was sent by this device', options);
    this.name = 'SealedSenderSelfSendError';
  }
}

export function decryptionFailed(what: string): VerificationError {
  return new VerificationError(`invalid sealed sender message: ${what}`, {
    code: SealedSenderErrorCode.DecryptionFailed,
  });
}

export function senderMismatch(what: string): VerificationError {
  return new VerificationError(`invalid sealed sender message: ${what}`, {
    code: SealedSenderErrorCode.SenderMismatch,
  });
}

// The class each of this package's codes belongs to: `E2eeError.is(err, code)` narrows to it.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<SealedSenderErrorCode, E2eeError> {
    SEALED_SENDER_UNKNOWN_VERSION: SealedSenderVersionError;
    SEALED_SENDER_DECRYPTION_FAILED: VerificationError;
    SEALED_SENDER_SENDER_MISMATCH: VerificationError;
    SEALED_SENDER_INVALID_CERTIFICATE: InvalidSenderCertificateError;
    SEALED_SENDER_SELF_SEND: SealedSenderSelfSendError;
  }
}
