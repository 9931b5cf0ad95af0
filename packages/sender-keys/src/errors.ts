/**
 * Errors specific to sender keys. The other failures use core's classes:
 * `DecodeError` (malformed bytes, legacy or unknown version), `VerificationError` with code
 * `INVALID_SIGNATURE` (bad signature) or `BAD_PADDING` (decryption failed), `DuplicateMessageError`,
 * `MessageGapError` (too far in the future) and `StoreError` (the store threw).
 */
import { type Address, ErrorCode as CoreErrorCode, E2eeError, type E2eeErrorOptions } from '@e2ee-kit/core';

export const SenderKeyErrorCode = {
  /** No state for this (sender, distribution id), or none for the message's chain id. */
  MissingSenderKey: 'SENDER_KEY_MISSING',
  /** A stored state is unusable (no private signing key for encrypt, chain exhausted, corrupt keys). */
  InvalidSenderKeySession: 'INVALID_SENDER_KEY_SESSION',
  /**
   * A `GroupCipher` call made from a `decrypt`'s `deliver` (synchronously, or inside its
   * `scope.run`) for the (sender, distribution id) being decrypted: it would wait for ever for the
   * decrypt that waits for `deliver`. Nothing was done; make the call once `decrypt` has resolved.
   */
  ReentrantCall: 'REENTRANT_CALL',
} as const;
export type SenderKeyErrorCode = (typeof SenderKeyErrorCode)[keyof typeof SenderKeyErrorCode];

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `SenderKeyErrorCode` in one
 * object, so `E2eeError.is(err, ErrorCode.MissingSenderKey)` needs nothing but this package.
 */
export const ErrorCode = /* @__PURE__ */ Object.freeze(
  // Pure (Object.assign, not a spread, which esbuild keeps): bundles that never read it drop it.
  /* @__PURE__ */ Object.assign({}, CoreErrorCode, SenderKeyErrorCode),
);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * No sender key to decrypt with: the app should ask `sender` for a new distribution message for
 * `distributionId` (a resend request) and may retry the message once it has processed it.
 * Names the sender and the distribution id, never any key material.
 */
export class MissingSenderKeyError extends E2eeError {
  readonly sender: Address;
  readonly distributionId: string;
  /** The message's chain id, when the record exists but holds no state for that chain. */
  readonly chainId: number | undefined;

  constructor(sender: Address, distributionId: string, chainId?: number, options?: E2eeErrorOptions) {
    super(
      SenderKeyErrorCode.MissingSenderKey,
      `missing sender key state for ${sender.name}.${sender.deviceId}, distribution ${distributionId}`,
      options,
    );
    this.name = 'MissingSenderKeyError';
    this.sender = Object.freeze({ name: sender.name, deviceId: sender.deviceId });
    this.distributionId = distributionId;
    this.chainId = chainId;
  }
}

/** The stored record cannot be used for this operation. Nothing was changed. */
export class InvalidSenderKeySessionError extends E2eeError {
  readonly distributionId: string;
  constructor(distributionId: string, reason: string, options?: E2eeErrorOptions) {
    super(
      SenderKeyErrorCode.InvalidSenderKeySession,
      `invalid sender key session for distribution ${distributionId}: ${reason}`,
      options,
    );
    this.name = 'InvalidSenderKeySessionError';
    this.distributionId = distributionId;
  }
}

// The class each of this package's codes belongs to: `E2eeError.is(err, code)` narrows to it.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<SenderKeyErrorCode, E2eeError> {
    SENDER_KEY_MISSING: MissingSenderKeyError;
    INVALID_SENDER_KEY_SESSION: InvalidSenderKeySessionError;
  }
}
