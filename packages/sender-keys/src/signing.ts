/**
 * The signing key of a sender chain and the 64-byte signature over a SenderKeyMessage.
 *
 * libsignal signs with XEdDSA: an X25519 private key, the Edwards public key's sign bit carried in
 * bit 7 of signature byte 63. Verification is plain Ed25519 against the Edwards form of the published
 * Montgomery key with that sign bit. So a chain we create gets a standard Ed25519 key (a seed), and we
 * publish its Montgomery form: its signatures are plain Ed25519 (`provider.ed25519Sign`, native where
 * the platform has it) with the sign bit OR-ed into byte 63, and every XEdDSA verifier accepts them.
 * States without a seed (imported from libsignal) sign with core's `xeddsaSign`.
 */
import {
  type CryptoProvider,
  constantTimeEqual,
  copyBytes,
  PrivateKey,
  PublicKey,
  redact,
  toHex,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import type { SenderKeyStateData } from './record.js';

export interface NewSigningKey {
  readonly signingPublic: PublicKey;
  readonly signingPrivate: Uint8Array;
  readonly edSeed: Uint8Array;
  readonly edSignBit: number;
}

/**
 * A fresh Ed25519 seed and its keys: the X25519 private key is the clamped first half of
 * SHA-512(seed) (RFC 8032's secret scalar), whose public key is the Montgomery form of the Ed25519
 * public key.
 */
export async function generateSigningKey(provider: CryptoProvider): Promise<NewSigningKey> {
  const edSeed = provider.randomBytes(32);
  const h = provider.sha512Sync(edSeed);
  const scalar = h.slice(0, 32);
  h.fill(0);
  scalar[0] = (scalar[0] as number) & 248;
  scalar[31] = ((scalar[31] as number) & 127) | 64;
  const [u, edPublic] = await Promise.all([
    provider.x25519PublicKey(scalar),
    provider.ed25519PublicKey(edSeed),
  ]);
  return {
    signingPublic: PublicKey.fromRaw(u),
    signingPrivate: scalar,
    edSeed,
    edSignBit: ((edPublic[31] as number) >> 7) & 1,
  };
}

/**
 * Keeps one seed object per recently used own signing key (at most 16; compared in constant time on
 * each use), so a provider that caches its imported key per bytes object imports each key once
 * instead of on every message (the import costs ten times the signature on Node).
 */
export class SigningSeedCache {
  readonly #map = new Map<string, Uint8Array>();

  seedFor(signingPublic: PublicKey, seed: Uint8Array): Uint8Array {
    const id = toHex(signingPublic.rawView);
    const hit = this.#map.get(id);
    if (hit !== undefined && constantTimeEqual(hit, seed)) {
      this.#map.delete(id);
      this.#map.set(id, hit);
      return hit;
    }
    const copy = copyBytes(seed);
    this.#map.set(id, copy);
    if (this.#map.size > 16) this.#map.delete(this.#map.keys().next().value as string);
    return copy;
  }
}
redact(SigningSeedCache, '[SigningSeedCache]');

export async function signMessage(
  state: SenderKeyStateData,
  message: Uint8Array,
  provider: CryptoProvider,
  seeds: SigningSeedCache,
): Promise<Uint8Array> {
  if (state.edSeed !== undefined) {
    const sig = await provider.ed25519Sign(seeds.seedFor(state.signingPublic, state.edSeed), message);
    sig[63] = (sig[63] as number) | (state.edSignBit << 7);
    return sig;
  }
  return xeddsaSign(PrivateKey.deserialize(state.signingPrivate as Uint8Array), message, provider);
}

export function verifyMessage(
  signingPublic: PublicKey,
  signedBytes: Uint8Array,
  signature: Uint8Array,
  provider: CryptoProvider,
): Promise<boolean> {
  return xeddsaVerify(signingPublic, signedBytes, signature, provider);
}
