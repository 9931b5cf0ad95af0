/**
 * The braid's authenticator and epoch-secret KDF (spec `spqr.md` §5): a root key and a MAC key, updated
 * with every epoch secret; the header and the ciphertext are MACed with the current MAC key.
 */
import { type CryptoProvider, concatBytes, constantTimeEqual } from '@e2ee-kit/core';

// ASCII labels, built without TextEncoder (Hermes has none, and nothing global is read at load).
const enc = { encode: (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0)) };
const LABEL_UPDATE = enc.encode('Signal_PQCKA_V1_MLKEM768:Authenticator Update');
const LABEL_HDR = enc.encode('Signal_PQCKA_V1_MLKEM768:ekheader');
const LABEL_CT = enc.encode('Signal_PQCKA_V1_MLKEM768:ciphertext');
const LABEL_SCKA = enc.encode('Signal_PQCKA_V1_MLKEM768:SCKA Key');
export const MAC_LENGTH = 32;

export interface Authenticator {
  readonly root: Uint8Array;
  readonly mac: Uint8Array;
}

export function be64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** update(e, k): HKDF(zero salt, root ‖ k, "…Authenticator Update" ‖ BE64(e), 64) → (root, mac). */
export async function authUpdate(
  auth: Authenticator,
  epoch: number,
  key: Uint8Array,
  provider: CryptoProvider,
): Promise<Authenticator> {
  const out = await provider.hkdfSha256(
    concatBytes(auth.root, key),
    undefined,
    concatBytes(LABEL_UPDATE, be64(epoch)),
    64,
  );
  return { root: out.slice(0, 32), mac: out.slice(32, 64) };
}

/** The epoch-1 authenticator: all-zero keys updated with the PQXDH auth key. */
export function authInit(authKey: Uint8Array, provider: CryptoProvider): Promise<Authenticator> {
  return authUpdate({ root: new Uint8Array(32), mac: new Uint8Array(32) }, 1, authKey, provider);
}

export function macHeader(auth: Authenticator, epoch: number, hdr: Uint8Array, provider: CryptoProvider) {
  return provider.hmacSha256(auth.mac, concatBytes(LABEL_HDR, be64(epoch), hdr));
}

export function macCiphertext(
  auth: Authenticator,
  epoch: number,
  ct1: Uint8Array,
  ct2: Uint8Array,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  return provider.hmacSha256(auth.mac, concatBytes(LABEL_CT, be64(epoch), ct1, ct2));
}

/** Constant-time MAC check. */
export function macEqual(expected: Uint8Array, got: Uint8Array): boolean {
  return expected.length === got.length && constantTimeEqual(expected, got);
}

/** secret_e = HKDF(zero salt, ML-KEM shared secret, "…SCKA Key" ‖ BE64(e), 32). */
export function epochSecret(sharedSecret: Uint8Array, epoch: number, provider: CryptoProvider) {
  return provider.hkdfSha256(sharedSecret, undefined, concatBytes(LABEL_SCKA, be64(epoch)), 32);
}
