/**
 * SPQR's erasure code (spec `spqr.md` §4): an object of L bytes is spread over 16 polynomials in
 * GF(2^16); chunk c is the 32 bytes BE16(P_0(c)) ‖ … ‖ BE16(P_15(c)). Chunks below K = ⌈L/32⌉ are the
 * object's own bytes; higher chunks are parity. Any K distinct chunk indices, in any order, rebuild it.
 *
 * Work is bounded: a decoder keeps at most 2·n_j points per polynomial (n_j ≤ 36 for every SPQR
 * object) and interpolates at most once per object; an encoder caches its polynomials in memory only.
 */
import { gfEval, gfInterpolate } from './gf16.js';

export const CHUNK_DATA_LENGTH = 32;
const POLYS = 16;
/** Largest object SPQR V1 chunks (the ek vector); bigger lengths are refused before any allocation. */
export const MAX_OBJECT_LENGTH = 1152;

/** One chunk on the wire: a u16 index and 32 data bytes. */
export interface Chunk {
  readonly index: number;
  readonly data: Uint8Array;
}

function pointsFor(length: number, poly: number): number {
  const values = length / 2;
  return Math.floor(values / POLYS) + (poly < values % POLYS ? 1 : 0);
}

function assertLength(length: number): void {
  if (!Number.isInteger(length) || length <= 0 || length % 2 !== 0 || length > MAX_OBJECT_LENGTH)
    throw new RangeError('erasure-coded object length must be even and at most 1152 bytes');
}

/** Sends an object chunk by chunk: index 0, 1, 2, … (the index on the wire wraps at 2^16). */
export class ChunkEncoder {
  readonly #object: Uint8Array;
  #next: number;
  #polys: Uint16Array[] | undefined;

  constructor(object: Uint8Array, next = 0) {
    assertLength(object.length);
    if (!Number.isInteger(next) || next < 0 || next > 0xffff_ffff) throw new RangeError('bad chunk counter');
    this.#object = object.slice();
    this.#next = next;
  }

  /** The object being sent (a copy). */
  get object(): Uint8Array {
    return this.#object.slice();
  }

  /** How many chunks were emitted (u32, wraps like libsignal's counter). */
  get emitted(): number {
    return this.#next;
  }

  /** A new encoder that has emitted one more chunk, and that chunk. This encoder is unchanged. */
  advance(): { encoder: ChunkEncoder; chunk: Chunk } {
    const chunk = this.chunkAt(this.#next % 0x10000);
    const encoder = new ChunkEncoder(this.#object, (this.#next + 1) % 0x1_0000_0000);
    encoder.#polys = this.#polys;
    return { encoder, chunk };
  }

  /** Chunk `index` (0 … 65 535) of the object. */
  chunkAt(index: number): Chunk {
    if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError('bad chunk index');
    const data = new Uint8Array(CHUNK_DATA_LENGTH);
    const len = this.#object.length;
    for (let j = 0; j < POLYS; j++) {
      const at = 2 * (index * POLYS + j);
      let value: number;
      if (index < pointsFor(len, j))
        value = ((this.#object[at] as number) << 8) | (this.#object[at + 1] as number);
      else value = gfEval(this.#polynomials()[j] as Uint16Array, index);
      data[2 * j] = value >>> 8;
      data[2 * j + 1] = value & 0xff;
    }
    return { index, data };
  }

  #polynomials(): Uint16Array[] {
    if (this.#polys) return this.#polys;
    const len = this.#object.length;
    const polys: Uint16Array[] = [];
    for (let j = 0; j < POLYS; j++) {
      const n = pointsFor(len, j);
      const xs: number[] = [];
      const ys: number[] = [];
      for (let k = 0; k < n; k++) {
        const at = 2 * (k * POLYS + j);
        xs.push(k);
        ys.push(((this.#object[at] as number) << 8) | (this.#object[at + 1] as number));
      }
      polys.push(gfInterpolate(xs, ys));
    }
    this.#polys = polys;
    return polys;
  }
}

/** Per polynomial: the points kept, sorted by x (x → y). */
type Points = Map<number, number>;

/** Collects chunks of one object of known length until any K distinct indices have arrived. */
export class ChunkDecoder {
  readonly length: number;
  readonly #points: Points[];

  constructor(length: number, points?: readonly (readonly (readonly [number, number])[])[]) {
    assertLength(length);
    this.length = length;
    this.#points = [];
    for (let j = 0; j < POLYS; j++) {
      const m: Points = new Map();
      const given = points?.[j];
      if (given) {
        if (given.length > 2 * pointsFor(length, j)) throw new RangeError('too many decoder points');
        for (const [x, y] of given) {
          if (!Number.isInteger(x) || x < 0 || x > 0xffff || !Number.isInteger(y) || y < 0 || y > 0xffff)
            throw new RangeError('bad decoder point');
          if (m.has(x)) throw new RangeError('duplicate decoder point');
          m.set(x, y);
        }
      }
      this.#points.push(m);
    }
  }

  /** The stored points per polynomial, sorted by x (for serialization). */
  points(): [number, number][][] {
    return this.#points.map((m) => [...m.entries()].sort((a, b) => a[0] - b[0]));
  }

  /** A new decoder with `chunk` added (this one is unchanged). */
  withChunk(chunk: Chunk): ChunkDecoder {
    if (chunk.data.length !== CHUNK_DATA_LENGTH) throw new RangeError('chunk data must be 32 bytes');
    const next = new ChunkDecoder(this.length, this.points());
    const x = chunk.index;
    for (let j = 0; j < POLYS; j++) {
      const need = pointsFor(this.length, j);
      const m = next.#points[j] as Points;
      // libsignal keeps a point only if it can spare an interpolation (x < need) or is still needed;
      // a repeated x replaces the stored value (sorted_vec's `push`).
      if (x < need || m.size < need) {
        const y = ((chunk.data[2 * j] as number) << 8) | (chunk.data[2 * j + 1] as number);
        m.set(x, y);
      }
    }
    return next;
  }

  /** The object once every polynomial has enough points, else `undefined`. */
  decoded(): Uint8Array | undefined {
    for (let j = 0; j < POLYS; j++)
      if ((this.#points[j] as Points).size < pointsFor(this.length, j)) return undefined;
    const out = new Uint8Array(this.length);
    const polys: (Uint16Array | undefined)[] = new Array(POLYS);
    for (let k = 0; k < this.length / 2; k++) {
      const j = k % POLYS;
      const x = Math.floor(k / POLYS);
      const m = this.#points[j] as Points;
      let y = m.get(x);
      if (y === undefined) {
        let p = polys[j];
        if (!p) {
          const pts = [...m.entries()].sort((a, b) => a[0] - b[0]).slice(0, pointsFor(this.length, j));
          p = gfInterpolate(
            pts.map((e) => e[0]),
            pts.map((e) => e[1]),
          );
          polys[j] = p;
        }
        y = gfEval(p, x);
      }
      out[2 * k] = y >>> 8;
      out[2 * k + 1] = y & 0xff;
    }
    return out;
  }
}
