/**
 * XEdDSA exactly as libsignal implements it (`curve25519.rs`): sign with the X25519 private key; the
 * Edwards public key's sign bit travels in the top bit of signature byte 63 instead of being forced
 * to zero. Point arithmetic is @noble/curves; nothing here is a new primitive.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE as leToNumber, numberToBytesLE } from '@noble/curves/utils.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { assertBytes, copyBytes, toHex } from './bytes.js';
import { InvalidKeyError } from './errors.js';
import { montgomeryToEdwards, PrivateKey, PublicKey } from './keys.js';
import { ed25519EquationHolds } from './provider/noble-curve25519.js';
import type { CryptoProvider } from './provider/types.js';

export const SIGNATURE_LENGTH = 64;
const L = ed25519.Point.Fn.ORDER;
const HASH1_PREFIX = (() => {
  const p = new Uint8Array(32).fill(0xff);
  p[0] = 0xfe;
  return p;
})();

/**
 * The Edwards public key `A = a·B` of each signing key (public data), kept per key object for as long
 * as the key lives: it halves the cost of every signature after the first.
 */
const signerCache = new WeakMap<PrivateKey, Uint8Array>();

function edwardsPublicKey(privateKey: PrivateKey, a: bigint): Uint8Array {
  let A = signerCache.get(privateKey);
  if (A === undefined) {
    A = ed25519.Point.BASE.multiply(a).toBytes();
    signerCache.set(privateKey, A);
  }
  return A;
}

/**
 * Signs `message` with libsignal's XEdDSA. `random` (64 bytes) is drawn from the provider unless given
 * (tests pass it to reproduce a signature).
 */
export function xeddsaSign(
  key: PrivateKey,
  message: Uint8Array,
  provider: CryptoProvider,
  random?: Uint8Array,
): Uint8Array {
  const privateKey = PrivateKey.from(key, 'privateKey');
  try {
    return sign(privateKey, message, provider, random);
  } finally {
    // Another copy's key was read into a temporary of ours: nothing keeps it, so it is wiped now.
    if (privateKey !== key) privateKey.wipe();
  }
}

function sign(
  privateKey: PrivateKey,
  message: Uint8Array,
  provider: CryptoProvider,
  random: Uint8Array | undefined,
): Uint8Array {
  if (privateKey.wiped) throw new InvalidKeyError('private key has been wiped');
  assertBytes(message, 'message');
  const z = random ?? provider.randomBytes(64);
  assertBytes(z, 'random', 64);
  const aBytes = privateKey.rawView;
  const a = leToNumber(aBytes) % L;
  const A = edwardsPublicKey(privateKey, a);
  const signBit = (A[31] as number) & 0x80;
  const r =
    leToNumber(sha512.create().update(HASH1_PREFIX).update(aBytes).update(message).update(z).digest()) % L;
  const R = ed25519.Point.BASE.multiply(r === 0n ? L : r).toBytes();
  const h = leToNumber(sha512.create().update(R).update(A).update(message).digest()) % L;
  const s = (h * a + r) % L;
  const sig = new Uint8Array(SIGNATURE_LENGTH);
  sig.set(R, 0);
  sig.set(numberToBytesLE(s, 32), 32);
  sig[63] = ((sig[63] as number) & 0x7f) | signBit;
  return sig;
}

/**
 * Edwards encodings of recently verified public keys (public data, bounded, least recently used
 * dropped first), keyed by u and sign bit. Skips the field inversion and square root on every
 * verification under a known key, and hands providers the same bytes object each time so their
 * per-object imported-key caches hit.
 */
const EDWARDS_CACHE_SIZE = 512;
const edwardsCache = new Map<string, Uint8Array | null>();

function edwardsBytes(u: Uint8Array, sign: number): Uint8Array | undefined {
  const id = toHex(u) + sign;
  let hit = edwardsCache.get(id);
  if (hit !== undefined) {
    edwardsCache.delete(id);
  } else {
    hit = montgomeryToEdwards(u, sign)?.toBytes() ?? null;
    if (edwardsCache.size >= EDWARDS_CACHE_SIZE)
      edwardsCache.delete(edwardsCache.keys().next().value as string);
  }
  edwardsCache.set(id, hit);
  return hit ?? undefined;
}

/**
 * Verifies as libsignal does: Edwards key from u with the sign bit of `sig[63]`, `s` below 2^253,
 * then `R == s·B − h·A` on the compressed encoding (the cofactorless equation). When `s` is canonical
 * (< L), this is plain RFC 8032 Ed25519 as every provider checks it (native verifiers and the noble
 * provider's alike: cofactorless, see `ed25519Verify` in noble-curve25519.ts), so the provider's
 * (possibly native) verifier is used; otherwise the same equation with `s mod L`.
 */
export async function xeddsaVerify(
  key: PublicKey,
  message: Uint8Array,
  signature: Uint8Array,
  provider: CryptoProvider,
): Promise<boolean> {
  const publicKey = PublicKey.from(key, 'publicKey');
  assertBytes(message, 'message');
  assertBytes(signature, 'signature');
  if (signature.length !== SIGNATURE_LENGTH) return false;
  const sign = (signature[63] as number) >> 7;
  const sBytes = copyBytes(signature, 32, 64); // cleared below: never the caller's bytes
  sBytes[31] = (sBytes[31] as number) & 0x7f;
  if (((sBytes[31] as number) & 0xe0) !== 0) return false;
  const aBytes = edwardsBytes(publicKey.rawView, sign);
  if (!aBytes) return false;
  const s = leToNumber(sBytes);
  if (s < L) {
    const edSig = new Uint8Array(64);
    edSig.set(signature.subarray(0, 32), 0);
    edSig.set(sBytes, 32);
    return provider.ed25519Verify(aBytes, message, edSig);
  }
  const h =
    leToNumber(sha512.create().update(signature.subarray(0, 32)).update(aBytes).update(message).digest()) % L;
  return ed25519EquationHolds(ed25519.Point.fromBytes(aBytes), h, s % L, signature.subarray(0, 32));
}
