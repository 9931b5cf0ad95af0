// XEdDSA signatures with small-order components, checked by core on every provider and by
// libsignal-client 0.103.0: an R with a small-order component (from an honest key), an identity key
// with one (u of A + T), each with a canonical s and with s + L (< 2^253, core's own path). libsignal
// checks the cofactorless equation on encodings; so must every provider, the noble one included.

import { createHash } from 'node:crypto';
import { type CryptoProvider, KeyPair, nobleProvider, PublicKey, xeddsaVerify } from '@e2ee-kit/core';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { libs } from '../src/libsignal.js';

const Point = ed25519.Point;
const L = Point.Fn.ORDER;
const lib = libs.lib103.mod;
const torsion = ED25519_TORSION_SUBGROUP.map((h) => Point.fromHex(h));
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());
const leNum = (b: Uint8Array) => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);

interface Case {
  what: string;
  identity: PublicKey;
  msg: Uint8Array;
  sig: Uint8Array;
}

/** An XEdDSA signature (R, s) under Edwards key `A` (its sign bit in byte 63). */
function xsig(R: Uint8Array, s: bigint, A: Uint8Array): Uint8Array {
  const out = new Uint8Array(64);
  out.set(R, 0);
  out.set(le32(s), 32);
  out[63] = (out[63]! & 0x7f) | (A[31]! & 0x80);
  return out;
}

async function cases(): Promise<Case[]> {
  const out: Case[] = [];
  const msg = new TextEncoder().encode('xeddsa torsion');
  for (let i = 0; i < 8; i++) {
    const pair = await KeyPair.generate(nobleProvider);
    const a = leNum(pair.privateKey.rawView) % L;
    const A = Point.BASE.multiply(a).toBytes();
    const r = BigInt(i + 1) * 0x0123_4567_89ab_cdefn;
    const h = (R: Uint8Array, key: Uint8Array) =>
      leNum(createHash('sha512').update(R).update(key).update(msg).digest()) % L;
    // R + T under the real identity key.
    const Rt = Point.BASE.multiply(r).add(torsion[i]!).toBytes();
    const s1 = (r + h(Rt, A) * a) % L;
    out.push({ what: `R + T${i}`, identity: pair.publicKey, msg, sig: xsig(Rt, s1, A) });
    out.push({ what: `R + T${i}, s + L`, identity: pair.publicKey, msg, sig: xsig(Rt, s1 + L, A) });
    // An identity key with a small-order component: u of A + T, signed with a.
    const At = Point.fromBytes(A).add(torsion[i]!).toBytes();
    const identity = PublicKey.fromRaw(ed25519.utils.toMontgomery(At));
    const R = Point.BASE.multiply(r).toBytes();
    const s2 = (r + h(R, At) * a) % L;
    out.push({ what: `identity A + T${i}`, identity, msg, sig: xsig(R, s2, At) });
    out.push({ what: `identity A + T${i}, s + L`, identity, msg, sig: xsig(R, s2 + L, At) });
  }
  return out;
}

async function decisions(all: Case[], provider: CryptoProvider): Promise<boolean[]> {
  const out: boolean[] = [];
  for (const c of all) out.push(await xeddsaVerify(c.identity, c.msg, c.sig, provider));
  return out;
}

describe('XEdDSA with small-order components: core decides as libsignal-client 0.103.0', () => {
  it('on every provider', async () => {
    const all = await cases();
    const theirs = all.map((c) =>
      lib.PublicKey.deserialize(Buffer.from(c.identity.serialize())).verify(
        Buffer.from(c.msg),
        Buffer.from(c.sig),
      ),
    );
    // T0 is the identity point: those signatures are genuine. R + T (T ≠ O) never satisfies the
    // equation; under an identity A + T it holds exactly when [h]·T = O (by chance, per message).
    all.forEach((c, i) => {
      if (c.what.includes('T0')) expect(theirs[i], c.what).toBe(true);
      else if (c.what.startsWith('R + T')) expect(theirs[i], c.what).toBe(false);
    });
    for (const { label, provider } of allProviders) {
      const ours = await decisions(all, provider);
      all.forEach((c, i) => {
        expect(ours[i], `${label}: ${c.what}`).toBe(theirs[i]);
      });
    }
  });
});
