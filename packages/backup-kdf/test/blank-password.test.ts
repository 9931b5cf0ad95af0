// The blank-password table (code point ranges, so Hermes can load the module) is exactly the union
// of Unicode's White_Space, Cc, Cf and Default_Ignorable_Code_Point as this runtime's ICU knows them.
import { describe, expect, it } from 'vitest';
import { BLANK_RANGES, normalizePassword } from '../src/password.js';

const unicodeBlank = /^[\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]$/u;

describe('blank passwords', () => {
  it('the range table equals the \\p{…} classes over every code point', () => {
    const differ: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue; // lone surrogates are not code points of a string
      const inTable = BLANK_RANGES.some(([lo, hi]) => cp >= lo && cp <= hi);
      if (inTable !== unicodeBlank.test(String.fromCodePoint(cp))) differ.push(cp.toString(16));
    }
    expect(differ).toEqual([]);
  });

  it('ranges are sorted and disjoint (the lookup stops at the first range above)', () => {
    for (let i = 1; i < BLANK_RANGES.length; i++) {
      expect((BLANK_RANGES[i] as readonly [number, number])[0]).toBeGreaterThan(
        (BLANK_RANGES[i - 1] as readonly [number, number])[1] + 1,
      );
    }
  });

  it('refuses invisible-only passwords and accepts one visible character among them', () => {
    for (const p of ['        ', '\u200b'.repeat(8), '\u3000\u00a0\ufeff\u2060\u180e\u00ad\u034f ']) {
      expect(() => normalizePassword(p)).toThrow(expect.objectContaining({ code: 'PASSWORD_EMPTY' }));
    }
    expect(normalizePassword('\u200b\u200b\u200ba\u200b\u200b\u200b').length).toBeGreaterThan(0);
  });
});
