/**
 * Arithmetic in GF(2^16) = GF(2)[x]/(x^16 + x^12 + x^3 + x + 1) (0x1100B), the field of SPQR's erasure
 * code (spec `spqr.md` §4). This is coding-theory arithmetic over 16-bit symbols, not a cryptographic
 * primitive: chunks are public once sent, so no constant-time requirement applies.
 */

const POLY = 0x1100b;
const ORDER = 0xffff;

let tables: { exp: Uint16Array; log: Uint16Array } | undefined;
/**
 * Log/antilog tables for the generator x (the polynomial is primitive: x has order 2^16 − 1), built on
 * first use (≈ 0.4 MB, nothing runs at module load). exp is doubled so log a + log b needs no reduction.
 */
function logTables(): { exp: Uint16Array; log: Uint16Array } {
  if (tables) return tables;
  const exp = new Uint16Array(2 * ORDER);
  const log = new Uint16Array(ORDER + 1);
  let v = 1;
  for (let i = 0; i < ORDER; i++) {
    exp[i] = v;
    exp[i + ORDER] = v;
    log[v] = i;
    v <<= 1;
    if (v & 0x10000) v ^= POLY;
  }
  tables = { exp, log };
  return tables;
}

/** Product in the field (the carry-less product reduced modulo 0x1100B). Addition is XOR. */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0;
  const { exp, log } = logTables();
  return exp[(log[a] as number) + (log[b] as number)] as number;
}

/** Multiplicative inverse; 0 maps to 0 (never used with 0 by the callers). */
export function gfInv(b: number): number {
  if (b === 0) return 0;
  const { exp, log } = logTables();
  return exp[ORDER - (log[b] as number)] as number;
}

/**
 * Lagrange weights at x for the distinct points xs: the unique polynomial P of degree < n through
 * (xs[i], y_i) has P(x) = Σ weights[i]·y_i. One call serves every polynomial sharing these xs (all 16
 * of an SPQR chunk): O(n²) field operations, then 16·n products per chunk.
 */
export function gfLagrangeWeights(xs: readonly number[], x: number): Uint16Array {
  const n = xs.length;
  const w = new Uint16Array(n);
  const hit = xs.indexOf(x);
  if (hit >= 0) {
    w[hit] = 1;
    return w;
  }
  // Numerators Π_{j≠i} (x − x_j) from prefix and suffix products (minus is plus in characteristic 2).
  const prefix = new Uint16Array(n + 1);
  prefix[0] = 1;
  for (let i = 0; i < n; i++) prefix[i + 1] = gfMul(prefix[i] as number, x ^ (xs[i] as number));
  let suffix = 1;
  for (let i = n - 1; i >= 0; i--) {
    const xi = xs[i] as number;
    let denominator = 1;
    for (let j = 0; j < n; j++) if (j !== i) denominator = gfMul(denominator, xi ^ (xs[j] as number));
    w[i] = gfMul(gfMul(prefix[i] as number, suffix), gfInv(denominator));
    suffix = gfMul(suffix, x ^ xi);
  }
  return w;
}

/** The log/antilog tables themselves, for loops that multiply many values by a few fixed ones. */
export function gfTables(): { readonly exp: Uint16Array; readonly log: Uint16Array } {
  return logTables();
}

/**
 * Barycentric weights of the distinct points xs: b_i = 1 / Π_{j≠i} (x_i − x_j). O(n²) once per point
 * set; then `gfLagrangeFrom` gives the Lagrange weights at any x in O(n) (the same values as
 * `gfLagrangeWeights`, which does the O(n²) product for every x).
 */
export function gfBarycentric(xs: ArrayLike<number>): Uint16Array {
  const n = xs.length;
  const b = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const xi = xs[i] as number;
    let d = 1;
    for (let j = 0; j < n; j++) if (j !== i) d = gfMul(d, xi ^ (xs[j] as number));
    b[i] = gfInv(d);
  }
  return b;
}

/**
 * Logarithms of the Lagrange weights at x (which must not be one of xs) into `out`:
 * w_i = b_i · L(x) / (x − x_i) with L(x) = Π_j (x − x_j), all non-zero, so each is one log sum.
 * Callers multiply y by w_i as `exp[out[i] + log[y]]` (y ≠ 0).
 */
export function gfLagrangeLogsFrom(
  xs: ArrayLike<number>,
  bary: Uint16Array,
  x: number,
  out: Uint16Array,
): void {
  const { log } = logTables();
  const n = xs.length;
  let logL = 0;
  for (let j = 0; j < n; j++) logL += log[x ^ (xs[j] as number)] as number;
  logL %= ORDER;
  for (let i = 0; i < n; i++)
    out[i] =
      (logL + (log[bary[i] as number] as number) + ORDER - (log[x ^ (xs[i] as number)] as number)) % ORDER;
}
