// Test-only: a sender-key message body that decrypts, under the message key of a chain at a given
// iteration, to a block ending in 0x00 — bad PKCS#7 padding for certain. A fixed body (16 zero bytes)
// under a random key is "bad padding" only with probability ≈ 255/256: the rest of the time it
// decrypts to garbage with valid padding, and a test expecting a refusal fails once in ~256 runs.
//
// The derivation is libsignal's (rust/protocol/src/sender_keys.rs), written out here from it rather
// than taken from the package under test: next chain key = HMAC-SHA256(ck, 0x02), message-key seed =
// HMAC-SHA256(ck, 0x01), then HKDF-SHA256(seed, no salt, "WhisperGroup", 48) = iv (16) ‖ key (32).
// `decryptsToZeros` checks it against a genuine message.
import { nobleProvider } from '@e2ee-kit/core';

const p = nobleProvider;
const hmac = (key: Uint8Array, byte: number) => p.hmacSha256(key, Uint8Array.of(byte));

/** iv and AES key of the message at `iteration`, from the chain key at `fromIteration`. */
export async function senderMessageKey(
  chainKey: Uint8Array,
  fromIteration: number,
  iteration: number,
): Promise<{ iv: Uint8Array; key: Uint8Array }> {
  let ck = chainKey;
  for (let i = fromIteration; i < iteration; i++) ck = await hmac(ck, 0x02);
  const seed = await hmac(ck, 0x01);
  const derived = await p.hkdfSha256(seed, undefined, new TextEncoder().encode('WhisperGroup'), 48);
  return { iv: derived.slice(0, 16), key: derived.slice(16, 48) };
}

/**
 * `blocks` × 16 bytes that decrypt (AES-256-CBC) under the message key of `iteration` to zeros: the
 * leading blocks of the PKCS#7 encryption of that many zero bytes, its padding block dropped.
 */
export async function badPaddingCiphertext(
  chainKey: Uint8Array,
  fromIteration: number,
  iteration: number,
  blocks = 1,
): Promise<Uint8Array> {
  const { iv, key } = await senderMessageKey(chainKey, fromIteration, iteration);
  const sealed = await p.aes256CbcEncrypt(key, iv, new Uint8Array(16 * blocks));
  return sealed.slice(0, 16 * blocks);
}

/** The plaintext of `ciphertext` under the message key of `iteration` (a self-check of the derivation). */
export async function openWithDerivedKey(
  chainKey: Uint8Array,
  fromIteration: number,
  iteration: number,
  ciphertext: Uint8Array,
): Promise<Uint8Array> {
  const { iv, key } = await senderMessageKey(chainKey, fromIteration, iteration);
  return p.aes256CbcDecrypt(key, iv, ciphertext);
}
