/**
 * Typed errors of @e2ee-kit/backup-kdf. Every failure a caller may want to tell apart has its own
 * class and stable `code`; none carries key material, a password or plaintext.
 */
import {
  ErrorCode as CoreErrorCode,
  DecodeError,
  E2eeError,
  VerificationError,
  WrongPasswordError,
} from '@e2ee-kit/core';

/** Stable codes added by this package (core's `WRONG_PASSWORD`, `LOCKED_OUT`, `UNSUPPORTED` are reused). */
export const BackupErrorCode = {
  /** The bytes do not start with the backup magic: not a backup, or mangled by a text-mode transfer. */
  BadMagic: 'BACKUP_BAD_MAGIC',
  /** A format version this reader does not know. */
  UnsupportedVersion: 'BACKUP_UNSUPPORTED_VERSION',
  /** A header or slot parameter outside the range the format allows (or above this reader's limits). */
  ParameterOutOfRange: 'BACKUP_PARAM_OUT_OF_RANGE',
  /** Structurally malformed header or slot section (lengths, duplicate or unknown slots). */
  Malformed: 'BACKUP_MALFORMED',
  /** The file header does not match the unlocked key: it was modified. */
  HeaderTampered: 'BACKUP_HEADER_TAMPERED',
  /** The slot section's MAC failed: a slot was modified, added, removed, or comes from another backup. */
  SlotsTampered: 'BACKUP_SLOTS_TAMPERED',
  /** The payload ended before its final chunk. */
  Truncated: 'BACKUP_TRUNCATED',
  /** Bytes follow the final chunk. */
  TrailingData: 'BACKUP_TRAILING_DATA',
  /** A chunk authenticates, but at another position of this file (reordered, duplicated or dropped chunks). */
  ChunkReordered: 'BACKUP_CHUNK_REORDERED',
  /** A chunk does not authenticate at all: modified, cut short, or taken from another file. */
  ChunkInvalid: 'BACKUP_CHUNK_INVALID',
  /** No slot of the backup can be opened with the kind of secret given. */
  NoMatchingSlot: 'BACKUP_NO_MATCHING_SLOT',
  /** A recovery key with the wrong length or characters (a typo: not counted as an attempt). */
  RecoveryKeyFormat: 'RECOVERY_KEY_FORMAT',
  /** A recovery key whose checksum fails (a typo: not counted as an attempt). */
  RecoveryKeyChecksum: 'RECOVERY_KEY_CHECKSUM',
  /** An empty or blank password — only white space or invisible characters (refused before any KDF runs). */
  PasswordEmpty: 'PASSWORD_EMPTY',
  /** A password shorter than the minimum (refused before any KDF runs). */
  PasswordTooShort: 'PASSWORD_TOO_SHORT',
  /**
   * A new password with an unpaired UTF-16 surrogate, which UTF-8 cannot encode (broken text input;
   * refused when a password is set, so that two different strings never derive the same key).
   */
  PasswordMalformed: 'PASSWORD_MALFORMED',
  /**
   * A keyring's password change was refused because its slots changed while the new password's KDF
   * ran (another change landed first): nothing was changed; retry on the current slots.
   */
  SlotsChanged: 'BACKUP_SLOTS_CHANGED',
} as const;

export type BackupErrorCode = (typeof BackupErrorCode)[keyof typeof BackupErrorCode];

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `BackupErrorCode` in one
 * object, so `E2eeError.is(err, ErrorCode.LockedOut)` needs nothing but this package.
 */
export const ErrorCode = /* @__PURE__ */ Object.freeze(
  // Pure (Object.assign, not a spread, which esbuild keeps): bundles that never read it drop it.
  /* @__PURE__ */ Object.assign({}, CoreErrorCode, BackupErrorCode),
);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Magic, version, a slot or header field out of range, malformed structure. */
export class BackupFormatError extends DecodeError {
  /** The field at fault, e.g. `chunk_log2`, `m_kib`, `slot_count` (never a value). */
  readonly field: string | undefined;
  constructor(code: BackupErrorCode, message: string, field?: string) {
    super(message, { code });
    this.name = 'BackupFormatError';
    this.field = field;
  }
}

/** Header or slot section tampering, detected by a MAC under the unlocked data key. */
export class BackupTamperedError extends VerificationError {
  constructor(
    code: typeof BackupErrorCode.HeaderTampered | typeof BackupErrorCode.SlotsTampered,
    message: string,
  ) {
    super(message, { code });
    this.name = 'BackupTamperedError';
  }
}

/**
 * A payload failure: truncation, trailing bytes, reordered chunks or a chunk that does not
 * authenticate. `position` is the index of the chunk where reading stopped; no byte of that chunk
 * (or of any later one) was released.
 */
export class BackupPayloadError extends VerificationError {
  readonly position: number;
  /** For `BACKUP_CHUNK_REORDERED`: the position the chunk found at `position` was written for. */
  readonly writtenAt: number | undefined;
  constructor(
    code:
      | typeof BackupErrorCode.Truncated
      | typeof BackupErrorCode.TrailingData
      | typeof BackupErrorCode.ChunkReordered
      | typeof BackupErrorCode.ChunkInvalid,
    message: string,
    position: number,
    writtenAt?: number,
  ) {
    super(message, { code });
    this.name = 'BackupPayloadError';
    this.position = position;
    this.writtenAt = writtenAt;
  }
}

/** The backup has no slot for this kind of secret (e.g. a recovery key given but none was added). */
export class NoMatchingSlotError extends E2eeError {
  constructor(message: string) {
    super(BackupErrorCode.NoMatchingSlot, message);
    this.name = 'NoMatchingSlotError';
  }
}

/**
 * A typed-in recovery key that cannot be right: wrong length, characters, or checksum. It is
 * rejected locally and never counts as a failed attempt. Use `checkRecoveryKey` for a suggested
 * correction (the error itself carries no key digits).
 */
export class InvalidRecoveryKeyError extends E2eeError {
  constructor(
    code: typeof BackupErrorCode.RecoveryKeyFormat | typeof BackupErrorCode.RecoveryKeyChecksum,
    message: string,
  ) {
    super(code, message);
    this.name = 'InvalidRecoveryKeyError';
  }
}

const PASSWORD_REJECTED = {
  PASSWORD_EMPTY: () => 'password is empty or blank',
  PASSWORD_TOO_SHORT: (minLength: number) => `password is shorter than ${minLength} characters`,
  PASSWORD_MALFORMED: () => 'password contains an unpaired UTF-16 surrogate (broken text input)',
} as const;

/**
 * An empty, blank, too-short or (when set) malformed password, refused before any KDF runs (not
 * counted as an attempt).
 */
export class PasswordRejectedError extends E2eeError {
  readonly minLength: number;
  constructor(code: keyof typeof PASSWORD_REJECTED, minLength: number) {
    super(code, PASSWORD_REJECTED[code](minLength));
    this.name = 'PasswordRejectedError';
    this.minLength = minLength;
  }
}

/**
 * The password or key did not unwrap any matching slot. Counted as a failed attempt by the
 * attempt policy; `remainingAttempts` / `lockedUntil` tell the UI what happens next when known.
 */
export class IncorrectSecretError extends WrongPasswordError {
  readonly remainingAttempts: number | undefined;
  readonly lockedUntil: Date | undefined;
  constructor(info: { remainingAttempts?: number | undefined; lockedUntil?: Date | undefined } = {}) {
    super('wrong password or key');
    this.name = 'IncorrectSecretError';
    this.remainingAttempts = info.remainingAttempts;
    this.lockedUntil = info.lockedUntil;
  }
}

/**
 * A keyring's slots changed while this change of them was computed (two password changes at once):
 * the other change stands and this one wrote nothing, so no caller is told a password is set that
 * was then silently replaced. Retry (it then replaces what the other change set).
 */
export class SlotsChangedError extends E2eeError {
  constructor() {
    super(
      BackupErrorCode.SlotsChanged,
      "the keyring's slots changed during this change: nothing was changed",
    );
    this.name = 'SlotsChangedError';
  }
}

// The class each of this package's codes belongs to: `E2eeError.is(err, code)` narrows to it.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<BackupErrorCode, E2eeError> {
    BACKUP_BAD_MAGIC: BackupFormatError;
    BACKUP_UNSUPPORTED_VERSION: BackupFormatError;
    BACKUP_PARAM_OUT_OF_RANGE: BackupFormatError;
    BACKUP_MALFORMED: BackupFormatError;
    BACKUP_HEADER_TAMPERED: BackupTamperedError;
    BACKUP_SLOTS_TAMPERED: BackupTamperedError;
    BACKUP_TRUNCATED: BackupPayloadError;
    BACKUP_TRAILING_DATA: BackupPayloadError;
    BACKUP_CHUNK_REORDERED: BackupPayloadError;
    BACKUP_CHUNK_INVALID: BackupPayloadError;
    BACKUP_NO_MATCHING_SLOT: NoMatchingSlotError;
    RECOVERY_KEY_FORMAT: InvalidRecoveryKeyError;
    RECOVERY_KEY_CHECKSUM: InvalidRecoveryKeyError;
    PASSWORD_EMPTY: PasswordRejectedError;
    PASSWORD_TOO_SHORT: PasswordRejectedError;
    PASSWORD_MALFORMED: PasswordRejectedError;
    BACKUP_SLOTS_CHANGED: SlotsChangedError;
  }
}
