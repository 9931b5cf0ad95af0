/**
 * The displayable (numeric) form: 60 digits, shown as 12 groups of 5. Formatting, parsing what a person
 * types, and the digit derivation from a party's hash.
 */
import { SafetyNumberFormatError } from './errors.js';

export const SAFETY_NUMBER_DIGITS = 60;
const GROUP = 5;
const GROUPS = SAFETY_NUMBER_DIGITS / GROUP;
const TWO_32 = 0x1_0000_0000;

/**
 * 30 digits from the first 30 bytes of a party's hash: six 5-byte big-endian chunks, each mod 100000,
 * zero-padded to 5 digits (libsignal `get_encoded_string`).
 */
export function digitsOfHash(hash: Uint8Array): string {
  let s = '';
  for (let c = 0; c < 30; c += 5) {
    const hi = hash[c] as number;
    const lo =
      (((hash[c + 1] as number) << 24) |
        ((hash[c + 2] as number) << 16) |
        ((hash[c + 3] as number) << 8) |
        (hash[c + 4] as number)) >>>
      0;
    const n = (hi * TWO_32 + lo) % 100_000; // < 2^40, exact in a double
    s += String(n).padStart(GROUP, '0');
  }
  return s;
}

/**
 * Separators a person may type or paste between digits: space, tab, line feed, carriage return,
 * no-break space, figure space, narrow no-break space, hyphen-minus, hyphen, non-breaking hyphen,
 * figure dash, en dash, em dash, minus sign.
 */
const SEPARATORS = ' \t\n\r\u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2212';

/**
 * Reads a safety number as a person types or pastes it: ASCII digits with any spaces, line breaks or
 * dashes anywhere between them. Returns the 60 digits. Anything else (letters, other digit scripts,
 * punctuation, too few or too many digits) is a `SafetyNumberFormatError`.
 */
export function parseSafetyNumber(text: string): string {
  if (typeof text !== 'string') throw new TypeError('safety number text must be a string');
  let digits = '';
  let count = 0; // digits before the first character that is neither a digit nor a separator
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c >= '0' && c <= '9') {
      if (count++ < SAFETY_NUMBER_DIGITS) digits += c;
    } else if (!SEPARATORS.includes(c)) {
      // Too many digits is reported as such, with the count up to here, before any bad character.
      if (count > SAFETY_NUMBER_DIGITS) break;
      throw new SafetyNumberFormatError('invalid-character', i, count);
    }
  }
  if (count !== SAFETY_NUMBER_DIGITS) throw new SafetyNumberFormatError('wrong-length', -1, count);
  return digits;
}

export interface FormatOptions {
  /** Between groups on one line. Default a single space. */
  readonly separator?: string;
  /** Groups per line (1–12); lines are joined with `\n`. Default 12 (one line). Signal shows 4. */
  readonly groupsPerLine?: number;
}

/** The 12 groups of 5 digits of a 60-digit safety number. */
export function safetyNumberGroups(digits: string): string[] {
  assertDigits(digits);
  const groups: string[] = [];
  for (let i = 0; i < GROUPS; i++) groups.push(digits.slice(i * GROUP, (i + 1) * GROUP));
  return groups;
}

/** `"30035 44776 …"`: the 60 digits as 12 groups of 5. */
export function formatSafetyNumber(digits: string, options: FormatOptions = {}): string {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const separator = options.separator ?? ' ';
  if (typeof separator !== 'string') throw new TypeError('separator must be a string');
  const perLine = options.groupsPerLine ?? GROUPS;
  if (!Number.isInteger(perLine) || perLine < 1 || perLine > GROUPS) {
    throw new RangeError('groupsPerLine must be an integer from 1 to 12');
  }
  const groups = safetyNumberGroups(digits);
  const lines: string[] = [];
  for (let i = 0; i < GROUPS; i += perLine) lines.push(groups.slice(i, i + perLine).join(separator));
  return lines.join('\n');
}

function assertDigits(digits: string): void {
  if (typeof digits !== 'string') throw new TypeError('digits must be a string');
  if (digits.length !== SAFETY_NUMBER_DIGITS || !/^[0-9]+$/.test(digits)) {
    throw new RangeError('digits must be exactly 60 ASCII digits (use parseSafetyNumber for typed text)');
  }
}
