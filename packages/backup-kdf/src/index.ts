// @e2ee-kit/backup-kdf — encrypted, streaming backups unlocked by a password (Argon2id) or a 64-digit key.
// Re-exported from @e2ee-kit/core so apps need only this package (same classes, not copies): every
// error class a code of this package's \`ErrorCode\` can name, and the crypto providers.
export {
  type CryptoProvider,
  createPlatformProvider,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
  InvalidKeyError,
  LockedOutError,
  MessageGapError,
  nobleProvider,
  type PlatformProviderOptions,
  platformProvider,
  SessionNotFoundError,
  StoreError,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WrongPasswordError,
} from '@e2ee-kit/core';
export {
  ARGON2_FORMAT_LIMITS,
  type Argon2Input,
  type Argon2PackageLike,
  type Argon2Params,
  type Argon2Provider,
  argon2PackageProvider,
  type CalibrateOptions,
  calibrateArgon2,
  DEFAULT_ARGON2_PARAMS,
  DEFAULT_MAX_ARGON2_WORK,
  defaultArgon2Provider,
  hashWasmArgon2Provider,
  isUnsafeTestParams,
  MIN_ARGON2_PARAMS,
  nobleArgon2Provider,
} from './argon2.js';
export {
  type AttemptPolicy,
  type AttemptReservation,
  type AttemptState,
  type AttemptStore,
  DEFAULT_LOCKOUT_STEPS_MS,
  defaultAttemptPolicy,
  LocalBackoffPolicy,
  type LocalBackoffPolicyOptions,
  MAX_TRACKED_SLOTS,
  MemoryAttemptStore,
  noAttemptLimit,
} from './attempts.js';
export { BackupKeyring } from './backup.js';
export {
  BackupErrorCode,
  BackupFormatError,
  BackupPayloadError,
  BackupTamperedError,
  ErrorCode,
  IncorrectSecretError,
  InvalidRecoveryKeyError,
  NoMatchingSlotError,
  PasswordRejectedError,
  SlotsChangedError,
} from './errors.js';
export { DEFAULT_CHUNK_LOG2, type Suite } from './format.js';
export { changeBackupPassword, createBackup, openBackup, unlockBackup } from './operations.js';
export {
  type Argon2Caps,
  type BackupMetadata,
  type CreateBackupOptions,
  type CreateKeyringOptions,
  type CryptoOptions,
  DEFAULT_MAX_ARGON2_MEMORY_KIB,
  type EncryptOptions,
  type ExternalResolver,
  type ExternalSlotInit,
  type KeyringOptions,
  type NewPasswordOptions,
  type OpenOptions,
  type SlotInfo,
  type UnlockWith,
} from './options.js';
export { ABSOLUTE_MIN_PASSWORD_LENGTH, DEFAULT_MIN_PASSWORD_LENGTH, normalizePassword } from './password.js';
export { readBackupMetadata } from './preamble.js';
export {
  checkRecoveryKey,
  importHexRecoveryKey,
  parseRecoveryKey,
  RECOVERY_KEY_DIGITS,
  RecoveryKey,
  type RecoveryKeyCheck,
  type RecoveryKeyFormat,
  RecoveryKeySuggestion,
} from './recovery-key.js';
export { joinBackupFile, splitBackupFile } from './split.js';
export { type ByteSource, ByteStream } from './stream.js';
