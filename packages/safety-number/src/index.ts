// @e2ee-kit/safety-number — Signal-compatible safety numbers (libsignal Fingerprint v1/v2).
export {
  type FormatOptions,
  formatSafetyNumber,
  parseSafetyNumber,
  SAFETY_NUMBER_DIGITS,
  safetyNumberGroups,
} from './display.js';
export {
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
