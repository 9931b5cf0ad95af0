// Test-only: inputs for the differential provider tests, as callers hand them over — plain arrays,
// views at odd offsets inside a larger buffer, and small Node Buffers (slices of Node's shared pool) —
// with a check that a call left the caller's bytes, and the bytes around a view, as they were.
import fc from 'fast-check';
import { expect } from 'vitest';

export type Kind = 'plain' | 'view' | 'pooled';
export const kinds = fc.constantFrom<Kind>('plain', 'view', 'pooled');

/** Deterministic filler (xorshift32): test data, not randomness. */
export function filled(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface Arranged {
  /** What the code under test receives. */
  readonly bytes: Uint8Array;
  /** The same content as a plain array of its own (what a result is compared with). */
  readonly plain: Uint8Array;
  /** Asserts that neither `bytes` nor the memory around it changed. */
  unchanged(): void;
}

/** `content` (or `filled(length, seed)`) as an input of the given kind. */
export function arrange(length: number, seed: number, kind: Kind, content?: Uint8Array): Arranged {
  const want = content ?? filled(length, seed);
  let bytes: Uint8Array;
  let whole: Uint8Array;
  if (kind === 'pooled') {
    // Buffer.from(array) of less than 4 KiB is a slice of the shared 8 KiB pool.
    bytes = Buffer.from(want);
    whole = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else if (kind === 'view') {
    const outer = filled(want.length + 11, seed ^ 0x1234567);
    outer.set(want, 5);
    bytes = outer.subarray(5, 5 + want.length);
    whole = outer;
  } else {
    bytes = want.slice();
    whole = bytes;
  }
  const before = whole.slice();
  return {
    bytes,
    plain: want.slice(),
    unchanged() {
      expect(Buffer.from(bytes).equals(Buffer.from(want)), 'input bytes changed').toBe(true);
      expect(Buffer.from(whole).equals(Buffer.from(before)), 'bytes around the input changed').toBe(true);
    },
  };
}

/** A length from 0 to `max`: half the time within ±2 of one of `edges`, else anywhere. */
export function lengthNear(edges: readonly number[], max: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc
      .constantFrom(...edges)
      .chain((e) => fc.integer({ min: Math.max(0, e - 2), max: Math.min(max, e + 2) })),
    fc.integer({ min: 0, max }),
  );
}

/**
 * `got` has exactly the bytes of `want`, and is a plain `Uint8Array` of its own. Compared as hex
 * strings: vitest's element-by-element equality of typed arrays dominated these tests' time.
 */
export function expectBytes(got: unknown, want: Uint8Array, what = 'bytes'): void {
  expect(got, what).toBeInstanceOf(Uint8Array);
  const g = got as Uint8Array;
  // Not a Buffer, and owning its whole ArrayBuffer: a view into Node's shared pool would hand the
  // caller unrelated process memory through `.buffer`.
  expect(Object.getPrototypeOf(g) === Uint8Array.prototype, `${what}: a plain Uint8Array`).toBe(true);
  expect(g.byteOffset === 0 && g.byteLength === g.buffer.byteLength, `${what}: owns its buffer`).toBe(true);
  expect(Buffer.from(got as Uint8Array).toString('hex'), what).toBe(Buffer.from(want).toString('hex'));
}
