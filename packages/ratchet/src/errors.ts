import {
  ErrorCode as CoreErrorCode,
  type DecodeError,
  E2eeError,
  type InvalidKeyError,
  type VerificationError,
} from '@e2ee-kit/core';
import type { FanoutIncompleteError } from './devices/fan-out-error.js';
import { SpqrErrorCode } from './spqr/errors.js';

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
  /**
   * The first session state tried would need more than the per-decrypt work budget (`DECRYPT_WORK_BUDGET`).
   * Any other message within libsignal's limits fits it, so in practice: a self-session jump past the
   * budget (a jump above `SELF_SESSION_MAX_FORWARD_JUMPS` is `MESSAGE_GAP`).
   */
  WorkBudgetExceeded: 'WORK_BUDGET_EXCEEDED',
  /**
   * The last-resort Kyber pre-key already carries `MAX_LAST_RESORT_USES` replay markers (a flood of
   * PreKey messages, or no rotation for a long time): rotate it and upload the new one.
   */
  LastResortKyberPreKeyExhausted: 'LAST_RESORT_KYBER_PREKEY_EXHAUSTED',
  /**
   * A `SessionCipher` or `PreKeyManager` call made from inside a `decrypt`'s `deliver` callback for a
   * lock that decrypt holds (the same address; any PreKey decrypt or pre-key operation while a PreKey
   * message is delivered): it would wait for the decrypt, which waits for the callback. Refused at
   * once when made directly or inside the callback's `scope.run`; any other call waiting behind a
   * callback still running after a minute is refused then, since it may be
   * the callback's own after an await (a hang otherwise). Make the call once `decrypt` has resolved.
   */
  ReentrantCall: 'REENTRANT_CALL',
  /**
   * A `DeviceFanout.send` failed after some account's messages were accepted (the recipient has the
   * message, the sync copy failed): `FanoutIncompleteError`; retry only the accounts not sent.
   */
  FanoutIncomplete: 'FANOUT_INCOMPLETE',
} as const;
export type RatchetErrorCode = (typeof RatchetErrorCode)[keyof typeof RatchetErrorCode];

/** Which pre-key a `PreKeyNotFoundError` names. */
export type PreKeyKind = 'one-time' | 'signed' | 'kyber';

const PREKEY_CODES: Record<PreKeyKind, RatchetErrorCode> = {
  'one-time': RatchetErrorCode.InvalidPreKeyId,
  signed: RatchetErrorCode.InvalidSignedPreKeyId,
  kyber: RatchetErrorCode.InvalidKyberPreKeyId,
};

/**
 * A PreKey message names a pre-key the store does not hold (`INVALID_PREKEY_ID`,
 * `INVALID_SIGNED_PREKEY_ID` or `INVALID_KYBER_PREKEY_ID`). Ids and addresses are not secret, so the
 * message names both and they are readable as fields (e.g. to tell the sender its bundle is stale).
 */
export class PreKeyNotFoundError extends E2eeError {
  readonly kind: PreKeyKind;
  readonly preKeyId: number;
  readonly address: { readonly name: string; readonly deviceId: number };
  constructor(kind: PreKeyKind, preKeyId: number, address: { name: string; deviceId: number }) {
    super(
      PREKEY_CODES[kind],
      `unknown ${kind} pre-key id ${preKeyId} in a PreKey message from ${address.name}.${address.deviceId}`,
    );
    this.name = 'PreKeyNotFoundError';
    this.kind = kind;
    this.preKeyId = preKeyId;
    this.address = Object.freeze({ name: address.name, deviceId: address.deviceId });
  }
}

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `RatchetErrorCode` in one
 * object (with the post-quantum ratchet's `SPQR_*` codes), so `E2eeError.is(err, ErrorCode.InvalidMessage)`
 * needs nothing but this package.
 */
export const ErrorCode = /* @__PURE__ */ Object.freeze(
  // Pure (Object.assign, not a spread, which esbuild keeps): bundles that never read it drop it.
  /* @__PURE__ */ Object.assign({}, CoreErrorCode, RatchetErrorCode, SpqrErrorCode),
);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

// The class each of this package's codes belongs to (`E2eeError.is(err, code)` narrows to it). Codes
// not listed (X3DH refusal, identity mismatch, a missing Kyber part, the work budget) are plain `E2eeError`s.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<RatchetErrorCode | SpqrErrorCode, E2eeError> {
    /** `VerificationError`, or `DecodeError` for a malformed post-quantum ratchet part. */
    INVALID_MESSAGE: VerificationError | DecodeError;
    LEGACY_CIPHERTEXT_VERSION: DecodeError;
    UNRECOGNIZED_CIPHERTEXT_VERSION: DecodeError;
    INVALID_BASE_KEY: InvalidKeyError;
    INVALID_PREKEY_ID: PreKeyNotFoundError;
    INVALID_SIGNED_PREKEY_ID: PreKeyNotFoundError;
    INVALID_KYBER_PREKEY_ID: PreKeyNotFoundError;
    SPQR_MESSAGE_DECODE: DecodeError;
    SPQR_STATE_DECODE: DecodeError;
    FANOUT_INCOMPLETE: FanoutIncompleteError;
  }
}
