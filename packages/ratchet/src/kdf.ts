/**
 * libsignal's key derivations (spec §2.2, §2.3, §3.1, §5.4), composed from the provider's HKDF/HMAC.
 */
import { type CryptoProvider, concatBytes, type PrivateKey, type PublicKey, utf8 } from '@e2ee-kit/core';

export const INFO_PQXDH = utf8('WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024');
export const INFO_X3DH = utf8('WhisperText');
const INFO_RATCHET = utf8('WhisperRatchet');
const INFO_MESSAGE_KEYS = utf8('WhisperMessageKeys');
const SEED_BYTE = Uint8Array.of(0x01);
const CHAIN_BYTE = Uint8Array.of(0x02);

/** The X3DH/PQXDH "discontinuity bytes" that start the secret input. */
export const DISCONTINUITY = new Uint8Array(32).fill(0xff);

export interface HandshakeKeys {
  rootKey: Uint8Array;
  chainKey: Uint8Array;
  /** SPQR authentication key (PQXDH only). */
  spqrAuthKey: Uint8Array | undefined;
}

/** PQXDH: 96 bytes `RK ‖ CK ‖ SPQR auth key`; X3DH: 64 bytes `RK ‖ CK`. Salt absent (32 zero bytes). */
export async function deriveHandshakeKeys(
  secret: Uint8Array,
  pqxdh: boolean,
  provider: CryptoProvider,
): Promise<HandshakeKeys> {
  const okm = await provider.hkdfSha256(secret, undefined, pqxdh ? INFO_PQXDH : INFO_X3DH, pqxdh ? 96 : 64);
  return {
    rootKey: okm.slice(0, 32),
    chainKey: okm.slice(32, 64),
    spqrAuthKey: pqxdh ? okm.slice(64, 96) : undefined,
  };
}

/** `KDF_RK(RK, dh)`: HKDF(salt = RK, ikm = dh, "WhisperRatchet", 64) → new root key, chain key. */
export async function kdfRootKey(
  rootKey: Uint8Array,
  dh: Uint8Array,
  provider: CryptoProvider,
): Promise<{ rootKey: Uint8Array; chainKey: Uint8Array }> {
  const okm = await shortHkdf(provider, dh, rootKey, INFO_RATCHET, 64);
  return { rootKey: okm.subarray(0, 32), chainKey: okm.subarray(32, 64) };
}

/**
 * HMAC of a short input (a chain step's one byte, a message's MAC input of a few hundred bytes)
 * through the provider's synchronous HMAC when it has one (same bytes, see `SyncKdf`), else its async
 * one. Every message makes a few of these; the async call costs about as much as the hashing (an async
 * function and a promise turn), so callers get the value itself where they can.
 */
export function shortHmac(
  provider: CryptoProvider,
  key: Uint8Array,
  data: Uint8Array,
): Uint8Array | Promise<Uint8Array> {
  const sync = provider.hmacSha256Sync;
  return typeof sync === 'function' ? sync.call(provider, key, data) : provider.hmacSha256(key, data);
}

/** HKDF of short inputs (a 32-byte key, a short info) the same way as `shortHmac`. */
function shortHkdf(
  provider: CryptoProvider,
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array | Promise<Uint8Array> {
  const sync = provider.hkdfSha256Sync;
  return typeof sync === 'function'
    ? sync.call(provider, ikm, salt, info, length)
    : provider.hkdfSha256(ikm, salt, info, length);
}

/** Message-key seed `HMAC(CK, 0x01)`. */
export function messageSeed(
  chainKey: Uint8Array,
  provider: CryptoProvider,
): Uint8Array | Promise<Uint8Array> {
  return shortHmac(provider, chainKey, SEED_BYTE);
}

/** Next chain key `HMAC(CK, 0x02)`. */
export function nextChainKey(
  chainKey: Uint8Array,
  provider: CryptoProvider,
): Uint8Array | Promise<Uint8Array> {
  return shortHmac(provider, chainKey, CHAIN_BYTE);
}

/**
 * The provider's synchronous HMAC-SHA256 / HKDF-SHA256 when it offers them (optional in
 * `CryptoProvider`), for chain walks: a promise per step costs more than the step's hashing (a forged
 * message can ask for 25,000 message-chain and 25,000 SPQR-chain steps). Same bytes as the async calls.
 */
export interface SyncKdf {
  hmac(key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdf(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number): Uint8Array;
}

const syncKdfs = new WeakMap<CryptoProvider, { hmac: unknown; hkdf: unknown; kdf: SyncKdf | undefined }>();

/** The provider's `SyncKdf`, made once per provider (every message takes a chain step or two). */
export function syncKdf(provider: CryptoProvider): SyncKdf | undefined {
  const { hmacSha256Sync, hkdfSha256Sync } = provider;
  const known = syncKdfs.get(provider);
  if (known && known.hmac === hmacSha256Sync && known.hkdf === hkdfSha256Sync) return known.kdf;
  const kdf: SyncKdf | undefined =
    typeof hmacSha256Sync !== 'function' || typeof hkdfSha256Sync !== 'function'
      ? undefined
      : {
          hmac: (key, data) => hmacSha256Sync.call(provider, key, data),
          hkdf: (ikm, salt, info, length) => hkdfSha256Sync.call(provider, ikm, salt, info, length),
        };
  syncKdfs.set(provider, { hmac: hmacSha256Sync, hkdf: hkdfSha256Sync, kdf });
  return kdf;
}

/** Message-key seed `HMAC(CK, 0x01)`, synchronously. */
export function messageSeedSync(chainKey: Uint8Array, kdf: SyncKdf): Uint8Array {
  return kdf.hmac(chainKey, SEED_BYTE);
}

/** Next chain key `HMAC(CK, 0x02)`, synchronously. */
export function nextChainKeySync(chainKey: Uint8Array, kdf: SyncKdf): Uint8Array {
  return kdf.hmac(chainKey, CHAIN_BYTE);
}

export interface MessageKeys {
  cipherKey: Uint8Array;
  macKey: Uint8Array;
  iv: Uint8Array;
}

/** HKDF(salt = SPQR key or none, ikm = seed, "WhisperMessageKeys", 80) → cipher key, MAC key, IV. */
export function deriveMessageKeys(
  seed: Uint8Array,
  spqrKey: Uint8Array | undefined,
  provider: CryptoProvider,
): MessageKeys | Promise<MessageKeys> {
  const okm = shortHkdf(provider, seed, spqrKey, INFO_MESSAGE_KEYS, 80);
  return okm instanceof Uint8Array ? splitMessageKeys(okm) : okm.then(splitMessageKeys);
}

function splitMessageKeys(okm: Uint8Array): MessageKeys {
  return { cipherKey: okm.subarray(0, 32), macKey: okm.subarray(32, 64), iv: okm.subarray(64, 80) };
}

/** `0xFF×32 ‖ DH(a₁) ‖ DH(a₂) ‖ … [‖ KyberSS]` for the given (private, public) agreements. */
async function handshakeSecret(
  agreements: [PrivateKey, PublicKey | undefined][],
  kyberSharedSecret: Uint8Array | undefined,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [DISCONTINUITY];
  for (const [ours, theirs] of agreements) if (theirs) parts.push(await ours.agree(theirs, provider));
  if (kyberSharedSecret) parts.push(kyberSharedSecret);
  return concatBytes(...parts);
}

/**
 * The initiator's secret input: `0xFF×32 ‖ DH(IK_A, SPK_B) ‖ DH(EK_A, IK_B) ‖ DH(EK_A, SPK_B)
 * [‖ DH(EK_A, OPK_B)] [‖ KyberSS]`.
 */
export function initiatorSecret(
  p: {
    ourIdentity: PrivateKey;
    ourBase: PrivateKey;
    theirIdentity: PublicKey;
    theirSignedPreKey: PublicKey;
    theirOneTimePreKey?: PublicKey | undefined;
    kyberSharedSecret?: Uint8Array | undefined;
  },
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const agreements: [PrivateKey, PublicKey | undefined][] = [
    [p.ourIdentity, p.theirSignedPreKey],
    [p.ourBase, p.theirIdentity],
    [p.ourBase, p.theirSignedPreKey],
    [p.ourBase, p.theirOneTimePreKey],
  ];
  return handshakeSecret(agreements, p.kyberSharedSecret, provider);
}

/** The responder's secret input (the same bytes as the initiator's, roles swapped). */
export function responderSecret(
  p: {
    ourIdentity: PrivateKey;
    ourSignedPreKey: PrivateKey;
    ourOneTimePreKey?: PrivateKey | undefined;
    theirIdentity: PublicKey;
    theirBase: PublicKey;
    kyberSharedSecret?: Uint8Array | undefined;
  },
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const agreements: [PrivateKey, PublicKey | undefined][] = [
    [p.ourSignedPreKey, p.theirIdentity],
    [p.ourIdentity, p.theirBase],
    [p.ourSignedPreKey, p.theirBase],
  ];
  if (p.ourOneTimePreKey) agreements.push([p.ourOneTimePreKey, p.theirBase]);
  return handshakeSecret(agreements, p.kyberSharedSecret, provider);
}
