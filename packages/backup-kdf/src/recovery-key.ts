/**
 * The 64-digit recovery key.
 *
 * Layout (64 decimal digits, shown as 16 groups of 4):
 *   - digits 0…57: the key, 58 uniformly random decimal digits = 192.67 bits;
 *   - digits 58…62: check A, SHA-256("backup-kdf/v1/recovery-key-check" ‖ the 58 key digits in
 *     ASCII), first 8 bytes as a big-endian integer mod 10^5, zero-padded;
 *   - digit 63: check B, a Damm check digit over digits 0…62.
 *
 * The Damm digit guarantees that every single-digit error and every swap of two adjacent digits
 * anywhere in the 64 is detected; together with check A a wrong key passes with probability 10⁻⁶,
 * which is what makes a unique single-digit correction a trustworthy suggestion.
 * The key material fed to the KDF is the 64-digit ASCII string.
 *
 * A WhatsApp-style key (64 hex characters = 32 raw bytes, no checksum) can be imported explicitly
 * with `importHexRecoveryKey`.
 */
import { fromHex, redact, utf8 } from '@e2ee-kit/core';
import { sha256 } from '@noble/hashes/sha2.js';
import { BackupErrorCode, InvalidRecoveryKeyError } from './errors.js';
import { isBlankCodePoint } from './password.js';

export const RECOVERY_KEY_DIGITS = 64;
const KEY_DIGITS = 58;
const CHECK_A_DIGITS = 5;
const CHECK_A_LABEL = utf8('backup-kdf/v1/recovery-key-check');

/** Damm's order-10 weakly totally anti-symmetric quasigroup (H. M. Damm, 2004), zero diagonal. */
const DAMM: readonly (readonly number[])[] = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
  [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
  [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
  [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
  [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
  [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/** @internal The Damm table, exposed for the property tests. */
export const dammTable = DAMM;

/** Damm interim digit of a string of ASCII digits (0 means "valid" when the check digit is included). */
export function dammInterim(digits: string): number {
  let interim = 0;
  for (let i = 0; i < digits.length; i++) interim = DAMM[interim]![digits.charCodeAt(i) - 48]!;
  return interim;
}

function checkA(keyDigits: string): string {
  const h = sha256.create().update(CHECK_A_LABEL).update(utf8(keyDigits)).digest();
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(h[i]!);
  return (n % 10n ** BigInt(CHECK_A_DIGITS)).toString().padStart(CHECK_A_DIGITS, '0');
}

function isValidDigits(d: string): boolean {
  if (dammInterim(d) !== 0) return false;
  return checkA(d.slice(0, KEY_DIGITS)) === d.slice(KEY_DIGITS, KEY_DIGITS + CHECK_A_DIGITS);
}

function complete(keyDigits: string): string {
  const withA = keyDigits + checkA(keyDigits);
  return withA + String(dammInterim(withA));
}

function group(digits: string, size: number): string {
  const out: string[] = [];
  for (let i = 0; i < digits.length; i += size) out.push(digits.slice(i, i + size));
  return out.join(' ');
}

export type RecoveryKeyFormat = 'digits64' | 'hex64';

/** Key material per key object, reachable only inside this package (not exported from the entry). */
const SECRETS = new WeakMap<RecoveryKey, Uint8Array>();
/** Set while this module constructs a key: the constructor refuses every other caller. */
let constructing = false;

/**
 * An unlock key the user writes down. Its text is only ever produced by `toDisplayString()`;
 * `toString()`, `toJSON()` and inspection show no digits. Make one with `RecoveryKey.generate`,
 * `parseRecoveryKey` or `importHexRecoveryKey`.
 */
export class RecoveryKey {
  readonly format: RecoveryKeyFormat;
  readonly #text: string;

  /** Not for direct use: see the class comment. */
  constructor(format: RecoveryKeyFormat, text: string) {
    if (!constructing)
      throw new TypeError('use RecoveryKey.generate, parseRecoveryKey or importHexRecoveryKey');
    this.format = format;
    this.#text = text;
    Object.freeze(this);
  }

  /** A fresh 64-digit key from `randomBytes` (e.g. a provider's), by rejection sampling (uniform digits). */
  static generate(randomBytes: (length: number) => Uint8Array): RecoveryKey {
    if (typeof randomBytes !== 'function') throw new TypeError('randomBytes must be a function');
    let digits = '';
    while (digits.length < KEY_DIGITS) {
      for (const b of randomBytes(64)) {
        if (b < 250 && digits.length < KEY_DIGITS) digits += String(b % 10);
      }
    }
    const full = complete(digits);
    return makeKey('digits64', utf8(full), full);
  }

  static isRecoveryKey(value: unknown): value is RecoveryKey {
    return typeof value === 'object' && value !== null && SECRETS.has(value as RecoveryKey);
  }

  /** The text to show the user: 16 groups of 4 digits (or of 4 hex characters for imported keys). */
  toDisplayString(): string {
    return group(this.#text, 4);
  }

  toString(): string {
    return `[RecoveryKey ${this.format}]`;
  }

  toJSON(): string {
    return this.toString();
  }
}
redact(RecoveryKey, (key: RecoveryKey) => key.toString());

function makeKey(format: RecoveryKeyFormat, secret: Uint8Array, text: string): RecoveryKey {
  constructing = true;
  try {
    const key = new RecoveryKey(format, text);
    SECRETS.set(key, secret);
    return key;
  } finally {
    constructing = false;
  }
}

/** @internal Key material for the KEK derivation (a copy). Not exported from the package entry. */
export function recoveryKeySecret(key: RecoveryKey): Uint8Array {
  const s = SECRETS.get(key);
  if (!s) throw new TypeError('not a RecoveryKey');
  return s.slice();
}

/**
 * A correction `checkRecoveryKey` offers for a typo: the whole corrected key, so as secret as the key.
 * Like `RecoveryKey`, its digits come only from `toDisplayString()` (show them; never use them without
 * the user's confirmation); `toString()`, `toJSON()` and inspection show only the kind and position,
 * so logging a check result (or sending it to telemetry) does not leak the key.
 */
export class RecoveryKeySuggestion {
  readonly kind: 'substitution' | 'transposition';
  /** 0-based position of the changed digit (or the first of the two swapped digits). */
  readonly position: number;
  readonly #digits: string;

  constructor(digits: string, kind: 'substitution' | 'transposition', position: number) {
    this.#digits = digits;
    this.kind = kind;
    this.position = position;
    Object.freeze(this);
  }

  /** The corrected key, 16 groups of 4 digits. */
  toDisplayString(): string {
    return group(this.#digits, 4);
  }

  toString(): string {
    return `[RecoveryKeySuggestion ${this.kind} at ${this.position}]`;
  }

  toJSON(): string {
    return this.toString();
  }
}
redact(RecoveryKeySuggestion, (s: RecoveryKeySuggestion) => s.toString());

export type RecoveryKeyCheck =
  | { readonly ok: true; readonly key: RecoveryKey }
  | {
      readonly ok: false;
      readonly reason: 'format' | 'checksum';
      /** Present when exactly one single-digit change (or adjacent swap) yields a valid key. */
      readonly suggestion?: RecoveryKeySuggestion;
    };

/**
 * A typed or pasted key without what separates or decorates it: after NFKC (full-width digits),
 * drops hyphens, underscores, dots and everything `isBlankCodePoint` covers — white space, and the
 * invisible characters chat apps and web pages paste along (zero-width spaces and joiners, word
 * joiners, soft hyphens, BOM, bidi marks). None of them can be part of a key.
 */
function keyCharacters(text: string): string {
  if (typeof text !== 'string') throw new TypeError('recovery key must be a string');
  let out = '';
  for (const ch of text.normalize('NFKC'))
    if (!isBlankCodePoint(ch.codePointAt(0) as number) && !'-_.'.includes(ch)) out += ch;
  return out;
}

function canonicalDigits(text: string): string | undefined {
  const s = keyCharacters(text);
  return /^[0-9]{64}$/.test(s) ? s : undefined;
}

function findSuggestion(d: string): RecoveryKeySuggestion | undefined {
  let found: RecoveryKeySuggestion | undefined;
  let count = 0;
  for (let i = 0; i < d.length; i++) {
    for (let v = 0; v < 10; v++) {
      const c = String(v);
      if (c === d[i]) continue;
      const cand = d.slice(0, i) + c + d.slice(i + 1);
      if (isValidDigits(cand)) {
        count++;
        found = new RecoveryKeySuggestion(cand, 'substitution', i);
      }
    }
  }
  for (let i = 0; i + 1 < d.length; i++) {
    if (d[i] === d[i + 1]) continue;
    const cand = d.slice(0, i) + d[i + 1] + d[i] + d.slice(i + 2);
    if (isValidDigits(cand)) {
      count++;
      found = new RecoveryKeySuggestion(cand, 'transposition', i);
    }
  }
  return count === 1 ? found : undefined;
}

/**
 * Checks a typed 64-digit key (spaces, hyphens, invisible characters and full-width digits allowed) without throwing.
 * On a checksum failure, offers a correction when exactly one single-digit change or adjacent swap
 * makes it valid. Never counts as an unlock attempt.
 */
export function checkRecoveryKey(text: string): RecoveryKeyCheck {
  const d = canonicalDigits(text);
  if (d === undefined) return { ok: false, reason: 'format' };
  if (isValidDigits(d)) return { ok: true, key: makeKey('digits64', utf8(d), d) };
  const suggestion = findSuggestion(d);
  return suggestion ? { ok: false, reason: 'checksum', suggestion } : { ok: false, reason: 'checksum' };
}

/** Parses a typed 64-digit key; throws `InvalidRecoveryKeyError` (not an attempt) when it cannot be right. */
export function parseRecoveryKey(text: string): RecoveryKey {
  const d = canonicalDigits(text);
  if (d === undefined) {
    throw new InvalidRecoveryKeyError(
      BackupErrorCode.RecoveryKeyFormat,
      'a recovery key has 64 digits (0-9); spaces, hyphens and invisible characters are ignored',
    );
  }
  if (!isValidDigits(d)) {
    throw new InvalidRecoveryKeyError(
      BackupErrorCode.RecoveryKeyChecksum,
      'recovery key checksum failed: a digit is mistyped (checkRecoveryKey can suggest a correction)',
    );
  }
  return makeKey('digits64', utf8(d), d);
}

/**
 * Explicit import of a WhatsApp-style key: 64 hexadecimal characters (32 bytes, no checksum).
 * Typos in such a key can only show up as a failed unlock.
 */
export function importHexRecoveryKey(text: string): RecoveryKey {
  const s = keyCharacters(text).toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(s)) {
    throw new InvalidRecoveryKeyError(
      BackupErrorCode.RecoveryKeyFormat,
      'a hex key has 64 hexadecimal characters',
    );
  }
  return makeKey('hex64', fromHex(s), s);
}
