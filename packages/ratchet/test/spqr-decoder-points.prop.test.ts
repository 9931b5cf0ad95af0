// The erasure decoder's stored points (what the SPQR state record keeps) against a plain model of
// libsignal's rule, written here from the rule itself: per polynomial j (n_j values of the object), a
// chunk's point is kept if its index is below n_j or fewer than n_j points are held, and a repeated
// index replaces the stored value; points are listed by index. The decoder keeps them in one packed
// buffer, so the model is the independent side. Also: decoders are values (adding a chunk leaves the
// old one as it was), the record form (`emitPoints`, `fromPointBytes`) round-trips in any order, and the
// record a decoder keeps (`recordView`) is byte for byte what writing its points field by field gives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FastWriter } from '../src/records/fast-proto.js';
import { type Chunk, ChunkDecoder, ChunkEncoder } from '../src/spqr/erasure.js';

const POLYS = 16;
const LENGTHS = [96, 160, 960, 1152] as const;

function need(length: number, j: number): number {
  const values = length / 2;
  return Math.floor(values / POLYS) + (j < values % POLYS ? 1 : 0);
}

/** The rule on Maps: what a decoder must hold after `chunks`, per polynomial sorted by index. */
function model(length: number, chunks: readonly Chunk[]): [number, number][][] {
  const polys = Array.from({ length: POLYS }, () => new Map<number, number>());
  for (const c of chunks) {
    polys.forEach((m, j) => {
      if (c.index < need(length, j) || m.size < need(length, j))
        m.set(c.index, ((c.data[2 * j] as number) << 8) | (c.data[2 * j + 1] as number));
    });
  }
  return polys.map((m) => [...m.entries()].sort((a, b) => a[0] - b[0]));
}

/** The record form: per polynomial, `BE16(x) ‖ BE16(y)` pairs, copied out of the decoder. */
function recordForm(d: ChunkDecoder): Uint8Array[] {
  const out: Uint8Array[] = [];
  d.emitPoints((bytes, start, end) => out.push(bytes.slice(start, end)));
  return out;
}

/**
 * The decoder's record as the state writer wrote it before decoders kept it ready (object length as
 * field 1, then each polynomial's pairs as field 2, on the records' protobuf writer).
 */
function writtenRecord(d: ChunkDecoder): Uint8Array {
  const w = new FastWriter();
  w.uint(1, d.length);
  for (const p of d.points()) {
    const b = new Uint8Array(4 * p.length);
    for (const [i, [x, y]] of p.entries()) b.set([x >> 8, x & 0xff, y >> 8, y & 0xff], 4 * i);
    w.bytes(2, b);
  }
  return w.finish();
}

/** The same pairs in another order (a record written by someone else may list them any way). */
function shuffled(polys: Uint8Array[], seed: number): Uint8Array[] {
  return polys.map((p, j) => {
    const pairs: Uint8Array[] = Array.from({ length: p.length / 4 }, (_, i) => p.slice(4 * i, 4 * i + 4));
    for (let i = pairs.length - 1; i > 0; i--) {
      const k = (seed * 31 + i * 17 + j) % (i + 1);
      [pairs[i], pairs[k]] = [pairs[k] as Uint8Array, pairs[i] as Uint8Array];
    }
    const out = new Uint8Array(p.length);
    for (const [i, q] of pairs.entries()) out.set(q, 4 * i);
    return out;
  });
}

const chunkArb = fc.record({
  // Small indices repeat often and sit on both sides of n_j (≤ 36); some are far out.
  index: fc.oneof(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 0, max: 0xffff })),
  data: fc.uint8Array({ minLength: 32, maxLength: 32 }),
});

describe('SPQR erasure decoder: stored points', () => {
  it('hold exactly what the keep/replace rule keeps, whatever arrives; older decoders are unchanged', () => {
    fc.assert(
      fc.property(fc.constantFrom(...LENGTHS), fc.array(chunkArb, { maxLength: 120 }), (length, chunks) => {
        let dec = new ChunkDecoder(length);
        const history: { dec: ChunkDecoder; points: string }[] = [];
        chunks.forEach((c, i) => {
          history.push({ dec, points: JSON.stringify(dec.points()) });
          dec = dec.withChunk(c);
          if (i % 7 === 0) expect(dec.points()).toEqual(model(length, chunks.slice(0, i + 1)));
          expect(dec.recordView).toEqual(writtenRecord(dec));
        });
        expect(dec.points()).toEqual(model(length, chunks));
        expect(new ChunkDecoder(length).recordView).toEqual(writtenRecord(new ChunkDecoder(length)));
        for (const h of history) expect(JSON.stringify(h.dec.points())).toBe(h.points);
      }),
      { numRuns: 80 },
    );
  });

  it('round-trip through the record form in any order, and decode the same object', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...LENGTHS),
        fc.integer({ min: 0, max: 1000 }),
        fc.array(fc.integer({ min: 0, max: 90 }), { minLength: 1, maxLength: 90 }),
        (length, seed, indices) => {
          const object = new Uint8Array(length).map((_, i) => (i * 131 + seed) & 0xff);
          const enc = new ChunkEncoder(object);
          let dec = new ChunkDecoder(length);
          for (const i of indices) dec = dec.withChunk(enc.chunkAt(i));
          const form = recordForm(dec);
          const again = ChunkDecoder.fromPointBytes(length, shuffled(form, seed));
          expect(again.points()).toEqual(dec.points());
          expect(recordForm(again)).toEqual(form);
          expect(again.recordView).toEqual(writtenRecord(dec));
          expect(dec.recordView).toEqual(writtenRecord(dec));
          const fromTuples = new ChunkDecoder(
            length,
            dec.points().map((p) => [...p].reverse()),
          );
          expect(fromTuples.points()).toEqual(dec.points());
          const out = dec.decoded();
          expect(again.decoded()).toEqual(out);
          if (out) expect(out).toEqual(object);
        },
      ),
      { numRuns: 80 },
    );
  });

  it('a record form with a repeated index or too many points for a polynomial is refused', () => {
    const pair = (x: number, y: number) => Uint8Array.of(x >> 8, x & 0xff, y >> 8, y & 0xff);
    const empty = () => Array.from({ length: POLYS }, () => new Uint8Array(0));
    const repeated = empty();
    repeated[3] = new Uint8Array([...pair(5, 1), ...pair(2, 9), ...pair(5, 1)]);
    expect(() => ChunkDecoder.fromPointBytes(96, repeated)).toThrow(RangeError);
    // 96 bytes: n_j = 3 for every polynomial, so at most 6 points each.
    const many = empty();
    many[0] = new Uint8Array(Array.from({ length: 7 }, (_, i) => [...pair(i, i)]).flat());
    expect(() => ChunkDecoder.fromPointBytes(96, many)).toThrow(RangeError);
    many[0] = many[0].subarray(0, 24);
    expect(ChunkDecoder.fromPointBytes(96, many).points()[0]).toHaveLength(6);
    expect(() => ChunkDecoder.fromPointBytes(96, empty().slice(1))).toThrow(RangeError);
    expect(
      () =>
        new ChunkDecoder(96, [
          [
            [1, 2],
            [1, 3],
          ],
        ]),
    ).toThrow(RangeError);
  });
});
