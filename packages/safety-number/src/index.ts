// @e2ee-kit/safety-number — Signal-compatible safety numbers (libsignal Fingerprint v1/v2).
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
  type FormatOptions,
  formatSafetyNumber,
  parseSafetyNumber,
  SAFETY_NUMBER_DIGITS,
  safetyNumberGroups,
} from './display.js';
export {
  ErrorCode,
  SafetyNumberErrorCode,
  SafetyNumberFormatError,
  type SafetyNumberFormatReason,
} from './errors.js';
export {
  computeSafetyNumber,
  DEFAULT_ITERATIONS,
  FingerprintVersion,
  type IdentityKeyInput,
  MAX_ITERATIONS,
  MIN_ITERATIONS,
  SafetyNumber,
  type SafetyNumberOptions,
  type SafetyNumberParty,
} from './fingerprint.js';
export { aciIdentifier, e164Identifier } from './identifiers.js';
export { type CompareResult, SCANNABLE_FINGERPRINT_LENGTH, ScannableFingerprint } from './scannable.js';
