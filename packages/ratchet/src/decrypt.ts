/**
 * Decrypt, top-down: parse, load the record, (PreKey) find or build the session state, let
 * `decryptFromRecord` pick the state that decrypts, then write the new records.
 */
import { E2eeError, PublicKey, SessionNotFoundError } from '@e2ee-kit/core';
import { bytesEqual, type ProtocolContext } from './context.js';
import { RatchetErrorCode } from './errors.js';
import { buildResponderState, promote } from './handshake.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import { type SessionRecord, withArchivedState } from './records/session-record.js';
import type { DecryptedMessage, WireMessageType } from './session-cipher.js';
import { decryptFromRecord, matchBaseKey } from './session-selection.js';
import { PreKeySignalMessage, SignalMessage } from './wire.js';
import {
  checkTrusted,
  identityChangeReport,
  saveIdentityStep,
  saveSessionStep,
  storeCall,
  writeAll,
} from './writes.js';

/** How one decrypt runs: where its writes go, which lock guards pre-keys, who gets the plaintext. */
export interface DecryptRun {
  /**
   * Runs `fn` under the store-wide pre-key lock — or just runs it, when the caller already holds that
   * lock around a whole transaction (so no other decrypt can read a pre-key before our commit).
   */
  readonly preKeyLock: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Set inside a store transaction: no undo writes; after-commit effects are queued here. */
  readonly deferred?: (() => void)[] | undefined;
  /** The app's callback, run as the last step of the writes (a throw undoes them). */
  readonly deliver?: ((message: DecryptedMessage) => Promise<void> | void) | undefined;
}

export async function decryptMessage(
  ctx: ProtocolContext,
  type: WireMessageType,
  body: Uint8Array,
  run: DecryptRun,
): Promise<DecryptedMessage> {
  return type === 'prekey' ? decryptPreKey(ctx, body, run) : decryptWhisper(ctx, body, run);
}

async function decryptWhisper(
  ctx: ProtocolContext,
  body: Uint8Array,
  run: DecryptRun,
): Promise<DecryptedMessage> {
  const message = SignalMessage.deserialize(body);
  const old = await storeCall('getSession', () => ctx.store.getSession(ctx.remote));
  if (!old) throw new SessionNotFoundError(ctx.remote);
  const found = await decryptFromRecord(ctx, old, message, 'whisper');
  const { plaintext, state } = found;
  const theirIdentity = PublicKey.deserialize(state.remoteIdentity as Uint8Array);
  await checkTrusted(ctx, theirIdentity, 'receiving');
  let record = found.record;
  let saveIdentity = true;
  if (found.archivedIndex !== undefined && (await identityReplaced(ctx, theirIdentity))) {
    record = withArchivedState(old, found.archivedIndex, state);
    saveIdentity = false;
  }
  let result: DecryptedMessage | undefined;
  await writeAll(async (w) => {
    await saveSessionStep(ctx, w, record, old);
    const change = saveIdentity ? await saveIdentityStep(ctx, w, theirIdentity) : undefined;
    result = {
      plaintext,
      sessionVersion: state.version,
      newSession: false,
      identityChange: identityChangeReport(change),
    };
    await run.deliver?.(result);
  }, run.deferred);
  return result as DecryptedMessage;
}

async function decryptPreKey(
  ctx: ProtocolContext,
  body: Uint8Array,
  run: DecryptRun,
): Promise<DecryptedMessage> {
  const { store } = ctx;
  const message = PreKeySignalMessage.deserialize(body);
  const old = await storeCall('getSession', () => store.getSession(ctx.remote));
  await checkTrusted(ctx, message.identityKey, 'receiving');

  const baseKeyBytes = message.baseKey.serialize();
  const match = matchBaseKey(old, message.messageVersion, baseKeyBytes);
  if (match) {
    // A repeated PreKey message for a session we already built: its identity must be the session's.
    const remote = match.record.currentState?.remoteIdentity;
    if (!remote || !bytesEqual(remote, message.identityKey.serialize())) {
      throw new E2eeError(
        RatchetErrorCode.IdentityMismatch,
        'identity key differs from the established session',
      );
    }
    const i = match.archivedIndex;
    const keep = i !== undefined && (await identityReplaced(ctx, message.identityKey)) ? i : undefined;
    return finishPreKey(ctx, message, old, match.record, undefined, run, keep);
  }
  // A new session consumes one-time pre-keys, which other addresses may be racing for: building the
  // state, decrypting and writing run under the store-wide pre-key lock, so the first decrypt of a
  // message wins and every later copy (from any address) finds its keys gone.
  return run.preKeyLock(async () => {
    const built = await buildResponderState(ctx, message);
    const promoted = promote(old, built.state);
    return finishPreKey(
      ctx,
      message,
      old,
      promoted,
      { preKey: built.preKey, kyberPreKeyId: built.kyberPreKeyId },
      run,
    );
  });
}

async function finishPreKey(
  ctx: ProtocolContext,
  message: PreKeySignalMessage,
  old: SessionRecord | null,
  record: SessionRecord,
  used: { preKey: PreKeyRecord | undefined; kyberPreKeyId: number | undefined } | undefined,
  run: DecryptRun,
  keepArchived?: number,
): Promise<DecryptedMessage> {
  const { store } = ctx;
  const found = await decryptFromRecord(ctx, record, message.message, 'prekey');
  const { plaintext, state } = found;
  // As for a SignalMessage: the state stays archived and the stored (newer) identity is kept.
  const updated =
    keepArchived === undefined ? found.record : withArchivedState(old as SessionRecord, keepArchived, state);
  let result: DecryptedMessage | undefined;
  // Order: undoable writes first, the identity (observable) next, the Kyber mark (irreversible) last.
  await writeAll(async (w) => {
    await saveSessionStep(ctx, w, updated, old);
    const preKey = used?.preKey;
    if (preKey) {
      await w.do(
        'removePreKey',
        () => store.removePreKey(preKey.id),
        () => () => store.savePreKey(preKey.id, preKey),
      );
    }
    const kyberId = used?.kyberPreKeyId;
    const change =
      keepArchived === undefined ? await saveIdentityStep(ctx, w, message.identityKey) : undefined;
    if (kyberId !== undefined) {
      await w.do('markKyberPreKeyUsed', () =>
        store.markKyberPreKeyUsed(kyberId, message.signedPreKeyId, message.baseKey),
      );
    }
    result = {
      plaintext,
      sessionVersion: state.version,
      newSession: used !== undefined,
      identityChange: identityChangeReport(change),
    };
    // Without a transaction the Kyber mark cannot be undone: an app callback that throws after it
    // leaves the message unreadable on retry (best effort, see SessionCipher.decrypt).
    await run.deliver?.(result);
  }, run.deferred);
  return result as DecryptedMessage;
}

/**
 * True when the stored identity is a key other than `identity`: the peer's identity was replaced
 * since the (archived) session that `identity` belongs to. A late message of that session is read,
 * but neither promotes it nor switches the stored identity back to its old key.
 */
async function identityReplaced(ctx: ProtocolContext, identity: PublicKey): Promise<boolean> {
  const stored = await storeCall('getIdentity', () => ctx.store.getIdentity(ctx.remote));
  return stored !== null && !stored.equals(identity);
}
