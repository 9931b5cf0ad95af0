import { ErrorCode as CoreErrorCode, DecodeError, type E2eeError } from '@e2ee-kit/core';

/** Stable error codes added by this package (core's codes such as `DECODE` are used as well). */
export const SafetyNumberErrorCode = {
  /** Text typed or pasted as a safety number is not 60 digits with optional spaces and dashes. */
  InvalidFormat: 'SAFETY_NUMBER_FORMAT',
} as const;
export type SafetyNumberErrorCode = (typeof SafetyNumberErrorCode)[keyof typeof SafetyNumberErrorCode];

/**
 * Every code an error of this package can carry: core's `ErrorCode` and `SafetyNumberErrorCode` in
 * one object, so `E2eeError.is(err, ErrorCode.InvalidFormat)` needs nothing but this package.
 */
export const ErrorCode = /* @__PURE__ */ Object.freeze(
  // Pure (Object.assign, not a spread, which esbuild keeps): bundles that never read it drop it.
  /* @__PURE__ */ Object.assign({}, CoreErrorCode, SafetyNumberErrorCode),
);
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export type SafetyNumberFormatReason = 'invalid-character' | 'wrong-length';

/**
 * Thrown by `parseSafetyNumber` (and reported by `compareDigits`) for text that is not a safety number.
 * Carries where and why, never the text itself.
 */
export class SafetyNumberFormatError extends DecodeError {
  /** `invalid-character`: something other than a digit, a space or a dash; `wrong-length`: not 60 digits. */
  readonly reason: SafetyNumberFormatReason;
  /** Index (in UTF-16 code units) of the first character refused, for `invalid-character`; else -1. */
  readonly index: number;
  /** How many digits were read before stopping. */
  readonly digitCount: number;

  constructor(reason: SafetyNumberFormatReason, index: number, digitCount: number) {
    super(
      reason === 'invalid-character'
        ? `safety number contains a character that is not a digit, space or dash (at index ${index})`
        : `safety number must have 60 digits, got ${digitCount}`,
      { code: SafetyNumberErrorCode.InvalidFormat },
    );
    this.name = 'SafetyNumberFormatError';
    this.reason = reason;
    this.index = index;
    this.digitCount = digitCount;
  }
}

// The class each of this package's codes belongs to: `E2eeError.is(err, code)` narrows to it.
declare module '@e2ee-kit/core' {
  interface E2eeErrorCodeMap extends Record<SafetyNumberErrorCode, E2eeError> {
    SAFETY_NUMBER_FORMAT: SafetyNumberFormatError;
  }
}
