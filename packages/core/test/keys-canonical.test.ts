// `PublicKey.isCanonical` (libsignal's incoming-base-key check) and `montgomeryToEdwards` against
// @noble/curves' own maps, over all 8 torsion cosets, small-order points, non-canonical encodings
// and twist points — and the same answers when they come from the result cache, before and after
// the cache's bound is passed. (libsignal-client's own decisions: interop/test/ratchet-base-key-torsion.)
import { ED25519_TORSION_SUBGROUP, ed25519, x25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { toHex } from '../src/bytes.js';
import { montgomeryToEdwards, PublicKey } from '../src/keys.js';

const Fp = ed25519.Point.Fp;
const P = Fp.ORDER;
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());
const leNum = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);
const torsion = ED25519_TORSION_SUBGROUP.map((h) => ed25519.Point.fromHex(h));
const randomU = () => x25519.getPublicKey(crypto.getRandomValues(new Uint8Array(32)));

/** On Curve25519 (not its twist): u³ + 486662·u² + u is a square (or 0). */
function onCurve(u: bigint): boolean {
  const rhs = Fp.add(Fp.add(Fp.pow(u, 3n), Fp.mul(486662n, Fp.sqr(u))), u);
  return Fp.pow(rhs, (P - 1n) / 2n) !== P - 1n;
}

/**
 * The decision libsignal documents, from noble's API only: top bit clear, u < p, u on the curve and
 * u ≠ −1 (where dalek's `to_edwards` has no point), and `[L]·P = O` for a point with that u.
 */
function expected(u: Uint8Array): boolean {
  if ((u[31]! & 0x80) !== 0) return false;
  const n = leNum(u);
  if (n >= P || n === P - 1n || !onCurve(n)) return false;
  const point = ed25519.Point.fromBytes(Fp.toBytes(Fp.div(Fp.sub(n, 1n), Fp.add(n, 1n))));
  // [L]·P = [L − 1]·P + P: another route through noble than its `isTorsionFree`.
  return point
    .multiplyUnsafe(ed25519.Point.Fn.ORDER - 1n)
    .add(point)
    .is0();
}

/** Every kind of u the check must tell apart, with a label. */
function cases(): [string, Uint8Array][] {
  const out: [string, Uint8Array][] = [];
  for (let i = 0; i < 4; i++) {
    const u = randomU();
    const point = montgomeryToEdwards(u, 0)!;
    torsion.forEach((t, j) => {
      out.push([`random ${i} + T${j}`, ed25519.utils.toMontgomery(point.add(t).toBytes())]);
    });
    const top = u.slice();
    top[31]! |= 0x80;
    out.push([`random ${i}, top bit set`, top]);
    const n = leNum(u);
    if (n + P < 2n ** 256n) out.push([`random ${i} + p`, le32(n + P)]);
  }
  torsion.slice(1).forEach((t, j) => {
    out.push([`small order T${j + 1}`, ed25519.utils.toMontgomery(t.toBytes())]);
  });
  for (const n of [0n, 1n, 2n, 9n, P - 1n, P, P + 1n, 2n ** 255n - 1n, 2n ** 256n - 1n])
    out.push([`u = ${n}`, le32(n)]);
  let twist = 0;
  for (let n = 2n; twist < 3; n++) {
    if (!onCurve(n)) {
      out.push([`twist u = ${n}`, le32(n)]);
      twist++;
    }
  }
  return out;
}

describe('PublicKey.isCanonical', () => {
  it('decides as the reference on every torsion coset, small-order u, non-canonical encoding and twist u', () => {
    const all = cases();
    // Only the prime-order points pass: the 4 random keys (coset T0) and the base point u = 9.
    expect(all.filter(([, u]) => expected(u)).length).toBe(5);
    for (const [what, u] of all) expect(PublicKey.fromRaw(u).isCanonical(), what).toBe(expected(u));
  });

  it('gives the same answers from its cache, for the same and for other key objects, past the bound', () => {
    const all = cases();
    const first = all.map(([, u]) => PublicKey.fromRaw(u).isCanonical());
    // Repeated (cache hits), through other objects with the same bytes.
    expect(all.map(([, u]) => PublicKey.fromRaw(u.slice()).isCanonical())).toEqual(first);
    // Push every entry out of the cache (its bound is a few hundred keys), then ask again.
    for (let i = 0; i < 600; i++) PublicKey.fromRaw(le32(BigInt(i) * 2n ** 200n + 3n)).isCanonical();
    expect(all.map(([, u]) => PublicKey.fromRaw(u).isCanonical())).toEqual(first);
    expect(all.map(([, u]) => expected(u))).toEqual(first);
  });

  it('keeps no view of the bytes it was made from', () => {
    const u = randomU();
    const key = PublicKey.fromRaw(u);
    expect(key.isCanonical()).toBe(true);
    u[31]! |= 0x80; // the caller's array changes; the key and its cached answer do not
    expect(key.isCanonical()).toBe(true);
    expect(PublicKey.fromRaw(u).isCanonical()).toBe(false);
  });
});

describe('montgomeryToEdwards', () => {
  it('inverts noble’s Edwards → Montgomery map, with the sign bit chosen', () => {
    for (let i = 0; i < 16; i++) {
      const edwards = ed25519.Point.BASE.multiply(BigInt(i + 1) * 7919n + 1n).add(torsion[i % 8]!);
      const bytes = edwards.toBytes();
      const u = ed25519.utils.toMontgomery(bytes);
      const sign = bytes[31]! >> 7;
      expect(toHex(montgomeryToEdwards(u, sign)!.toBytes())).toBe(toHex(bytes));
      expect(montgomeryToEdwards(u, sign ^ 1)!.equals(edwards.negate())).toBe(true);
    }
  });

  it('reads 255 bits without reducing first, as dalek does; no point for u = −1 or a twist u', () => {
    const u = randomU();
    const top = u.slice();
    top[31]! |= 0x80;
    expect(montgomeryToEdwards(top, 0)!.equals(montgomeryToEdwards(u, 0)!)).toBe(true);
    let n = 2n;
    while (!onCurve(n)) n++;
    expect(montgomeryToEdwards(le32(P + n), 1)!.equals(montgomeryToEdwards(le32(n), 1)!)).toBe(true);
    expect(montgomeryToEdwards(le32(P - 1n), 0)).toBeUndefined();
    for (let m = 2n; m < 40n; m++)
      expect(montgomeryToEdwards(le32(m), 0) !== undefined, `u = ${m}`).toBe(onCurve(m));
  });
});
