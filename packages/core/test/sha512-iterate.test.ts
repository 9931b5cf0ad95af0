// Every provider's `sha512IterateSync` against the loop it replaces, computed with @noble/hashes'
// one-shot `sha512`: suffixes of 0–200 bytes (one to three blocks per round), `first` of 0–299 bytes,
// 1–5 rounds, and a safety number's 5,200. Argument errors are the same on every provider.

import { defaultSha512IterateSync } from '@e2ee-kit/core';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 29 + seed) & 0xff);

function reference(first: Uint8Array, suffix: Uint8Array, rounds: number): Uint8Array {
  let h = sha512(first);
  for (let i = 1; i < rounds; i++) {
    const input = new Uint8Array(64 + suffix.length);
    input.set(h);
    input.set(suffix, 64);
    h = sha512(input);
  }
  return h;
}

const implementations = [
  ...allProviders.map(({ label, provider }) => ({ label, iterate: provider.sha512IterateSync })),
  { label: 'defaultSha512IterateSync', iterate: defaultSha512IterateSync },
];

for (const { label, iterate } of implementations) {
  describe(`sha512IterateSync via ${label}`, () => {
    if (!iterate) throw new Error(`${label} has no sha512IterateSync`);

    it('equals the loop over @noble/hashes sha512 for suffixes of 0–200 bytes and 1–5 rounds', () => {
      for (let n = 0; n <= 200; n++) {
        const first = bytes((n * 7) % 300, n);
        const suffix = bytes(n, n + 1);
        for (let rounds = 1; rounds <= 5; rounds++) {
          expect(iterate(first, suffix, rounds)).toEqual(reference(first, suffix, rounds));
        }
      }
    });

    it("equals it over a safety number's 5,200 rounds of a 33-byte key, twice in a row", () => {
      const first = bytes(84, 3);
      const key = bytes(33, 9);
      const want = reference(first, key, 5200);
      expect(iterate(first, key, 5200)).toEqual(want);
      expect(iterate(first, key, 5200)).toEqual(want);
    });

    it('refuses bad rounds (RangeError) and non-bytes (TypeError) alike', () => {
      const b = bytes(4, 0);
      for (const rounds of [0, -1, 2 ** 32, 1.5, Number.NaN, '2' as unknown as number])
        expect(() => iterate(b, b, rounds)).toThrow(RangeError);
      expect(() => iterate('x' as unknown as Uint8Array, b, 2)).toThrow(TypeError);
      expect(() => iterate(b, [1] as unknown as Uint8Array, 2)).toThrow(TypeError);
    });
  });
}
