/** Constants of libsignal's sender-key protocol (`rust/protocol/src/consts.rs`, `protocol.rs`). */

/** `SENDERKEY_MESSAGE_CURRENT_VERSION`: the high nibble of the first byte of every SKDM / SKM. */
export const SENDER_KEY_MESSAGE_VERSION = 3;
/** The version byte written on the wire: `(3 << 4) | 3`. */
export const SENDER_KEY_VERSION_BYTE = 0x33;
/** `CiphertextMessageType.SenderKey`, for apps that frame ciphertexts by type (sealed sender). */
export const SENDER_KEY_CIPHERTEXT_TYPE = 7;
/** Sender-key states kept per (sender, distribution id); the oldest is dropped beyond this. */
export const MAX_SENDER_KEY_STATES = 5;
/**
 * Retired chains a record remembers per (sender, distribution id), oldest dropped first: a
 * distribution message of one of them is ignored (see `retired-chains.ts`). Chain ids carry no order,
 * so a chain whose marker was dropped cannot be told from a new one: its replayed SKDM is stored
 * again. The cap is that horizon: 512 rotations of one sender (every member rotates at each member
 * removal: 512 removals in one group), at ≤ 32 bytes a marker, ≤ 16 KiB per record. (32 until
 * 2026-12-07: a busy group's relay could replay an SKDM 33 rotations old.)
 */
export const MAX_RETIRED_CHAINS = 512;
/** Skipped message keys kept per state; the oldest is evicted beyond this. */
export const MAX_MESSAGE_KEYS = 2000;
/**
 * Skipped message keys one `SenderKeyRecord` holds across all its states (5 × 2,000): libsignal's
 * two limits together, so every message libsignal would still decrypt, we still decrypt.
 */
export const MAX_RECORD_MESSAGE_KEYS = MAX_SENDER_KEY_STATES * MAX_MESSAGE_KEYS;
/**
 * Bytes of an own state's key-holder list kept inside the record (stores without key-holder
 * methods; ≈ 12,000 devices with UUID names). Larger groups need a store with key-holder methods.
 */
export const MAX_RECORD_HOLDERS_BYTES = 512 * 1024;
/**
 * Largest serialized `SenderKeyRecord` written or read. What peers can make a receiver store is at
 * most 5 states × (2,000 skipped keys × ≤ 42 bytes + ≤ 260 bytes) ≈ 421 KB plus 512 retired-chain
 * markers × ≤ 32 bytes (16 KiB); the rest is room for an own state's key-holder list (≤ `MAX_RECORD_HOLDERS_BYTES`). Longer input is refused unparsed.
 */
export const MAX_SENDER_KEY_RECORD_BYTES = 1_000_000;
/** A message more than this many iterations ahead of the chain is refused (exactly this many is accepted). */
export const MAX_FORWARD_JUMPS = 25_000;
/** Length of the chain key, the HMAC-SHA256 chain seed. */
export const CHAIN_KEY_LENGTH = 32;
/** Length of the XEdDSA signature that ends every SenderKeyMessage. */
export const SENDER_KEY_SIGNATURE_LENGTH = 64;
/** Default time a replaced chain keeps decrypting messages that were already in flight. */
export const DEFAULT_ROTATION_GRACE_MS = 60 * 60 * 1000;
