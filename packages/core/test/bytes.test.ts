import {
  assertBytes,
  concatBytes,
  constantTimeEqual,
  fromBase64,
  fromHex,
  fromUtf8,
  toBase64,
  toHex,
  utf8,
  wipe,
} from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';

describe('bytes helpers', () => {
  it('assertBytes checks type and optional length', () => {
    expect(() => assertBytes(new Uint8Array(3), 'x', 3)).not.toThrow();
    expect(() => assertBytes(new Uint8Array(3), 'x', 4)).toThrow(RangeError);
    expect(() => assertBytes([1, 2, 3], 'x')).toThrow(TypeError);
    expect(() => assertBytes(new Uint16Array(3), 'x')).toThrow(TypeError);
    expect(() => assertBytes(Buffer.alloc(3), 'x', 3)).not.toThrow(); // Buffer is a Uint8Array
  });

  it('concatBytes joins into a new array and validates every part', () => {
    const a = Uint8Array.of(1, 2);
    const out = concatBytes(a, new Uint8Array(0), Uint8Array.of(3));
    expect([...out]).toEqual([1, 2, 3]);
    out[0] = 9;
    expect(a[0]).toBe(1);
    expect(concatBytes().length).toBe(0);
    expect(() => concatBytes(a, 'x' as never)).toThrow(TypeError);
  });

  it('constantTimeEqual compares content and length', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 0))).toBe(false);
    expect(constantTimeEqual(new Uint8Array(0), new Uint8Array(0))).toBe(true);
    for (let i = 0; i < 64; i++) {
      const a = new Uint8Array(64);
      const b = new Uint8Array(64);
      b[i] = 0x80;
      expect(constantTimeEqual(a, b)).toBe(false);
    }
    expect(() => constantTimeEqual(Uint8Array.of(1), null as never)).toThrow(TypeError);
  });

  it('wipe zeroes every array given', () => {
    const a = Uint8Array.of(1, 2, 3);
    const b = Buffer.from([4, 5]);
    wipe(a, b);
    expect([...a, ...b]).toEqual([0, 0, 0, 0, 0]);
    expect(() => wipe(a, {} as never)).toThrow(TypeError);
  });

  it('hex: lower-case out, either case in, strict', () => {
    expect(toHex(Uint8Array.of(0, 0xab, 0xff))).toBe('00abff');
    expect([...fromHex('00ABff')]).toEqual([0, 0xab, 0xff]);
    expect(fromHex('').length).toBe(0);
    expect(() => fromHex('abc')).toThrow(RangeError);
    expect(() => fromHex('zz')).toThrow(RangeError);
    expect(() => fromHex('0x')).toThrow(RangeError);
    expect(() => fromHex(' 0')).toThrow(RangeError);
    expect(() => fromHex(12 as never)).toThrow(TypeError);
  });

  it('base64: RFC 4648 §10 test vectors both ways', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, b64] of vectors) {
      expect(toBase64(utf8(plain))).toBe(b64);
      expect(fromUtf8(fromBase64(b64))).toBe(plain);
      expect(fromUtf8(fromBase64(b64.replace(/=+$/, '')))).toBe(plain);
    }
  });

  it('base64: URL-safe alphabet accepted, garbage refused', () => {
    expect([...fromBase64('-_8')]).toEqual([0xfb, 0xff]);
    expect([...fromBase64('+/8=')]).toEqual([0xfb, 0xff]);
    for (const bad of ['A', 'AAAAA', 'A*==', 'é', 'AA AA', 'AA=A'])
      expect(() => fromBase64(bad)).toThrow(RangeError);
    expect(() => fromBase64(null as never)).toThrow(TypeError);
  });

  it('utf8 round trip is strict on decode', () => {
    expect(fromUtf8(utf8('héllo ✓ 𝄞'))).toBe('héllo ✓ 𝄞');
    expect(() => fromUtf8(Uint8Array.of(0xc3))).toThrow(TypeError);
    expect(() => fromUtf8(Uint8Array.of(0xff))).toThrow(TypeError);
    expect(() => utf8(1 as never)).toThrow(TypeError);
  });
});
