/** Wire constants of sealed sender, as libsignal 0.103.0 uses them (spec: sealed-sender.md §3, §4). */

/** Version byte written for sealed sender v1 (`0x11`); receivers accept a high nibble of 0 or 1. */
export const SEALED_SENDER_V1_VERSION = 0x11;
/** ReceivedMessage version (`0x22`); receivers accept any byte with high nibble 2. */
export const SEALED_SENDER_V2_VERSION = 0x22;
/** SentMessage version with 17-byte ServiceIds (`0x23`, what libsignal writes). */
export const SEALED_SENDER_V2_SERVICE_ID_VERSION = 0x23;
/** Legacy SentMessage version with raw 16-byte ACI UUIDs (`0x22`, still parsed). */
export const SEALED_SENDER_V2_UUID_VERSION = 0x22;

/** MAC length of v1 (HMAC-SHA256 truncated). */
export const V1_MAC_LENGTH = 10;
/** v2: message key M, C, r, K. */
export const V2_MESSAGE_KEY_LENGTH = 32;
/** v2: per-recipient authentication tag AT. */
export const V2_AUTH_TAG_LENGTH = 16;
/** v2: ephemeral public key on the wire (bare u-coordinate). */
export const V2_PUBLIC_KEY_LENGTH = 32;
/** GCM-SIV tag. */
export const V2_AEAD_TAG_LENGTH = 16;

/**
 * Upper bound on any sealed message, SentMessage or USMC we accept or produce (4 MiB): every decoder
 * costs at most linear work in its input, so this caps the work an input can cost. Signal's own
 * messages are far smaller (content is padded text; attachments travel as pointers).
 */
export const MAX_SEALED_MESSAGE_LENGTH = 4 * 1024 * 1024;

/** Registration ids fit in 14 bits. */
export const MAX_REGISTRATION_ID = 0x3fff;

// Built without TextEncoder (Hermes has none, and nothing global is read at load).
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

export const V1_SALT_PREFIX = ascii('UnidentifiedDelivery');
export const V2_LABEL_R = ascii('Sealed Sender v2: r (2023-08)');
export const V2_LABEL_K = ascii('Sealed Sender v2: K');
export const V2_LABEL_DH = ascii('Sealed Sender v2: DH');
export const V2_LABEL_DH_SENDER = ascii('Sealed Sender v2: DH-sender');

/**
 * Server key ids libsignal refuses whatever their signature (its built-in revoked list: one test id;
 * no production id has been revoked). Apps add their own with the `revokedKeyIds` option.
 */
export const REVOKED_SERVER_KEY_IDS: readonly number[] = Object.freeze([0xdeadc357]);
