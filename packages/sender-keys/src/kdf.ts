/**
 * libsignal's sender chain (`sender_keys.rs`):
 *   seed[i]       = HMAC-SHA256(chainKey[i], 0x01)
 *   chainKey[i+1] = HMAC-SHA256(chainKey[i], 0x02)
 *   iv ‖ key      = HKDF-SHA256(ikm = seed[i], no salt, info = "WhisperGroup", 48)
 */
import { type CryptoProvider, utf8 } from '@e2ee-kit/core';

const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
const CHAIN_KEY_SEED = Uint8Array.of(0x02);
const WHISPER_GROUP = utf8('WhisperGroup');

export function messageKeySeed(chainKey: Uint8Array, provider: CryptoProvider): Promise<Uint8Array> {
  return provider.hmacSha256(chainKey, MESSAGE_KEY_SEED);
}

export function nextChainKey(chainKey: Uint8Array, provider: CryptoProvider): Promise<Uint8Array> {
  return provider.hmacSha256(chainKey, CHAIN_KEY_SEED);
}

export interface MessageKeys {
  readonly iv: Uint8Array;
  readonly cipherKey: Uint8Array;
}

export async function messageKeys(seed: Uint8Array, provider: CryptoProvider): Promise<MessageKeys> {
  const okm = await provider.hkdfSha256(seed, undefined, WHISPER_GROUP, 48);
  return { iv: okm.subarray(0, 16), cipherKey: okm.subarray(16, 48) };
}
