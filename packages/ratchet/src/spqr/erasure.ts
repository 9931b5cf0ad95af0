/**
 * SPQR's erasure code (spec `spqr.md` §4): an object of L bytes is spread over 16 polynomials in
 * GF(2^16); chunk c is the 32 bytes BE16(P_0(c)) ‖ … ‖ BE16(P_15(c)). Chunks below K = ⌈L/32⌉ are the
 * object's own bytes; higher chunks are parity. Any K distinct chunk indices, in any order, rebuild it.
 *
 * Work is bounded: a decoder keeps at most 2·n_j points per polynomial (n_j ≤ 36 for every SPQR
 * object); a parity value is a Lagrange evaluation over n_j points, O(n_j²) per chunk, no state kept.
 */
import { gfBarycentric, gfLagrangeLogsFrom, gfTables } from './gf16.js';

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
    const object = this.#object;
    const len = object.length;
    const { exp, log } = gfTables();
    // Polynomials with the same point count n share x = 0 … n−1, so the weights at `index` are made
    // once per count (at most two counts per object), as logarithms.
    let wn = 0;
    let w: Uint16Array | undefined;
    for (let j = 0; j < POLYS; j++) {
      const n = pointsFor(len, j);
      let value = 0;
      if (index < n) value = valueAt(object, index * POLYS + j);
      else if (n > 0) {
        if (n !== wn || !w) {
          w = new Uint16Array(n);
          gfLagrangeLogsFrom(firstPoints(n), systematicWeights(n), index, w);
          wn = n;
        }
        for (let k = 0; k < n; k++) {
          const y = valueAt(object, k * POLYS + j);
          if (y !== 0) value ^= exp[(w[k] as number) + (log[y] as number)] as number;
        }
      }
      data[2 * j] = value >>> 8;
      data[2 * j + 1] = value & 0xff;
    }
    return { index, data };
  }
}

/** x = 0 … n−1, and their barycentric weights, by n (kept: every object's systematic points). */
const firstPointsBy: Uint16Array[] = [];
const systematicBy: Uint16Array[] = [];
function firstPoints(n: number): Uint16Array {
  let xs = firstPointsBy[n];
  if (!xs) {
    xs = Uint16Array.from({ length: n }, (_, k) => k);
    firstPointsBy[n] = xs;
  }
  return xs;
}
function systematicWeights(n: number): Uint16Array {
  let b = systematicBy[n];
  if (!b) {
    b = gfBarycentric(firstPoints(n));
    systematicBy[n] = b;
  }
  return b;
}

function valueAt(object: Uint8Array, k: number): number {
  return ((object[2 * k] as number) << 8) | (object[2 * k + 1] as number);
}

const xAt = (b: Uint8Array, o: number) => ((b[o] as number) << 8) | (b[o + 1] as number);
const yAt = (b: Uint8Array, o: number) => ((b[o + 2] as number) << 8) | (b[o + 3] as number);

/** Field keys of the decoder's record (codec.ts: `Decoder { 1 object length; 2 points × 16 }`). */
const LENGTH_KEY = 0x08;
const POINTS_KEY = 0x12;
const varintLength = (v: number) => (v < 0x80 ? 1 : v < 0x4000 ? 2 : 3);
function putVarint(b: Uint8Array, p: number, v: number): number {
  while (v >= 0x80) {
    b[p++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  b[p++] = v;
  return p;
}
/** `src[from, to)` into `dst` at `p`; short ranges byte by byte (a view per range costs more). */
function copyRange(dst: Uint8Array, p: number, src: Uint8Array, from: number, to: number): number {
  if (to - from >= 64) {
    dst.set(src.subarray(from, to), p);
    return p + to - from;
  }
  for (let i = from; i < to; i++) dst[p++] = src[i] as number;
  return p;
}

/**
 * Collects chunks of one object of known length until any K distinct indices have arrived.
 *
 * The points are kept as the decoder's own state record — `08 varint(length)`, then per polynomial j
 * `12 varint(4·n_j)` and its `BE16(x) ‖ BE16(y)` pairs sorted by x — in one buffer (polynomial j's
 * pairs at bytes `#at[2j] … #at[2j + 1]`): adding a chunk is one pass over the buffer with 16
 * insertions, and writing the state copies the buffer whole (the state is written twice per message,
 * and a receiving braid makes a new decoder on every message).
 */
export class ChunkDecoder {
  readonly length: number;
  /** Never changed once the constructor or `withChunk` returns (decoders are values). */
  #rec: Uint8Array;
  #at: Uint16Array;

  constructor(length: number, points?: readonly (readonly (readonly [number, number])[])[]) {
    assertLength(length);
    this.length = length;
    this.#at = new Uint16Array(2 * POLYS);
    if (!points) {
      // No points: the header and 16 empty lists.
      const head = 1 + varintLength(length);
      const rec = new Uint8Array(head + 2 * POLYS);
      rec[0] = LENGTH_KEY;
      putVarint(rec, 1, length);
      for (let j = 0; j < POLYS; j++) {
        rec[head + 2 * j] = POINTS_KEY;
        this.#at[2 * j] = this.#at[2 * j + 1] = head + 2 * j + 2;
      }
      this.#rec = rec;
      return;
    }
    const polys: Uint8Array[] = [];
    for (let j = 0; j < POLYS; j++) {
      const given = points[j] ?? [];
      const b = new Uint8Array(4 * given.length);
      given.forEach(([x, y], i) => {
        if (!Number.isInteger(x) || x < 0 || x > 0xffff || !Number.isInteger(y) || y < 0 || y > 0xffff)
          throw new RangeError('bad decoder point');
        b[4 * i] = x >>> 8;
        b[4 * i + 1] = x & 0xff;
        b[4 * i + 2] = y >>> 8;
        b[4 * i + 3] = y & 0xff;
      });
      polys.push(b);
    }
    this.#rec = this.#pack(polys);
  }

  /**
   * A decoder from the record's form: 16 arrays of `BE16(x) ‖ BE16(y)` pairs, in any order (they are
   * sorted here). Too many points for a polynomial or a repeated x → `RangeError`.
   */
  static fromPointBytes(length: number, polys: readonly Uint8Array[]): ChunkDecoder {
    if (polys.length !== POLYS || polys.some((p) => !(p instanceof Uint8Array) || p.length % 4 !== 0))
      throw new RangeError('decoder points malformed');
    const d = new ChunkDecoder(length);
    d.#rec = d.#pack(polys);
    return d;
  }

  /** Checks each polynomial's points (count, distinct x), sorts them by x and writes the record; sets `#at`. */
  #pack(polys: readonly Uint8Array[]): Uint8Array {
    let total = 1 + varintLength(this.length);
    for (const p of polys) total += 1 + varintLength(p.length) + p.length;
    const rec = new Uint8Array(total);
    rec[0] = LENGTH_KEY;
    let w = putVarint(rec, 1, this.length);
    for (let j = 0; j < POLYS; j++) {
      const p = polys[j] as Uint8Array;
      const n = p.length / 4;
      if (n > 2 * pointsFor(this.length, j)) throw new RangeError('too many decoder points');
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => xAt(p, 4 * a) - xAt(p, 4 * b));
      rec[w++] = POINTS_KEY;
      w = putVarint(rec, w, p.length);
      this.#at[2 * j] = w;
      for (let i = 0; i < n; i++) {
        const o = 4 * (order[i] as number);
        if (i > 0 && xAt(p, o) === xAt(p, 4 * (order[i - 1] as number)))
          throw new RangeError('duplicate decoder point');
        w = copyRange(rec, w, p, o, o + 4);
      }
      this.#at[2 * j + 1] = w;
    }
    return rec;
  }

  #count(j: number): number {
    return ((this.#at[2 * j + 1] as number) - (this.#at[2 * j] as number)) / 4;
  }

  /** The stored points per polynomial, sorted by x. */
  points(): [number, number][][] {
    return Array.from({ length: POLYS }, (_, j) => {
      const pts: [number, number][] = [];
      for (let o = this.#at[2 * j] as number; o < (this.#at[2 * j + 1] as number); o += 4)
        pts.push([xAt(this.#rec, o), yAt(this.#rec, o)]);
      return pts;
    });
  }

  /**
   * The same as `points()` in the state record's form: `emit` gets each polynomial's points as
   * `BE16(x) ‖ BE16(y)` pairs, the range `start … end` of the decoder's own bytes (read them, never
   * change them).
   */
  emitPoints(emit: (bytes: Uint8Array, start: number, end: number) => void): void {
    for (let j = 0; j < POLYS; j++) emit(this.#rec, this.#at[2 * j] as number, this.#at[2 * j + 1] as number);
  }

  /**
   * @internal The decoder's record (`Decoder { 1 object length; 2 points × 16 }`, exactly what writing
   * its length and `emitPoints` as protobuf fields gives), for writers that copy it: never change it.
   */
  get recordView(): Uint8Array {
    return this.#rec;
  }

  /** A new decoder with `chunk` added (this one is unchanged). */
  withChunk(chunk: Chunk): ChunkDecoder {
    if (chunk.data.length !== CHUNK_DATA_LENGTH) throw new RangeError('chunk data must be 32 bytes');
    const x = chunk.index;
    const src = this.#rec;
    const from = this.#at;
    // Per polynomial: where x goes (byte offset), and whether it replaces a stored point.
    const at = new Int32Array(POLYS).fill(-1);
    const replace = new Uint8Array(POLYS);
    const head = 1 + varintLength(this.length);
    let total = head;
    for (let j = 0; j < POLYS; j++) {
      const start = from[2 * j] as number;
      const end = from[2 * j + 1] as number;
      let n = end - start;
      const need = pointsFor(this.length, j);
      // libsignal keeps a point only if it can spare an interpolation (x < need) or is still needed;
      // a repeated x replaces the stored value (sorted_vec's `push`).
      if (x < need || n / 4 < need) {
        let o = start;
        while (o < end && xAt(src, o) < x) o += 4;
        at[j] = o;
        if (o < end && xAt(src, o) === x) replace[j] = 1;
        else n += 4;
      }
      total += 1 + varintLength(n) + n;
    }
    const next = new ChunkDecoder(this.length);
    const rec = new Uint8Array(total);
    const to = next.#at;
    let w = copyRange(rec, 0, src, 0, head);
    const d = chunk.data;
    for (let j = 0; j < POLYS; j++) {
      const start = from[2 * j] as number;
      const end = from[2 * j + 1] as number;
      const o = at[j] as number;
      rec[w++] = POINTS_KEY;
      w = putVarint(rec, w, end - start + (o >= 0 && !replace[j] ? 4 : 0));
      to[2 * j] = w;
      if (o < 0) w = copyRange(rec, w, src, start, end);
      else {
        w = copyRange(rec, w, src, start, o);
        rec[w++] = x >>> 8;
        rec[w++] = x & 0xff;
        rec[w++] = d[2 * j] as number;
        rec[w++] = d[2 * j + 1] as number;
        w = copyRange(rec, w, src, replace[j] ? o + 4 : o, end);
      }
      to[2 * j + 1] = w;
    }
    next.#rec = rec;
    return next;
  }

  /** The object once every polynomial has enough points, else `undefined`. */
  decoded(): Uint8Array | undefined {
    for (let j = 0; j < POLYS; j++) if (this.#count(j) < pointsFor(this.length, j)) return undefined;
    const b = this.#rec;
    const out = new Uint8Array(this.length);
    const { exp, log } = gfTables();
    // Per polynomial, the n_j lowest-x points (the first n_j stored; every stored x below n_j is among
    // them). Polynomials with the same x set (all with the same n_j, as a rule) share the barycentric
    // weights of that set and the Lagrange weights at each missing x.
    const groups = new Map<string, { xs: Uint16Array; bary?: Uint16Array; at: Map<number, Uint16Array> }>();
    for (let j = 0; j < POLYS; j++) {
      const start = this.#at[2 * j] as number;
      const n = pointsFor(this.length, j);
      const xs = new Uint16Array(n);
      for (let i = 0; i < n; i++) xs[i] = xAt(b, start + 4 * i);
      const key = xs.join(',');
      let g = groups.get(key);
      if (!g) {
        g = { xs, at: new Map() };
        groups.set(key, g);
      }
      for (let x = 0; x < n; x++) {
        let y: number;
        // xs is sorted: x is stored iff it is xs[i] for the i where the search stops.
        let i = 0;
        while (i < n && (xs[i] as number) < x) i++;
        if (i < n && xs[i] === x) y = yAt(b, start + 4 * i);
        else {
          let w = g.at.get(x);
          if (!w) {
            g.bary ??= gfBarycentric(xs);
            w = new Uint16Array(n);
            gfLagrangeLogsFrom(xs, g.bary, x, w);
            g.at.set(x, w);
          }
          y = 0;
          for (let k = 0; k < n; k++) {
            const v = yAt(b, start + 4 * k);
            if (v !== 0) y ^= exp[(w[k] as number) + (log[v] as number)] as number;
          }
        }
        const o = 2 * (x * POLYS + j);
        out[o] = y >>> 8;
        out[o + 1] = y & 0xff;
      }
    }
    return out;
  }
}
