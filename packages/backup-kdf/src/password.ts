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
 *
 * As code point ranges rather than a `\p{…}` regular expression: Hermes (React Native) cannot parse
 * Unicode property escapes, and a regex literal with one fails the whole module at load. The table is
 * the union of White_Space, Cc, Cf and Default_Ignorable_Code_Point (Unicode 17); a test checks it
 * against the runtime's own `\p{…}` classes over every code point.
 */
export const BLANK_RANGES: readonly (readonly [number, number])[] = [
  [0x0, 0x20],
  [0x7f, 0xa0],
  [0xad, 0xad],
  [0x34f, 0x34f],
  [0x600, 0x605],
  [0x61c, 0x61c],
  [0x6dd, 0x6dd],
  [0x70f, 0x70f],
  [0x890, 0x891],
  [0x8e2, 0x8e2],
  [0x115f, 0x1160],
  [0x1680, 0x1680],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x2000, 0x200f],
  [0x2028, 0x202f],
  [0x205f, 0x206f],
  [0x3000, 0x3000],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0xfff0, 0xfffb],
  [0x110bd, 0x110bd],
  [0x110cd, 0x110cd],
  [0x13430, 0x1343f],
  [0x1bca0, 0x1bca3],
  [0x1d173, 0x1d17a],
  [0xe0000, 0xe0fff],
];

/** Whether a code point is in `BLANK_RANGES` (white space, a control, or invisible). */
export function isBlankCodePoint(cp: number): boolean {
  for (const [lo, hi] of BLANK_RANGES) {
    if (cp < lo) return false;
    if (cp <= hi) return true;
  }
  return false;
}

function isBlank(text: string): boolean {
  for (const ch of text) if (!isBlankCodePoint(ch.codePointAt(0) as number)) return false;
  return true;
}

/** An unpaired surrogate: TextEncoder writes U+FFFD for it, so many strings would encode alike. */
function hasLoneSurrogate(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1); // NaN past the end
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/**
 * NFKC-normalizes a password and returns its UTF-8 bytes, so that the same password typed on two
 * keyboards (composed vs decomposed accents, full-width digits) derives the same key. Refuses empty,
 * blank (white space or invisible characters only), malformed (an unpaired UTF-16 surrogate) and
 * too-short passwords with `PasswordRejectedError` before anything expensive runs. These are the
 * rules for a password being set; opening a backup applies them too, except that it accepts an
 * unpaired surrogate (encoded as U+FFFD, as releases before the refusal did) so older backups open.
 */
export function normalizePassword(password: string, minLength = ABSOLUTE_MIN_PASSWORD_LENGTH): Uint8Array {
  return passwordBytes(password, minLength, false);
}

/** `normalizePassword` with the opening rule for unpaired surrogates (`allowLoneSurrogates`). */
export function passwordBytes(password: string, minLength: number, allowLoneSurrogates: boolean): Uint8Array {
  if (typeof password !== 'string') throw new TypeError('password must be a string');
  if (!Number.isInteger(minLength) || minLength < ABSOLUTE_MIN_PASSWORD_LENGTH) {
    throw new RangeError(`minimum password length must be an integer ≥ ${ABSOLUTE_MIN_PASSWORD_LENGTH}`);
  }
  const normalized = password.normalize('NFKC');
  if (isBlank(normalized)) throw new PasswordRejectedError(BackupErrorCode.PasswordEmpty, minLength);
  if (!allowLoneSurrogates && hasLoneSurrogate(normalized))
    throw new PasswordRejectedError(BackupErrorCode.PasswordMalformed, minLength);
  if ([...normalized].length < minLength) {
    throw new PasswordRejectedError(BackupErrorCode.PasswordTooShort, minLength);
  }
  return utf8(normalized);
}
