// The noble provider's Ed25519 verification decides as the native verifiers (node:crypto / OpenSSL,
// Web Crypto) on signatures whose R or A has a small-order component, small-order keys, and
// non-canonical encodings — where noble's own cofactored `ed25519.verify` differs from them. (XEdDSA
// on top of it against libsignal-client: interop/test/core-xeddsa-torsion.test.ts.)
import { nodeProvider } from '@e2ee-kit/core/node';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { ed25519VerifyArgsOk } from '../src/provider/checks.js';
import { nobleCurve25519 } from '../src/provider/noble-curve25519.js';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const P = Point.Fp.ORDER;
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());
const leNum = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);
const torsion = ED25519_TORSION_SUBGROUP.map((h) => Point.fromHex(h));
const k = (R: Uint8Array, A: Uint8Array, m: Uint8Array) =>
  leNum(sha512.create().update(R).update(A).update(m).digest()) % L;
const sig = (R: Uint8Array, s: bigint) => {
  const out = new Uint8Array(64);
  out.set(R, 0);
  out.set(le32(s), 32);
  return out;
};

interface Case {
  what: string;
  pub: Uint8Array;
  msg: Uint8Array;
  sig: Uint8Array;
}

/** Signatures that pass or fail depending on which equation a verifier checks. */
function cases(): Case[] {
  const out: Case[] = [];
  const msg = new TextEncoder().encode('torsion');
  for (let i = 0; i < 8; i++) {
    const a = (BigInt(i) + 1n) * 0x1234_5678_9abc_def1n;
    const A = Point.BASE.multiply(a);
    const r = (BigInt(i) + 3n) * 0xfedc_ba98_7654_3210n;
    // R + T: the signer's nonce point with a small-order component.
    const Rt = Point.BASE.multiply(r).add(torsion[i]!).toBytes();
    out.push({
      what: `R + T${i}`,
      pub: A.toBytes(),
      msg,
      sig: sig(Rt, (r + k(Rt, A.toBytes(), msg) * a) % L),
    });
    // A + T: a public key with a small-order component, signed with the prime-order part's scalar.
    const At = A.add(torsion[i]!).toBytes();
    const R = Point.BASE.multiply(r).toBytes();
    out.push({ what: `A + T${i}`, pub: At, msg, sig: sig(R, (r + k(R, At, msg) * a) % L) });
  }
  // A of small order: s = 0 and R = −[k]A holds for about one message in 8 (cofactorless accepts it).
  for (const [i, T] of torsion.entries()) {
    const A = T.toBytes();
    let found = 0;
    for (let j = 0; found < 2 && j < 64; j++) {
      const m = Uint8Array.of(i, j);
      for (const R of torsion) {
        const Rb = R.toBytes();
        const kk = k(Rb, A, m);
        if (T.multiplyUnsafe(kk).negate().equals(R) || (kk === 0n && R.is0())) {
          out.push({ what: `small-order A = T${i}, forged (msg ${j})`, pub: A, msg: m, sig: sig(Rb, 0n) });
          found++;
        }
      }
    }
  }
  // Non-canonical encodings and scalars around L.
  const a = 0x5555_aaaa_5555n;
  const A = Point.BASE.multiply(a).toBytes();
  const r = 0x7777n;
  const R = Point.BASE.multiply(r).toBytes();
  const s = (r + k(R, A, msg) * a) % L;
  out.push({ what: 'honest', pub: A, msg, sig: sig(R, s) });
  out.push({ what: 's + L', pub: A, msg, sig: sig(R, s + L) });
  out.push({ what: 'L − 1, honest R', pub: A, msg, sig: sig(R, L - 1n) });
  const nonCanonical = (y: bigint, signBit: number) => {
    const b = le32(y + P);
    b[31]! |= signBit << 7;
    return b;
  };
  for (const y of [0n, 1n, 2n, 3n, 4n, 18n]) {
    for (const signBit of [0, 1]) {
      const enc = nonCanonical(y, signBit);
      out.push({ what: `A = (y ${y} + p, sign ${signBit})`, pub: enc, msg, sig: sig(R, s) });
      out.push({ what: `R = (y ${y} + p, sign ${signBit})`, pub: A, msg, sig: sig(enc, s) });
    }
  }
  // x = 0 with the sign bit set (y = ±1): the identity and the point of order 2.
  for (const y of [1n, P - 1n]) {
    const enc = le32(y);
    enc[31]! |= 0x80;
    out.push({ what: `A = (x 0, y ${y === 1n ? 1 : -1}, sign 1)`, pub: enc, msg, sig: sig(R, s) });
  }
  return out;
}

describe('noble Ed25519 verification: the cofactorless equation of the native verifiers', () => {
  const all = cases();

  it('has cases on both sides of every difference it covers', () => {
    expect(all.length).toBeGreaterThan(50);
    expect(all.filter((c) => c.what.startsWith('small-order A')).length).toBeGreaterThanOrEqual(7);
  });

  it('decides every case as node:crypto (OpenSSL) does', async () => {
    for (const c of all) {
      const native = await nodeProvider.ed25519Verify(c.pub, c.msg, c.sig);
      expect(nobleCurve25519.ed25519Verify(c.pub, c.msg, c.sig), c.what).toBe(native);
    }
  });

  it('every provider agrees, and noble’s cofactored verify is where they would differ', async () => {
    let cofactoredDiffers = 0;
    for (const c of all) {
      const expected = nobleCurve25519.ed25519Verify(c.pub, c.msg, c.sig);
      for (const { label, provider } of allProviders)
        expect(await provider.ed25519Verify(c.pub, c.msg, c.sig), `${label}: ${c.what}`).toBe(expected);
      let cofactored = false;
      try {
        cofactored = ed25519.verify(c.sig, c.msg, c.pub, { zip215: false });
      } catch {}
      if (cofactored !== expected) cofactoredDiffers++;
    }
    expect(cofactoredDiffers).toBeGreaterThanOrEqual(14); // R + T1..7, and the forged small-order A
  });
});

// RFC 8032 §5.1.3: decoding a point fails when y ≥ p, or when x = 0 and the sign bit x_0 is 1. OpenSSL
// (node:crypto, Web Crypto in Node) decodes such keys anyway — y mod p, −0 = 0 — so without a check of
// its own a provider accepted signatures that the noble provider (strict decoding) refuses. Under an
// encoding of the identity [s]B − [k]A = [s]B, so R = [s]B is a forgery of every message.
describe('Ed25519 public keys that RFC 8032 decoding refuses', () => {
  const s = 0x1234_5678n;
  const R = Point.BASE.multiply(s).toBytes();
  const forged = sig(R, s);
  const withSign = (b: Uint8Array) => {
    const out = Uint8Array.from(b);
    out[31]! |= 0x80;
    return out;
  };
  const identity = le32(1n);
  const order2 = le32(P - 1n); // (0, −1): [k]A = O for every even k
  // A message whose k is even under the order-2 key, so that R = [s]B verifies.
  const evenK = (A: Uint8Array) => {
    for (let j = 0; ; j++) {
      const m = Uint8Array.of(j);
      if (k(R, A, m) % 2n === 0n) return m;
    }
  };
  const refused = [
    { what: 'identity with the sign bit (x = 0, x_0 = 1)', pub: withSign(identity) },
    { what: 'identity as y = 1 + p', pub: le32(1n + P) },
    { what: 'identity as y = 1 + p with the sign bit', pub: withSign(le32(1n + P)) },
    { what: 'order-2 point with the sign bit (x = 0, x_0 = 1)', pub: withSign(order2) },
  ].map((c) => ({ ...c, msg: evenK(c.pub) }));

  it('the forgery is one: under the canonical encodings every provider accepts it', async () => {
    for (const pub of [identity, order2]) {
      const msg = evenK(pub);
      for (const { label, provider } of allProviders)
        expect(await provider.ed25519Verify(pub, msg, forged), label).toBe(true);
    }
  });

  it('every provider refuses it under a non-canonical encoding of the same point', async () => {
    for (const c of refused) {
      expect(() => Point.fromBytes(c.pub, false), c.what).toThrow(); // noble's strict decoding
      for (const { label, provider } of allProviders)
        expect(await provider.ed25519Verify(c.pub, c.msg, forged), `${label}: ${c.what}`).toBe(false);
    }
  });

  it('the shared check refuses exactly the on-curve encodings noble’s strict decoding refuses', () => {
    const ys = [0n, 1n, 2n, P - 1n, P - 2n, ...Array.from({ length: 19 }, (_, i) => P + BigInt(i))];
    let refusedCount = 0;
    for (const y of ys) {
      for (const signBit of [0, 1]) {
        const enc = le32(y);
        enc[31]! |= signBit << 7;
        try {
          Point.fromBytes(enc, true); // ZIP 215 decoding (y mod p, −0 as 0): what OpenSSL takes
        } catch {
          continue; // not on the curve at all: every verifier refuses it
        }
        let strict = true;
        try {
          Point.fromBytes(enc, false);
        } catch {
          strict = false;
        }
        if (!strict) refusedCount++;
        expect(ed25519VerifyArgsOk(enc, new Uint8Array(0), forged), `y ${y}, sign ${signBit}`).toBe(strict);
      }
    }
    expect(refusedCount).toBeGreaterThanOrEqual(refused.length);
  });
});
