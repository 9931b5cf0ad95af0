/**
 * SPQR's erasure code (spec `spqr.md` §4): an object of L bytes is spread over 16 polynomials in
 * GF(2^16); chunk c is the 32 bytes BE16(P_0(c)) ‖ … ‖ BE16(P_15(c)). Chunks below K = ⌈L/32⌉ are the
 * object's own bytes; higher chunks are parity. Any K distinct chunk indices, in any order, rebuild it.
 *
 * Work is bounded: a decoder keeps at most 2·n_j points per polynomial (n_j ≤ 36 for every SPQR
 * object); a parity value is a Lagrange evaluation over n_j points, O(n_j²) per chunk, no state kept.
 */
import { gfLagrangeWeights, gfMul } from './gf16.js';

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

/** Module-private token: an encoder made by `advance` shares its predecessor's (never changed) object. */
const SHARED: unique symbol = Symbol('shared');

/** Sends an object chunk by chunk: index 0, 1, 2, … (the index on the wire wraps at 2^16). */
export class ChunkEncoder {
  readonly #object: Uint8Array;
  readonly #next: number;

  constructor(object: Uint8Array, next = 0, share?: typeof SHARED) {
    assertLength(object.length);
    if (!Number.isInteger(next) || next < 0 || next > 0xffff_ffff) throw new RangeError('bad chunk counter');
    this.#object = share === SHARED ? object : object.slice();
    this.#next = next;
  }

  /** The object being sent (a copy). */
  get object(): Uint8Array {
    return this.#object.slice();
  }

  /** @internal The object itself, for writers that copy it (the state codec): never change it. */
  get objectView(): Uint8Array {
    return this.#object;
  }

  /** How many chunks were emitted (u32, wraps like libsignal's counter). */
  get emitted(): number {
    return this.#next;
  }

  /** A new encoder that has emitted one more chunk, and that chunk. This encoder is unchanged. */
  advance(): { encoder: ChunkEncoder; chunk: Chunk } {
    const chunk = this.chunkAt(this.#next % 0x10000);
    // The object is never changed after construction: the next encoder shares it.
    return { encoder: new ChunkEncoder(this.#object, (this.#next + 1) % 0x1_0000_0000, SHARED), chunk };
  }

  /** Chunk `index` (0 … 65 535) of the object. */
  chunkAt(index: number): Chunk {
    if (!Number.isInteger(index) || index < 0 || index > 0xffff) throw new RangeError('bad chunk index');
    const data = new Uint8Array(CHUNK_DATA_LENGTH);
    const len = this.#object.length;
    const weights = new Map<number, Uint16Array>(); // by point count: polynomials j share x = 0 … n−1
    for (let j = 0; j < POLYS; j++) {
      const n = pointsFor(len, j);
      let value = 0;
      if (index < n) value = valueAt(this.#object, index * POLYS + j);
      else if (n > 0) {
        let w = weights.get(n);
        if (!w) {
          w = gfLagrangeWeights(
            Array.from({ length: n }, (_, k) => k),
            index,
          );
          weights.set(n, w);
        }
        for (let k = 0; k < n; k++) value ^= gfMul(w[k] as number, valueAt(this.#object, k * POLYS + j));
      }
      data[2 * j] = value >>> 8;
      data[2 * j + 1] = value & 0xff;
    }
    return { index, data };
  }
}

function valueAt(object: Uint8Array, k: number): number {
  return ((object[2 * k] as number) << 8) | (object[2 * k + 1] as number);
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

  /**
   * The same as `points()`, each polynomial's points as `BE16(x) ‖ BE16(y)` pairs in one array (what
   * the state record stores), without building a tuple per point.
   */
  pointBytes(): Uint8Array[] {
    return this.#points.map((m) => {
      const xs = Uint16Array.from(m.keys()).sort();
      const b = new Uint8Array(4 * xs.length);
      for (let i = 0; i < xs.length; i++) {
        const x = xs[i] as number;
        const y = m.get(x) as number;
        b[4 * i] = x >>> 8;
        b[4 * i + 1] = x & 0xff;
        b[4 * i + 2] = y >>> 8;
        b[4 * i + 3] = y & 0xff;
      }
      return b;
    });
  }

  /** A new decoder with `chunk` added (this one is unchanged). */
  withChunk(chunk: Chunk): ChunkDecoder {
    if (chunk.data.length !== CHUNK_DATA_LENGTH) throw new RangeError('chunk data must be 32 bytes');
    // Our own points are valid already: copy the maps instead of re-sorting and re-checking them.
    const next = new ChunkDecoder(this.length);
    for (let j = 0; j < POLYS; j++) next.#points[j] = new Map(this.#points[j] as Points);
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
    // Per polynomial, the n_j lowest-x points; polynomials with the same x set share Lagrange weights.
    const chosen = this.#points.map((m, j) =>
      [...m.entries()].sort((a, b) => a[0] - b[0]).slice(0, pointsFor(this.length, j)),
    );
    const weights = new Map<string, Uint16Array>();
    for (let k = 0; k < this.length / 2; k++) {
      const j = k % POLYS;
      const x = Math.floor(k / POLYS);
      let y = (this.#points[j] as Points).get(x);
      if (y === undefined) {
        const pts = chosen[j] as [number, number][];
        const key = `${x}:${pts.map((p) => p[0]).join(',')}`;
        let w = weights.get(key);
        if (!w) {
          w = gfLagrangeWeights(
            pts.map((p) => p[0]),
            x,
          );
          weights.set(key, w);
        }
        y = 0;
        for (let i = 0; i < pts.length; i++) y ^= gfMul(w[i] as number, (pts[i] as [number, number])[1]);
      }
      out[2 * k] = y >>> 8;
      out[2 * k + 1] = y & 0xff;
    }
    return out;
  }
}
