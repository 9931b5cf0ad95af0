/** libsignal's limits (spec `libsignal-pairwise.md` §3.1). */

/** Largest counter gap accepted in one receiving chain; a larger jump is refused with `MessageGapError`. */
export const MAX_FORWARD_JUMPS = 25_000;
/** Skipped message keys kept per receiver chain (the oldest are dropped first). */
export const MAX_MESSAGE_KEYS = 2_000;
/** Receiver chains kept per session state (the oldest are dropped first). */
export const MAX_RECEIVER_CHAINS = 5;
/** Previous session states kept per `SessionRecord` (the oldest are dropped first). */
export const ARCHIVED_STATES_MAX_LENGTH = 40;
/** An initiator session never answered stops being usable for sending after this long (30 days). */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 60 * 60 * 1000;

/**
 * Replay markers a store keeps per last-resort Kyber pre-key: distinct `(signedPreKeyId, baseKey)`
 * pairs it has accepted. Anyone holding the public bundle can add one per PreKey message, so a store
 * refuses the next one (`LAST_RESORT_KYBER_PREKEY_EXHAUSTED`) instead of growing: rotate the
 * last-resort key (`PreKeyManager.rotateLastResortKyberPreKey`) and upload it. Not a libsignal limit
 * (its stores keep every base key); honest use between two rotations stays far below it.
 */
export const MAX_LAST_RESORT_USES = 10_000;

/**
 * Replaced signed / last-resort Kyber pre-keys `PreKeyManager` keeps per kind: beyond it a rotation
 * removes the oldest before its grace period ends (rotations far more frequent than the grace period;
 * a pre-key state record with 10,000 is refused when read).
 */
export const MAX_RETIRED_PRE_KEYS = 1_000;

/** Session (and message) version of PQXDH sessions. */
export const SESSION_VERSION_PQXDH = 4;
/** Session (and message) version of legacy X3DH sessions (libsignal ≤ 0.72.1). */
export const SESSION_VERSION_X3DH = 3;
/** Low nibble of every version byte we send: libsignal's `CIPHERTEXT_MESSAGE_CURRENT_VERSION`. */
export const CURRENT_VERSION = 4;

/** libsignal's `CiphertextMessageType` numbers (they travel outside the message, e.g. in an envelope). */
export const CiphertextMessageType = { Whisper: 2, PreKey: 3 } as const;
export type CiphertextMessageType = (typeof CiphertextMessageType)[keyof typeof CiphertextMessageType];
