// constantTimeEqual compares 32-bit words then a byte tail: every length around the word size, a
// difference at every position, and inputs that are offset views (pooled Node Buffers, subarrays at
// odd offsets), whose words are not aligned.
import { describe, expect, it } from 'vitest';
import { constantTimeEqual } from '../src/bytes.js';

describe('constantTimeEqual', () => {
  it('finds a difference at every position, on aligned and unaligned views', () => {
    for (let n = 0; n <= 37; n++) {
      const base = Uint8Array.from({ length: n }, (_, i) => (i * 73 + 11) & 0xff);
      const big = new Uint8Array(n + 7);
      big.set(base, 3); // offset 3: unaligned words
      const view = big.subarray(3, 3 + n);
      const pooled = Buffer.from(base); // Node's pool: a non-zero byteOffset into a shared buffer
      expect(constantTimeEqual(base, view)).toBe(true);
      expect(constantTimeEqual(view, pooled)).toBe(true);
      for (let i = 0; i < n; i++) {
        for (const bit of [0x01, 0x80]) {
          const other = Uint8Array.from(base);
          other[i] = (other[i] as number) ^ bit;
          expect(constantTimeEqual(view, other)).toBe(false);
          expect(constantTimeEqual(other, pooled)).toBe(false);
        }
      }
      expect(constantTimeEqual(base, new Uint8Array(n + 1))).toBe(false);
    }
  });
});
