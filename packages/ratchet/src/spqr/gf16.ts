/**
 * Arithmetic in GF(2^16) = GF(2)[x]/(x^16 + x^12 + x^3 + x + 1) (0x1100B), the field of SPQR's erasure
 * code (spec `spqr.md` §4). This is coding-theory arithmetic over 16-bit symbols, not a cryptographic
 * primitive: chunks are public once sent, so no constant-time requirement applies.
 */

const POLY = 0x1100b;

/** Carry-less product reduced modulo the field polynomial. Addition in this field is XOR. */
export function gfMul(a: number, b: number): number {
  let r = 0;
  let x = a;
  let y = b;
  while (y !== 0) {
    if (y & 1) r ^= x;
    y >>>= 1;
    x <<= 1;
    if (x & 0x10000) x ^= POLY;
  }
  return r;
}

/** Multiplicative inverse, b^(2^16 − 2); 0 maps to 0 (never used with 0 by the callers). */
export function gfInv(b: number): number {
  let result = 1;
  let base = b;
  let e = 0xfffe;
  while (e !== 0) {
    if (e & 1) result = gfMul(result, base);
    base = gfMul(base, base);
    e >>>= 1;
  }
  return result;
}

/**
 * Coefficients (lowest degree first) of the unique polynomial of degree < n through the n points
 * (xs[i], ys[i]); the xs must be distinct. Lagrange form built from the master polynomial
 * M(x) = Π (x − x_i) with one synthetic division per point: O(n²) field operations.
 */
export function gfInterpolate(xs: readonly number[], ys: readonly number[]): Uint16Array {
  const n = xs.length;
  const out = new Uint16Array(n);
  if (n === 0) return out;
  // master[k] = coefficient of x^k in Π (x + x_i) (minus is plus in characteristic 2).
  const master = new Uint16Array(n + 1);
  master[0] = 1;
  for (let i = 0; i < n; i++) {
    const xi = xs[i] as number;
    for (let k = i + 1; k >= 1; k--) master[k] = (master[k - 1] as number) ^ gfMul(master[k] as number, xi);
    master[0] = gfMul(master[0] as number, xi);
  }
  const q = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const xi = xs[i] as number;
    // q = M / (x + x_i), highest coefficient first.
    q[n - 1] = master[n] as number;
    for (let k = n - 1; k >= 1; k--) q[k - 1] = (master[k] as number) ^ gfMul(xi, q[k] as number);
    // Denominator Π_{j≠i} (x_i − x_j) = q(x_i).
    const scale = gfMul(ys[i] as number, gfInv(gfEval(q, xi)));
    if (scale === 0) continue;
    for (let k = 0; k < n; k++) out[k] = (out[k] as number) ^ gfMul(scale, q[k] as number);
  }
  return out;
}

/** Horner evaluation of a polynomial (lowest degree first) at x. */
export function gfEval(coefficients: Uint16Array, x: number): number {
  let r = 0;
  for (let k = coefficients.length - 1; k >= 0; k--) r = gfMul(r, x) ^ (coefficients[k] as number);
  return r;
}
