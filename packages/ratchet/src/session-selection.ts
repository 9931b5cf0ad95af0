/**
 * libsignal's choice of session state ("Sesame"): the state a repeated PreKey message belongs to, and
 * for a SignalMessage the current state then each archived one.
 */
import { constantTimeEqual, DuplicateMessageError, E2eeError, MessageGapError } from '@e2ee-kit/core';
import { invalidMessage, type ProtocolContext } from './context.js';
import { archive, SessionRecord } from './records/session-record.js';
import { SessionState } from './records/session-state.js';
import type { WireMessageType } from './session-cipher.js';
import { decryptWithState } from './state-decrypt.js';
import type { SignalMessage } from './wire.js';

/** libsignal's `promote_matching_session`: a state with this version and Alice base key, made current. */
export function matchBaseKey(
  old: SessionRecord | null,
  version: number,
  baseKey: Uint8Array,
): SessionRecord | undefined {
  if (!old) return undefined;
  const current = old.currentState;
  if (current && current.version === version && constantTimeEqual(current.aliceBaseKey, baseKey)) return old;
  const previous = old.previousStates;
  for (let i = 0; i < previous.length; i++) {
    let s: SessionState;
    try {
      s = SessionState.decode(previous[i] as Uint8Array);
    } catch {
      continue;
    }
    if (
      s.version === version &&
      s.aliceBaseKey.length === baseKey.length &&
      constantTimeEqual(s.aliceBaseKey, baseKey)
    ) {
      const rest = previous.filter((_, j) => j !== i);
      return SessionRecord.fromParts(s, current ? archive(rest, current) : rest);
    }
  }
  return undefined;
}

/**
 * libsignal's `try_decrypt_from_record`: the current state, then (whisper only) each archived state;
 * a success with an archived state promotes it. A duplicate stops the search. Returns a new record.
 */
export async function decryptFromRecord(
  ctx: ProtocolContext,
  record: SessionRecord,
  message: SignalMessage,
  type: WireMessageType,
): Promise<{ plaintext: Uint8Array; record: SessionRecord }> {
  const current = record.currentState;
  let firstError: unknown;
  if (current) {
    if (current.version !== message.messageVersion) {
      firstError = invalidMessage('message version does not match the session');
    } else {
      const state = current.clone();
      try {
        const plaintext = await decryptWithState(ctx, state, message);
        return { plaintext, record: SessionRecord.fromParts(state, record.previousStates) };
      } catch (err) {
        if (err instanceof DuplicateMessageError || !isProtocolFailure(err)) throw err;
        firstError = err;
      }
    }
    if (type === 'prekey') throw finalError(firstError);
  } else if (type === 'prekey') {
    throw invalidMessage('decryption failed');
  }
  const previous = record.previousStates;
  for (let i = 0; i < previous.length; i++) {
    let state: SessionState;
    try {
      state = SessionState.decode(previous[i] as Uint8Array);
    } catch {
      continue;
    }
    if (state.version !== message.messageVersion) continue;
    try {
      const plaintext = await decryptWithState(ctx, state, message);
      const rest = previous.filter((_, j) => j !== i);
      return { plaintext, record: SessionRecord.fromParts(state, current ? archive(rest, current) : rest) };
    } catch (err) {
      if (err instanceof DuplicateMessageError || !isProtocolFailure(err)) throw err;
      firstError ??= err;
    }
  }
  throw finalError(firstError);
}

/** Errors that mean "this state cannot decrypt this message" (the search goes on). */
function isProtocolFailure(err: unknown): boolean {
  return E2eeError.is(err);
}

/** What the caller sees when no state decrypts: a forward-jump refusal as such, else INVALID_MESSAGE. */
function finalError(first: unknown): E2eeError {
  if (first instanceof MessageGapError) return first;
  return invalidMessage('decryption failed', first);
}
