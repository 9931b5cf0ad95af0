/**
 * ML-KEM-768 split the way SPQR sends it (spec `spqr.md` §3): the 1184-byte encapsulation key travels as
 * a 64-byte header hdr = ρ ‖ H(ek) and the 1152-byte vector t̂; the ciphertext as ct1 (960 B, needs only
 * hdr) and ct2 (128 B, needs t̂). Composed from @noble/post-quantum — its one-shot ML-KEM for key
 * generation, decapsulation and ct2, and its K-PKE building blocks (NTT, bit packing, SHAKE XOF) for
 * ct1. The only code here is glue FIPS 203 spells out (sampling loops, the NTT-domain product, adds).
 */

import { concatBytes, constantTimeEqual } from '@e2ee-kit/core';
import { sha3_256, sha3_512, shake256 } from '@noble/hashes/sha3.js';
import { genCrystals, XOF128 } from '@noble/post-quantum/_crystals.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { SpqrErrorCode, spqrError } from './errors.js';

export const HEADER_LENGTH = 64;
export const EK_VECTOR_LENGTH = 1152;
export const DK_LENGTH = 2400;
export const CT1_LENGTH = 960;
export const CT2_LENGTH = 128;
export const ENCAPS_SEED_LENGTH = 32;
export const KEYGEN_SEED_LENGTH = 64;

const N = 256;
const Q = 3329;
const K = 3;
const DU = 10;

type Crystals = ReturnType<typeof genCrystals<Uint16Array>>;
let crystals: Crystals | undefined;
/** noble's NTT and packing for ML-KEM's ring, built on first use (nothing runs at module load). */
function ring(): Crystals {
  crystals ??= genCrystals({
    N,
    Q,
    F: 3303,
    ROOT_OF_UNITY: 17,
    newPoly: (n: number) => new Uint16Array(n),
    brvBits: 7,
    isKyber: true,
  });
  return crystals;
}

/** A key pair as the key-sending side keeps it: everything is a slice of the FIPS 203 dk. */
export interface BraidKeys {
  readonly dk: Uint8Array;
  readonly hdr: Uint8Array;
  readonly ek: Uint8Array;
}

/** hdr and ek vector from a FIPS 203 decapsulation key dk = dkPKE ‖ ek(t̂ ‖ ρ) ‖ H(ek) ‖ z. */
/** FIPS 203 §7.3 input check (noble's decapsulate throws on it): H(ek) stored in dk is H(ek). */
export function dkHashOk(dk: Uint8Array): boolean {
  return constantTimeEqual(sha3_256(dk.subarray(1152, 2336)), dk.subarray(2336, 2368));
}

/**
 * `check: false` is for a dk loaded from our own state record: the SHA3 over 1,184 bytes would run on
 * every load, so `decaps` runs it instead, once per epoch.
 */
export function keysFromDk(dk: Uint8Array, check = true): BraidKeys {
  if (dk.length !== DK_LENGTH) throw new RangeError('ML-KEM-768 dk must be 2400 bytes');
  const copy = dk.slice();
  if (check && !dkHashOk(copy)) throw new RangeError('ML-KEM-768 dk fails its hash check');
  const ek = copy.slice(1152, 1152 + EK_VECTOR_LENGTH);
  const hdr = concatBytes(copy.subarray(2304, 2336), copy.subarray(2336, 2368));
  return { dk: copy, hdr, ek };
}

export function generateKeys(seed: Uint8Array): BraidKeys {
  if (seed.length !== KEYGEN_SEED_LENGTH) throw new RangeError('key generation seed must be 64 bytes');
  // noble's keygen has just written H(ek) into dk itself: checking it again is a SHA3-256 over
  // 1,184 bytes (≈ 50 µs) that cannot fail.
  return keysFromDk(ml_kem768.keygen(seed.slice()).secretKey, false);
}

/** SampleNTT (FIPS 203 Alg. 7): rejection-sample 12-bit values below q from an XOF stream. */
function sampleNtt(next: () => Uint8Array): Uint16Array {
  const r = new Uint16Array(N);
  for (let j = 0; j < N; ) {
    const b = next();
    for (let i = 0; j < N && i + 3 <= b.length; i += 3) {
      const d1 = ((b[i] as number) | ((b[i + 1] as number) << 8)) & 0xfff;
      const d2 = (((b[i + 1] as number) >> 4) | ((b[i + 2] as number) << 4)) & 0xfff;
      if (d1 < Q) r[j++] = d1;
      if (j < N && d2 < Q) r[j++] = d2;
    }
  }
  return r;
}

/** SamplePolyCBD_2 (FIPS 203 Alg. 8) of PRF(r, nonce) = SHAKE256(r ‖ nonce, 128). */
function cbd2(seed: Uint8Array, nonce: number): Uint16Array {
  const bytes = shake256.create({ dkLen: 128 }).update(seed).update(Uint8Array.of(nonce)).digest();
  const r = new Uint16Array(N);
  for (let i = 0; i < N; i++) {
    const byte = bytes[i >> 1] as number;
    const bits = (i & 1 ? byte >> 4 : byte) & 0xf;
    const a = (bits & 1) + ((bits >> 1) & 1);
    const b = ((bits >> 2) & 1) + ((bits >> 3) & 1);
    r[i] = (a - b + Q) % Q;
  }
  return r;
}

/** f̂ ∘ ĝ accumulated into `acc` (FIPS 203 Alg. 11, γ = ±ζ^(2·BitRev7(i)+1) from noble's table). */
function mulAccNtt(acc: Uint16Array, f: Uint16Array, g: Uint16Array): void {
  const zetas = ring().nttZetas;
  for (let i = 0; i < N / 2; i++) {
    let z = zetas[64 + (i >> 1)] as number;
    if (i & 1) z = Q - z;
    const a0 = f[2 * i] as number;
    const a1 = f[2 * i + 1] as number;
    const b0 = g[2 * i] as number;
    const b1 = g[2 * i + 1] as number;
    const c0 = (((a1 * b1) % Q) * z + a0 * b0) % Q;
    const c1 = (a0 * b1 + a1 * b0) % Q;
    acc[2 * i] = ((acc[2 * i] as number) + c0) % Q;
    acc[2 * i + 1] = ((acc[2 * i + 1] as number) + c1) % Q;
  }
}

/** Compress_10 then ByteEncode_10, through noble's bit packer. */
function encodeU(poly: Uint16Array): Uint8Array {
  return ring()
    .bitsCoder(DU, {
      encode: (i: number) => Math.floor(((i << DU) + Q / 2) / Q),
      decode: (i: number) => i,
    })
    .encode(poly);
}

/**
 * Encaps1: from hdr and 32 random bytes m, the first ciphertext part and the shared secret.
 * (K, r) = SHA3-512(m ‖ H(ek)); u = NTT⁻¹(Âᵀ ∘ NTT(y)) + e1; ct1 = ByteEncode10(Compress10(u)).
 * The encapsulation state the ct side keeps is just m (ct2 is recomputed from hdr, ek and m).
 */
export function encaps1(hdr: Uint8Array, m: Uint8Array): { ct1: Uint8Array; sharedSecret: Uint8Array } {
  if (hdr.length !== HEADER_LENGTH) throw new RangeError('header must be 64 bytes');
  if (m.length !== ENCAPS_SEED_LENGTH) throw new RangeError('encapsulation seed must be 32 bytes');
  const rho = hdr.slice(0, 32);
  const kr = sha3_512.create().update(m).update(hdr.subarray(32, 64)).digest();
  const r = kr.slice(32, 64);
  const { NTT } = ring();
  const yHat: Uint16Array[] = [];
  for (let i = 0; i < K; i++) yHat.push(NTT.encode(cbd2(r, i)));
  const xof = XOF128(rho);
  const ct1 = new Uint8Array(CT1_LENGTH);
  try {
    for (let i = 0; i < K; i++) {
      const acc = new Uint16Array(N);
      for (let j = 0; j < K; j++) mulAccNtt(acc, sampleNtt(xof.get(i, j)), yHat[j] as Uint16Array);
      const u = NTT.decode(acc);
      const e1 = cbd2(r, K + i);
      for (let k = 0; k < N; k++) u[k] = ((u[k] as number) + (e1[k] as number)) % Q;
      ct1.set(encodeU(u), i * 320);
    }
  } finally {
    xof.clean();
    r.fill(0);
    kr.fill(0, 32);
    for (const p of yHat) p.fill(0);
  }
  return { ct1, sharedSecret: kr.slice(0, 32) };
}

/** FIPS 203 modulus check of the ek vector: every 12-bit coefficient below q. */
function ekModulusOk(ek: Uint8Array): boolean {
  let ok = true;
  for (let i = 0; i + 2 < ek.length; i += 3) {
    const a = (ek[i] as number) | (((ek[i + 1] as number) & 0x0f) << 8);
    const b = ((ek[i + 1] as number) >> 4) | ((ek[i + 2] as number) << 4);
    ok = ok && a < Q && b < Q;
  }
  return ok;
}

/** libcrux `validate_pk_bytes`: SHA3-256(ek ‖ ρ) = H(ek) from hdr, and ek passes the modulus check. */
export function ekMatchesHeader(ek: Uint8Array, hdr: Uint8Array): boolean {
  if (ek.length !== EK_VECTOR_LENGTH || hdr.length !== HEADER_LENGTH) return false;
  const h = sha3_256.create().update(ek).update(hdr.subarray(0, 32)).digest();
  return constantTimeEqual(h, hdr.subarray(32, 64)) && ekModulusOk(ek);
}

/** Encaps2: ct2 for the full key ek ‖ ρ and the stored m; an ek that fails `ekMatchesHeader` is refused. */
export function encaps2(hdr: Uint8Array, ek: Uint8Array, m: Uint8Array): Uint8Array {
  if (!ekMatchesHeader(ek, hdr)) throw new RangeError('ek does not match the header');
  return encaps2Checked(hdr, ek, m);
}

/**
 * Encaps2 for an ek that already passed `ekMatchesHeader` against this hdr (the braid checks it when the
 * ek vector is decoded, and a stored one when its state is loaded): FIPS 203 Alg. 14's v part only,
 * v = NTT⁻¹(t̂ᵀ ∘ ŷ) + e2 + Decompress₁(m), ct2 = ByteEncode₄(Compress₄(v)), with (K, r) = G(m ‖ H(ek)) as
 * in `encaps1` (H(ek) is hdr's second half). noble's one-shot encapsulation made all of ct1 again (the
 * 9 SampleNTT expansions of Â and u) and hashed ek twice more, ≈ 0.4 ms per epoch; the bytes are the
 * same (tests compare both with noble's one-shot ciphertext).
 */
export function encaps2Checked(hdr: Uint8Array, ek: Uint8Array, m: Uint8Array): Uint8Array {
  if (hdr.length !== HEADER_LENGTH || ek.length !== EK_VECTOR_LENGTH) throw new RangeError('bad key length');
  if (m.length !== ENCAPS_SEED_LENGTH) throw new RangeError('encapsulation seed must be 32 bytes');
  const kr = sha3_512.create().update(m).update(hdr.subarray(32, 64)).digest();
  const r = kr.subarray(32, 64);
  const { NTT } = ring();
  const acc = new Uint16Array(N);
  const yHat: Uint16Array[] = [];
  let v: Uint16Array | undefined;
  let e2: Uint16Array | undefined;
  try {
    for (let i = 0; i < K; i++) {
      const y = NTT.encode(cbd2(r, i));
      yHat.push(y);
      mulAccNtt(acc, tHatCoder().decode(ek.subarray(384 * i, 384 * (i + 1))), y);
    }
    v = NTT.decode(acc);
    e2 = cbd2(r, 2 * K);
    for (let k = 0; k < N; k++) {
      // Decompress₁ of bit k of m (least significant bit first): 0 or ⌈q/2⌋ = 1665.
      const bit = ((m[k >> 3] as number) >> (k & 7)) & 1;
      v[k] = ((v[k] as number) + (e2[k] as number) + bit * 1665) % Q;
    }
    return ct2Coder().encode(v);
  } finally {
    kr.fill(0);
    acc.fill(0);
    for (const p of yHat) p.fill(0);
    v?.fill(0);
    e2?.fill(0);
  }
}

type PolyCoder = { encode(p: Uint16Array): Uint8Array; decode(b: Uint8Array): Uint16Array };
let tCoder: PolyCoder | undefined;
let vCoder: PolyCoder | undefined;
/** ByteDecode₁₂ of a t̂ polynomial (values of an ek that passed the modulus check are below q). */
function tHatCoder(): PolyCoder {
  tCoder ??= ring().bitsCoder(12, { encode: (i: number) => i, decode: (i: number) => i });
  return tCoder;
}
/** Compress₄ then ByteEncode₄ (noble's `polyCoder(4)`: ⌊(16·x + q/2) / q⌋ mod 16). */
function ct2Coder(): PolyCoder {
  vCoder ??= ring().bitsCoder(4, {
    encode: (i: number) => Math.floor(((i << 4) + Q / 2) / Q),
    decode: (i: number) => i,
  });
  return vCoder;
}

/** Standard ML-KEM-768 decapsulation of ct1 ‖ ct2 (implicit rejection: never throws on bad ciphertext). */
export function decaps(dk: Uint8Array, ct1: Uint8Array, ct2: Uint8Array): Uint8Array {
  if (ct1.length !== CT1_LENGTH || ct2.length !== CT2_LENGTH) throw new RangeError('bad ciphertext length');
  if (dk.length !== DK_LENGTH)
    throw spqrError(SpqrErrorCode.ErroneousData, 'stored decapsulation key is corrupt');
  try {
    // noble checks H(ek) stored in dk (FIPS 203 §7.3) before anything else and throws if it differs;
    // ours ran the same SHA3-256 over 1,184 bytes first, on every decapsulation.
    return ml_kem768.decapsulate(concatBytes(ct1, ct2), dk);
  } catch (e) {
    if (!dkHashOk(dk)) throw spqrError(SpqrErrorCode.ErroneousData, 'stored decapsulation key is corrupt');
    throw e;
  }
}
