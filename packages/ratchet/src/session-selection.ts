/**
 * libsignal's choice of session state ("Sesame"): the state a repeated PreKey message belongs to, and
 * for a SignalMessage the current state then each archived one.
 */
import { constantTimeEqual, DuplicateMessageError, E2eeError, MessageGapError } from '@e2ee-kit/core';
import { invalidMessage, type ProtocolContext } from './context.js';
import { findChain } from './dh-ratchet.js';
import { RatchetErrorCode } from './errors.js';
import { archive, SessionRecord } from './records/session-record.js';
import { SessionState } from './records/session-state.js';
import type { WireMessageType } from './session-cipher.js';
import { decryptWithState } from './state-decrypt.js';
import type { SignalMessage } from './wire.js';
import { DECRYPT_WORK_BUDGET, WorkBudget } from './work-budget.js';

/**
 * libsignal's `promote_matching_session`: a state with this version and Alice base key, made current;
 * `archivedIndex` says where it was among `old`'s archived states (undefined: it was current).
 */
export function matchBaseKey(
  old: SessionRecord | null,
  version: number,
  baseKey: Uint8Array,
): { record: SessionRecord; archivedIndex: number | undefined } | undefined {
  if (!old) return undefined;
  const current = old.currentState;
  if (current && current.version === version && constantTimeEqual(current.aliceBaseKey, baseKey))
    return { record: old, archivedIndex: undefined };
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
      return {
        record: SessionRecord.fromParts(s, current ? archive(rest, current) : rest),
        archivedIndex: i,
      };
    }
  }
  return undefined;
}

/**
 * libsignal's `try_decrypt_from_record`: the current state, then (whisper only) the archived states;
 * a success with an archived state promotes it. A duplicate stops the search. Returns a new record.
 *
 * Unlike libsignal, all attempts share one `WorkBudget`, and states that already know the message's
 * ratchet key (a cheap byte match, no DH step) are tried before those that would need a DH step —
 * the current state first within each group. A forged message therefore costs at most one maximal
 * walk, not one per archived state.
 */
export async function decryptFromRecord(
  ctx: ProtocolContext,
  record: SessionRecord,
  message: SignalMessage,
  type: WireMessageType,
): Promise<{
  plaintext: Uint8Array;
  record: SessionRecord;
  state: SessionState;
  archivedIndex: number | undefined;
}> {
  const budget = new WorkBudget(DECRYPT_WORK_BUDGET);
  const current = record.currentState;
  const ratchetKey = message.ratchetKey.serialize();
  let firstError: unknown;
  const attempt = async (state: SessionState): Promise<Uint8Array | undefined> => {
    try {
      return await decryptWithState(ctx, state, message, budget);
    } catch (err) {
      if (err instanceof DuplicateMessageError || !isProtocolFailure(err)) throw err;
      firstError ??= err;
      return undefined;
    }
  };
  const versionOk = current !== undefined && current.version === message.messageVersion;
  if (current && !versionOk) firstError = invalidMessage('message version does not match the session');
  const currentKnows = versionOk && findChain(current, ratchetKey) !== undefined;
  const tryCurrent = async () => {
    if (!current || !versionOk) return undefined;
    const state = current.clone();
    const plaintext = await attempt(state);
    return (
      plaintext && {
        plaintext,
        record: SessionRecord.fromParts(state, record.previousStates),
        state,
        archivedIndex: undefined,
      }
    );
  };
  if (type === 'prekey') {
    // A PreKey message is only ever for the state it built or matched (the current one).
    const done = await tryCurrent();
    if (done) return done;
    throw current ? finalError(firstError) : invalidMessage('decryption failed');
  }
  if (currentKnows) {
    const done = await tryCurrent();
    if (done) return done;
  }

  // Archived states of this version, decoded once; those knowing the ratchet key come first.
  const previous = record.previousStates;
  const archived: { index: number; state: SessionState; knows: boolean }[] = [];
  for (let i = 0; i < previous.length; i++) {
    let state: SessionState;
    try {
      state = SessionState.decode(previous[i] as Uint8Array);
    } catch {
      continue;
    }
    if (state.version !== message.messageVersion) continue;
    archived.push({ index: i, state, knows: findChain(state, ratchetKey) !== undefined });
  }
  const tryArchived = async (knows: boolean) => {
    for (const a of archived) {
      if (a.knows !== knows) continue;
      const plaintext = await attempt(a.state);
      if (!plaintext) continue;
      const rest = previous.filter((_, j) => j !== a.index);
      const promoted = SessionRecord.fromParts(a.state, current ? archive(rest, current) : rest);
      return { plaintext, record: promoted, state: a.state, archivedIndex: a.index };
    }
    return undefined;
  };
  const done =
    (await tryArchived(true)) ??
    (currentKnows ? undefined : await tryCurrent()) ??
    (await tryArchived(false));
  if (done) return done;
  throw finalError(firstError);
}

/** Errors that mean "this state cannot decrypt this message" (the search goes on). */
function isProtocolFailure(err: unknown): boolean {
  return E2eeError.is(err);
}

/**
 * What the caller sees when no state decrypts: the first attempt's forward-jump or work-budget refusal as
 * such, else INVALID_MESSAGE.
 */
function finalError(first: unknown): E2eeError {
  if (first instanceof MessageGapError) return first;
  if (E2eeError.is(first, RatchetErrorCode.WorkBudgetExceeded)) return first;
  return invalidMessage('decryption failed', first);
}
