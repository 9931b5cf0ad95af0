/**
 * The decisions of Signal's retry-receipt flow (spec `devices-and-healing.md` §4.2–4.3) as pure
 * functions, for the app to act on (`HealingCipher` in `healing-cipher.ts` runs them for it):
 *
 * - receiver: `isRetryableDecryptError(err)` → `createRetryRequest(...)` → send the `PlaintextContent`
 *   (ciphertext type 8) to the message's sender device;
 * - sender: `PlaintextContent.deserialize(...).decryptionErrorMessage()` → `planRetryResponse(...)`,
 *   which archives only if the receipt names the current sender ratchet key of the session with the
 *   requester (so an old or replayed receipt cannot break a newer session) and says whether to resend
 *   the cached plaintext, send a null message, or re-share the sender key.
 */
import { constantTimeEqual, E2eeError, ErrorCode, PublicKey } from '@e2ee-kit/core';
import { RatchetErrorCode } from '../errors.js';
import type { SessionRecord } from '../records/session-record.js';
import {
  DecryptionErrorMessage,
  FailedMessageType,
  ownDecryptionErrorMessage,
} from './decryption-error-message.js';
import { PlaintextContent } from './plaintext-content.js';
import type { RetryDecision, RetryDenial } from './retry-policy.js';

/**
 * Error codes after which a retry receipt can help: the session is missing, stale or out of step, or
 * a pre-key it names is gone (Signal-Android's triggers: InvalidKeyId, InvalidKey, UntrustedIdentity,
 * NoSession, InvalidMessage). Not: duplicates, malformed bytes, legacy or unknown versions, refused
 * X3DH, store failures — a receipt cannot fix those, and a receipt for a duplicate would be a loop.
 */
const RETRYABLE: ReadonlySet<string> = new Set([
  RatchetErrorCode.InvalidMessage,
  RatchetErrorCode.InvalidPreKeyId,
  RatchetErrorCode.InvalidSignedPreKeyId,
  RatchetErrorCode.InvalidKyberPreKeyId,
  RatchetErrorCode.InvalidBaseKey,
  ErrorCode.SessionNotFound,
  ErrorCode.UntrustedIdentity,
  ErrorCode.InvalidMac,
  ErrorCode.InvalidKey,
  ErrorCode.MessageGap,
]);

/** True if a decrypt that failed with `err` deserves a retry receipt (see `RETRYABLE` above). */
export function isRetryableDecryptError(err: unknown): boolean {
  return E2eeError.is(err) && RETRYABLE.has(err.code);
}

/** A message that could not be decrypted, as its envelope delivered it. */
export interface FailedMessage {
  /** `'prekey'` / `'whisper'` as `SessionCipher` names them, or libsignal's number (2, 3, 7). */
  readonly type: 'prekey' | 'whisper' | FailedMessageType;
  readonly body: Uint8Array;
  /** The envelope's timestamp of the message (ms). */
  readonly timestamp: number;
  /** The device id of its sender. */
  readonly senderDeviceId: number;
}

/**
 * Receiver: the retry receipt for `failed`, framed as libsignal's `PlaintextContent` (send it
 * unencrypted, ciphertext / envelope type 8, to the failed message's sender device).
 */
export function createRetryRequest(failed: FailedMessage): PlaintextContent {
  if (failed === null || typeof failed !== 'object') throw new TypeError('failed must be an object');
  const type =
    failed.type === 'prekey'
      ? FailedMessageType.PreKey
      : failed.type === 'whisper'
        ? FailedMessageType.Whisper
        : failed.type;
  const dem = DecryptionErrorMessage.forOriginal(failed.body, type, failed.timestamp, failed.senderDeviceId);
  return PlaintextContent.from(dem);
}

/**
 * The current sender ratchet key of a session record (what a retry receipt for one of our messages
 * sent in this session names), or `undefined` when there is no current session.
 */
export function currentRatchetKey(record: SessionRecord | null | undefined): PublicKey | undefined {
  const key = record?.currentState?.senderChain?.ratchetKey;
  return key === undefined ? undefined : PublicKey.deserialize(key);
}

export interface RetryResponseInput {
  /** The receipt, as taken out of the requester's `PlaintextContent`. */
  readonly request: DecryptionErrorMessage;
  /** Our own device id: a receipt for a message another of our devices sent is not ours to answer. */
  readonly localDeviceId: number;
  /** `currentRatchetKey(record)` of our session with the requester device (undefined if none). */
  readonly currentRatchetKey: PublicKey | undefined;
  /** Whether the resend cache holds the original message for (requester, request.timestamp). */
  readonly hasCachedMessage: boolean;
  /** `RetryPolicy.allowResponse(requester, request.timestamp)`. */
  readonly decision: RetryDecision;
}

export interface RetryResponsePlan {
  /** Archive the current session with the requester device (the next send starts from a fresh bundle). */
  readonly archiveSession: boolean;
  /**
   * `'resend'`: re-encrypt the cached plaintext to the requester device with its original timestamp;
   * `'null-message'`: nothing cached but the session was archived, so send an (encrypted) null message
   * to establish the new session; `'none'`: do nothing more.
   */
  readonly action: 'resend' | 'null-message' | 'none';
  /** A sender-key message failed: forget that the requester has our sender key and send a new SKDM. */
  readonly reshareSenderKey: boolean;
  /** Why: `'answered'`, `'other-device'`, or the policy's refusal. */
  readonly reason: 'answered' | 'other-device' | RetryDenial;
}

const NOTHING = { archiveSession: false, action: 'none', reshareSenderKey: false } as const;

/** Sender: what to do about a retry receipt (Signal-Desktop's `onRetryRequest`, Android's `handleRetryReceipt`). */
export function planRetryResponse(input: RetryResponseInput): RetryResponsePlan {
  if (input === null || typeof input !== 'object') throw new TypeError('input must be an object');
  const { decision } = input;
  // Another copy's (an app that loads two copies of this package) is read as this copy's.
  const request = ownDecryptionErrorMessage(input.request, 'request must be a DecryptionErrorMessage');
  if (request.deviceId !== input.localDeviceId) return { ...NOTHING, reason: 'other-device' };
  if (!decision.allowed) return { ...NOTHING, reason: decision.reason };
  const action = (archived: boolean) =>
    input.hasCachedMessage ? ('resend' as const) : archived ? ('null-message' as const) : ('none' as const);
  if (request.ratchetKey === undefined) {
    return { archiveSession: false, action: action(false), reshareSenderKey: true, reason: 'answered' };
  }
  const current = input.currentRatchetKey;
  const archiveSession =
    current !== undefined && constantTimeEqual(current.serialize(), request.ratchetKey.serialize());
  return { archiveSession, action: action(archiveSession), reshareSenderKey: false, reason: 'answered' };
}
