// The pure UTF-8 codec (used where the runtime has no TextEncoder/TextDecoder, e.g. Hermes) against the
// runtime's own WHATWG TextEncoder/TextDecoder: same bytes, same strings, same refusals.
import { fromUtf8, ProtoReader, ProtoWriter, utf8 } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeUtf8Pure, encodeUtf8Pure } from '../src/utf8.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const nativeDecode = (b: Uint8Array): string | 'error' => {
  try {
    return decoder.decode(b);
  } catch {
    return 'error';
  }
};
const pureDecode = (b: Uint8Array): string | 'error' => {
  try {
    return decodeUtf8Pure(b);
  } catch (e) {
    expect(e).toBeInstanceOf(TypeError);
    return 'error';
  }
};

/** Byte strings biased towards UTF-8 structure: lead bytes, continuation bytes, boundaries. */
const utf8ish = fc
  .uint8Array({ maxLength: 40 })
  .chain((seed) =>
    fc
      .array(
        fc.oneof(
          fc.integer({ min: 0, max: 0x7f }),
          fc.integer({ min: 0x80, max: 0xbf }),
          fc.constantFrom(0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff),
          fc.integer({ min: 0, max: 255 }),
        ),
        { maxLength: 24 },
      )
      .map((a) => Uint8Array.from([...seed.subarray(0, 4), ...a])),
  );

describe('pure UTF-8 codec', () => {
  it('encodes every string (lone surrogates included) exactly as TextEncoder', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        expect(encodeUtf8Pure(s)).toEqual(encoder.encode(s));
        expect(utf8(s)).toEqual(encoder.encode(s));
      }),
      { numRuns: 2000 },
    );
    for (const s of [
      '\ud800',
      'a\udc00b',
      '\udbff\udfff',
      '\u{10ffff}',
      '\u0800',
      '\u07ff',
      'x'.repeat(65),
    ]) {
      expect(encodeUtf8Pure(s)).toEqual(encoder.encode(s));
    }
  });

  it('decodes valid UTF-8 as TextDecoder with ignoreBOM (a leading U+FEFF kept) and refuses what it refuses', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 100 }), (s) => {
        const bytes = encoder.encode(s);
        expect(decodeUtf8Pure(bytes)).toBe(s);
        const withBom = Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes]);
        expect(decodeUtf8Pure(withBom)).toBe(`\ufeff${s}`);
        expect(decodeUtf8Pure(withBom)).toBe(nativeDecode(withBom));
      }),
      { numRuns: 1000 },
    );
    fc.assert(
      fc.property(utf8ish, (b) => {
        expect(pureDecode(b)).toBe(nativeDecode(b));
      }),
      { numRuns: 20000 },
    );
  });

  it('edge cases: overlong, surrogates, above U+10FFFF, truncated, long input', () => {
    const cases = [
      [0xc0, 0x80],
      [0xe0, 0x9f, 0xbf],
      [0xed, 0xa0, 0x80],
      [0xf0, 0x8f, 0xbf, 0xbf],
      [0xf4, 0x90, 0x80, 0x80],
      [0xe2, 0x82],
      [0xf0, 0x9f, 0x98],
      [0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf],
      [0xef, 0xbb],
    ].map((a) => Uint8Array.from(a));
    for (const c of cases) expect(pureDecode(c), [...c].join(',')).toBe(nativeDecode(c));
    const long = encoder.encode('é😀a'.repeat(5000));
    expect(decodeUtf8Pure(long)).toBe(decoder.decode(long));
    expect(fromUtf8(long)).toBe(decoder.decode(long));
  });
});

// A decoder of protocol strings reads exactly their bytes, as libsignal's (Rust `String::from_utf8`):
// dropping a leading EF BB BF as a byte-order mark made "\uFEFF" + an ACI read as that ACI.
describe('fromUtf8 and ProtoReader.string keep a leading U+FEFF', () => {
  it('round-trips strings that start with U+FEFF, on the runtime decoder and the pure one', () => {
    for (const s of ['\ufeff', '\ufeffa', '\ufeff\ufeffb', 'a\ufeff']) {
      const bytes = encoder.encode(s);
      expect(fromUtf8(bytes)).toBe(s);
      expect(decodeUtf8Pure(bytes)).toBe(s);
      const w = new ProtoWriter();
      w.string(1, s);
      const r = new ProtoReader(w.finish());
      r.next();
      expect(r.string()).toBe(s);
    }
  });
});
