// SPQR's erasure code by properties: any K distinct chunk indices (systematic, parity or both, in any
// order, with repeats) rebuild the object; fewer never do. The field is GF(2^16) modulo 0x1100B, whose
// primitivity (Plank's table, which spqr cites) is checked independently here.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkDecoder, ChunkEncoder } from '../src/spqr/erasure.js';
import {
  gfBarycentric,
  gfInv,
  gfLagrangeLogsFrom,
  gfLagrangeWeights,
  gfMul,
  gfTables,
} from '../src/spqr/gf16.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** The field's definition: carry-less product reduced modulo 0x1100B (independent of our tables). */
function clmulMod(a: number, b: number): number {
  let r = 0;
  let x = a;
  for (let y = b; y !== 0; y >>>= 1) {
    if (y & 1) r ^= x;
    x <<= 1;
    if (x & 0x10000) x ^= 0x1100b;
  }
  return r;
}

function gfPow(a: number, e: number): number {
  let r = 1;
  let b = a;
  for (let k = e; k > 0; k = Math.floor(k / 2)) {
    if (k % 2) r = clmulMod(r, b);
    b = clmulMod(b, b);
  }
  return r;
}

describe('GF(2^16) mod x^16 + x^12 + x^3 + x + 1', () => {
  it('x generates the multiplicative group (the polynomial is primitive): order 65 535', () => {
    expect(gfPow(2, 65535)).toBe(1);
    for (const p of [3, 5, 17, 257]) expect(gfPow(2, 65535 / p)).not.toBe(1);
  });

  it('the log/antilog products equal the definition', () => {
    for (let a = 0; a <= 0xffff; a += 7) expect(gfMul(a, 2)).toBe(clmulMod(a, 2));
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (a, b) => {
        expect(gfMul(a, b)).toBe(clmulMod(a, b));
      }),
      { numRuns: 5000 },
    );
  });

  it('x^16 reduces to x^12 + x^3 + x + 1; products by x shift', () => {
    expect(gfMul(0x8000, 2)).toBe(0x100b);
    expect(gfMul(0x1234, 2)).toBe(0x2468);
  });

  it('field laws: commutative, distributive, inverses', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 0, max: 0xffff }),
        fc.integer({ min: 1, max: 0xffff }),
        (a, b, c) => {
          expect(gfMul(a, b)).toBe(gfMul(b, a));
          expect(gfMul(a ^ b, c)).toBe(gfMul(a, c) ^ gfMul(b, c));
          expect(gfMul(c, gfInv(c))).toBe(1);
        },
      ),
    );
  });

  it('Lagrange weights evaluate a known polynomial (Horner) at any point from any n of its points', () => {
    const horner = (coefficients: number[], x: number) =>
      coefficients.reduceRight((acc, c) => gfMul(acc, x) ^ c, 0);
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 36 }).chain((coefficients) =>
          fc.record({
            coefficients: fc.constant(coefficients),
            xs: fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), {
              minLength: coefficients.length,
              maxLength: coefficients.length,
            }),
            at: fc.integer({ min: 0, max: 0xffff }),
          }),
        ),
        ({ coefficients, xs, at }) => {
          const w = gfLagrangeWeights(xs, at);
          const value = xs.reduce((acc, x, i) => acc ^ gfMul(w[i] as number, horner(coefficients, x)), 0);
          expect(value).toBe(horner(coefficients, at));
        },
      ),
    );
  });
});

describe('erasure code', () => {
  // The four SPQR objects (hdr‖mac, ek, ct1, ct2‖mac) and odd even lengths.
  const lengths = fc.constantFrom(96, 1152, 960, 160, 2, 10, 34, 1088);

  it('barycentric Lagrange weights (as logarithms) equal the direct O(n²) weights, any points and x', () => {
    const { exp } = gfTables();
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 0xffff }), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 0, max: 0xffff }),
        (xs, x) => {
          fc.pre(!xs.includes(x));
          const logs = new Uint16Array(xs.length);
          gfLagrangeLogsFrom(xs, gfBarycentric(xs), x, logs);
          expect([...logs].map((l) => exp[l])).toEqual([...gfLagrangeWeights(xs, x)]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('any K distinct indices, in any order and with repeats, rebuild the object; K − 1 do not', () => {
    fc.assert(
      fc.property(
        lengths.chain((len) =>
          fc.record({
            object: fc.uint8Array({ minLength: len, maxLength: len }),
            indices: fc.uniqueArray(
              fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 0xffff })),
              {
                minLength: Math.ceil(len / 32),
                maxLength: Math.ceil(len / 32),
              },
            ),
            repeats: fc.array(fc.nat(), { maxLength: 5 }),
          }),
        ),
        ({ object, indices, repeats }) => {
          const k = indices.length;
          const enc = new ChunkEncoder(object);
          let dec = new ChunkDecoder(object.length);
          const order = [...indices, ...repeats.map((r) => indices[r % k] as number)];
          for (const [n, i] of order.entries()) {
            dec = dec.withChunk(enc.chunkAt(i));
            if (n < k - 1) expect(dec.decoded()).toBeUndefined();
          }
          expect(hex(dec.decoded()!)).toBe(hex(object));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('parity-only decoding of a 1088-byte object (spqr polynomial.rs encode_and_decode_large shape)', () => {
    const object = new Uint8Array(1088).fill(3);
    const enc = new ChunkEncoder(object);
    let dec = new ChunkDecoder(1088);
    for (let i = 35; i < 35 + 34; i++) dec = dec.withChunk(enc.chunkAt(i));
    expect(hex(dec.decoded()!)).toBe(hex(object));
  });

  it('the encoder emits 0, 1, 2, … and wraps the wire index at 2^16', () => {
    let enc = new ChunkEncoder(new Uint8Array(96).fill(7), 0xffff);
    const a = enc.advance();
    enc = a.encoder;
    const b = enc.advance();
    expect([a.chunk.index, b.chunk.index, b.encoder.emitted]).toEqual([0xffff, 0, 0x10001]);
    const first = new ChunkEncoder(new Uint8Array(96).fill(7)).advance();
    expect(first.chunk.index).toBe(0);
    expect(hex(b.chunk.data)).toBe(hex(first.chunk.data));
  });

  it('a decoder never holds more than 2·n_j points per polynomial, whatever arrives', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            index: fc.integer({ min: 0, max: 0xffff }),
            data: fc.uint8Array({ minLength: 32, maxLength: 32 }),
          }),
          { maxLength: 300 },
        ),
        (chunks) => {
          let dec = new ChunkDecoder(1152);
          for (const c of chunks) dec = dec.withChunk(c);
          for (const pts of dec.points()) expect(pts.length).toBeLessThanOrEqual(72);
        },
      ),
      { numRuns: 30 },
    );
  });
});
