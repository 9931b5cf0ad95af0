/**
 * Typed errors of the SPQR braid. Every failure is a `DecodeError` (malformed bytes) or an `E2eeError`
 * with one of these stable codes; messages are fixed strings that never carry key material.
 */
import { DecodeError, E2eeError } from '@e2ee-kit/core';

export const SpqrErrorCode = {
  /** The `pq_ratchet` bytes are malformed (spqr `MsgDecode`). */
  MessageDecode: 'SPQR_MESSAGE_DECODE',
  /** A stored SPQR state does not decode (spqr `StateDecode`). */
  StateDecode: 'SPQR_STATE_DECODE',
  /** The message's epoch (or the chain epoch it needs) is not one this state can handle. */
  EpochOutOfRange: 'SPQR_EPOCH_OUT_OF_RANGE',
  /** The header MAC or the ciphertext MAC did not verify. */
  MacVerifyFailed: 'SPQR_MAC_VERIFY_FAILED',
  /** The encapsulation key does not match its header, or fails the ML-KEM modulus check. */
  ErroneousData: 'SPQR_ERRONEOUS_DATA',
  /** The peer does not speak SPQR V1 (empty or V0 `pq_ratchet`): refused, like libsignal ≥ 0.92. */
  MinimumVersion: 'SPQR_MINIMUM_VERSION',
  /** A version byte other than 1 after the first message was received (libsignal 0.103.0). */
  VersionMismatch: 'SPQR_VERSION_MISMATCH',
  /** The message index is more than `maxJump` ahead of the chain. */
  KeyJump: 'SPQR_KEY_JUMP',
  /** The message index is older than the kept window (`maxOooKeys`). */
  KeyTrimmed: 'SPQR_KEY_TRIMMED',
  /** The key for this index was already handed out. */
  KeyAlreadyRequested: 'SPQR_KEY_ALREADY_REQUESTED',
  /** A chain counter reached 2^32 − 1. */
  CounterExhausted: 'SPQR_COUNTER_EXHAUSTED',
} as const;
export type SpqrErrorCode = (typeof SpqrErrorCode)[keyof typeof SpqrErrorCode];

export function messageDecodeError(message: string): DecodeError {
  return new DecodeError(`post-quantum ratchet: ${message}`, { code: SpqrErrorCode.MessageDecode });
}

export function stateDecodeError(message: string): DecodeError {
  return new DecodeError(`post-quantum ratchet state: ${message}`, { code: SpqrErrorCode.StateDecode });
}

export function spqrError(code: SpqrErrorCode, message: string): E2eeError {
  return new E2eeError(code, `post-quantum ratchet: ${message}`);
}
