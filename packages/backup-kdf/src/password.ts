import { utf8 } from '@e2ee-kit/core';
import { BackupErrorCode, PasswordRejectedError } from './errors.js';

/** No backup can be created with a shorter password; opening refuses shorter ones before any KDF. */
export const ABSOLUTE_MIN_PASSWORD_LENGTH = 6;
/** Minimum length (in Unicode code points after NFKC) required at creation unless configured. */
export const DEFAULT_MIN_PASSWORD_LENGTH = 8;

/**
 * Nothing a user can see: empty, or only white space (any Unicode White_Space: spaces, tabs, line
 * breaks, no-break and ideographic spaces), control characters, and invisible format or
 * default-ignorable characters (zero-width space, joiners, soft hyphen, BOM, variation selectors).
 */
const BLANK = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]*$/u;

/**
 * NFKC-normalizes a password and returns its UTF-8 bytes, so that the same password typed on two
 * keyboards (composed vs decomposed accents, full-width digits) derives the same key. Refuses empty,
 * blank (white space or invisible characters only) and too-short passwords with
 * `PasswordRejectedError` before anything expensive runs.
 */
export function normalizePassword(password: string, minLength = ABSOLUTE_MIN_PASSWORD_LENGTH): Uint8Array {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  if (!Number.isInteger(minLength) || minLength < ABSOLUTE_MIN_PASSWORD_LENGTH) {
    throw new RangeError(`minimum password length must be an integer ≥ ${ABSOLUTE_MIN_PASSWORD_LENGTH}`);
  }
  const normalized = password.normalize('NFKC');
  if (BLANK.test(normalized)) throw new PasswordRejectedError(BackupErrorCode.PasswordEmpty, minLength);
  if ([...normalized].length < minLength) {
    throw new PasswordRejectedError(BackupErrorCode.PasswordTooShort, minLength);
  }
  return utf8(normalized);
}
