// What a person types and sees: parsing, formatting, typed-digit comparison.
import { DecodeError, E2eeError, fromHex, utf8 } from '@e2ee-kit/core';
import {
  computeSafetyNumber,
  formatSafetyNumber,
  parseSafetyNumber,
  SafetyNumberErrorCode,
  SafetyNumberFormatError,
  safetyNumberGroups,
} from '@e2ee-kit/safety-number';
import { describe, expect, it } from 'vitest';
import { fingerprintVectors } from './vectors.js';

const pub = fingerprintVectors.publishedVectors;
const digits = pub.displayable; // from libsignal
const groups = digits.match(/.{5}/g)!;

function formatError(fn: () => unknown): SafetyNumberFormatError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SafetyNumberFormatError);
    return err as SafetyNumberFormatError;
  }
  throw new Error('expected a SafetyNumberFormatError');
}

describe('display', () => {
  it('12 groups of 5, on one line or in Signal’s 3 × 4', () => {
    expect(safetyNumberGroups(digits)).toEqual(groups);
    expect(groups).toHaveLength(12);
    expect(formatSafetyNumber(digits)).toBe(groups.join(' '));
    expect(formatSafetyNumber(digits, { groupsPerLine: 4 })).toBe(
      [groups.slice(0, 4), groups.slice(4, 8), groups.slice(8)].map((g) => g.join(' ')).join('\n'),
    );
    expect(formatSafetyNumber(digits, { separator: '-' })).toBe(groups.join('-'));
  });

  it('SafetyNumber.format/groups/toString agree with the libsignal digits', () => {
    const sn = computeSafetyNumber({
      local: { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) },
      remote: { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) },
    });
    expect(sn.groups()).toEqual(groups);
    expect(sn.format()).toBe(groups.join(' '));
    expect(String(sn)).toBe(digits);
    expect(JSON.stringify({ sn })).toBe(`{"sn":"${digits}"}`);
    expect(`${sn.scannable}`).toBe('[ScannableFingerprint v2]');
  });

  it('formatSafetyNumber refuses anything but 60 ASCII digits', () => {
    expect(() => formatSafetyNumber(digits.slice(1))).toThrow(RangeError);
    expect(() => formatSafetyNumber(`${digits.slice(1)}a`)).toThrow(RangeError);
    expect(() => formatSafetyNumber(groups.join(' '))).toThrow(RangeError);
    expect(() => formatSafetyNumber(digits, { groupsPerLine: 0 })).toThrow(RangeError);
    expect(() => formatSafetyNumber(digits, { groupsPerLine: 13 })).toThrow(RangeError);
  });
});

describe('parseSafetyNumber: what a person types', () => {
  const accepted = [
    digits,
    groups.join(' '),
    groups.join('-'),
    groups.join(' - '),
    `  ${groups.join('  ')}\n`,
    [groups.slice(0, 4), groups.slice(4, 8), groups.slice(8)].map((g) => g.join(' ')).join('\r\n'),
    groups.join('\u00a0'), // no-break space (copied from a web page)
    groups.join('\u2013'), // en dash (autocorrected)
    groups.join('\t'),
    digits.replace(/(.{3})/g, '$1 '), // grouped wrongly, still the same digits
  ];
  for (const [i, text] of accepted.entries()) {
    it(`accepts form #${i}`, () => {
      expect(parseSafetyNumber(text)).toBe(digits);
    });
  }

  it('refuses letters, other punctuation and other digit scripts, saying where', () => {
    const cases: Array<[string, number]> = [
      [`${digits.slice(0, 10)}O${digits.slice(11)}`, 10], // letter O for zero
      [`${digits.slice(0, 30)}.${digits.slice(30)}`, 30],
      [`+${digits}`, 0],
      [`${digits.slice(0, 59)}\u0661`, 59], // Arabic-Indic one
      [`${digits.slice(0, 5)}\uff11${digits.slice(6)}`, 5], // full-width one
      [`${digits.slice(0, 20)}_${digits.slice(20)}`, 20],
    ];
    for (const [text, index] of cases) {
      const err = formatError(() => parseSafetyNumber(text));
      expect(err.reason).toBe('invalid-character');
      expect(err.index).toBe(index);
      expect(err.code).toBe(SafetyNumberErrorCode.InvalidFormat);
      expect(err).toBeInstanceOf(DecodeError);
      expect(E2eeError.is(err, 'SAFETY_NUMBER_FORMAT')).toBe(true);
      expect(err.message).not.toContain(digits.slice(0, 10));
    }
  });

  it('refuses too few or too many digits', () => {
    for (const [text, count] of [
      ['', 0],
      ['   ', 0],
      [digits.slice(0, 59), 59],
      [groups.slice(0, 11).join(' '), 55],
      [`${digits}0`, 61],
      [`${digits} ${digits}`, 120],
    ] as const) {
      const err = formatError(() => parseSafetyNumber(text));
      expect(err.reason).toBe('wrong-length');
      expect(err.digitCount).toBe(count);
      expect(err.index).toBe(-1);
    }
  });
});

describe('compareDigits: typed digits against ours', () => {
  const sn = computeSafetyNumber({
    local: { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) },
    remote: { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) },
  });

  it('match, mismatch, malformed — never a throw for what a person types', () => {
    expect(sn.compareDigits(groups.join(' '))).toEqual({ status: 'match' });
    const off = `${digits.slice(0, 59)}${(Number(digits[59]) + 1) % 10}`;
    expect(sn.compareDigits(off)).toEqual({ status: 'mismatch' });
    const r = sn.compareDigits('12345 hello');
    expect(r.status).toBe('malformed');
    if (r.status === 'malformed') expect(r.error).toBeInstanceOf(SafetyNumberFormatError);
    expect(sn.compareDigits(digits.slice(1)).status).toBe('malformed');
  });
});
