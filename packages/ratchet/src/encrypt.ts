/** Encrypt: one message on the current state's sending chain (a PreKey message until the peer answers). */
import { PublicKey, SessionNotFoundError } from '@e2ee-kit/core';
import type { ProtocolContext } from './context.js';
import { deriveMessageKeys, messageSeed, nextChainKey } from './kdf.js';
import { hmac8 } from './message-keys.js';
import { SessionRecord } from './records/session-record.js';
import type { SessionState } from './records/session-state.js';
import { encodeAddresses } from './service-id.js';
import type { EncryptedMessage } from './session-cipher.js';
import { spqrSend } from './spqr/ratchet.js';
import { spqrSend as spqrLiteSend } from './spqr-lite.js';
import { PreKeySignalMessage, SignalMessage } from './wire.js';
import { checkTrusted, saveIdentityStep, saveSessionStep, storeCall, writeAll } from './writes.js';

/** `deferred`: set inside a store transaction (no undo writes; after-commit effects are queued there). */
export async function encryptMessage(
  ctx: ProtocolContext,
  plaintext: Uint8Array,
  deferred?: (() => void)[],
): Promise<EncryptedMessage> {
  const { provider, store } = ctx;
  const old = await storeCall('getSession', () => store.getSession(ctx.remote));
  const current = old?.currentState;
  // No sender chain, a stale unanswered session or an exhausted sending chain: it cannot send.
  if (!old || !current?.remoteIdentity || !old.hasCurrentState(ctx.now()))
    throw new SessionNotFoundError(ctx.remote);
  const state = current.cloneForSending();
  const sender = state.senderChain as NonNullable<SessionState['senderChain']>;
  const remoteIdentity = state.remoteIdentity as Uint8Array;

  let spqrKey: Uint8Array | undefined;
  let pqRatchet: Uint8Array = new Uint8Array(0);
  if (state.braid) {
    const sent = await spqrSend(state.braid, provider);
    state.braid = sent.state;
    spqrKey = sent.messageKey;
    pqRatchet = sent.pqRatchet;
  } else if (state.spqr) {
    // Legacy session (record format 1): SPQR-lite until the next new session.
    const sent = await spqrLiteSend(state.spqr, provider);
    spqrKey = sent.key;
    pqRatchet = sent.message;
  }
  const ck = sender.chainKey;
  const keys = await deriveMessageKeys(await messageSeed(ck.key, provider), spqrKey, provider);
  const ciphertext = await provider.aes256CbcEncrypt(keys.cipherKey, keys.iv, plaintext);
  const pending = state.pending;
  const addresses = pending && ctx.local ? encodeAddresses(ctx.local, ctx.remote) : undefined;
  const message = await SignalMessage.create(
    {
      messageVersion: state.version,
      ratchetKey: PublicKey.deserialize(sender.ratchetKey),
      counter: ck.index,
      previousCounter: state.previousCounter,
      ciphertext,
      pqRatchet,
      addresses,
    },
    (bytes) => hmac8(provider, keys.macKey, state.localIdentity, remoteIdentity, bytes),
  );
  let out: EncryptedMessage;
  if (pending) {
    const prekeyMessage = PreKeySignalMessage.create({
      messageVersion: state.version,
      registrationId: state.localRegistrationId,
      preKeyId: pending.preKeyId,
      signedPreKeyId: pending.signedPreKeyId,
      kyberPreKeyId: pending.kyberPreKeyId,
      kyberCiphertext: pending.kyberCiphertext,
      baseKey: PublicKey.deserialize(pending.baseKey),
      identityKey: PublicKey.deserialize(state.localIdentity),
      message,
    });
    out = { type: 'prekey', body: prekeyMessage.serializedView };
  } else {
    out = { type: 'whisper', body: message.serializedView };
  }
  sender.chainKey = { index: ck.index + 1, key: await nextChainKey(ck.key, provider) };

  const theirIdentity = PublicKey.deserialize(remoteIdentity);
  await checkTrusted(ctx, theirIdentity, 'sending');
  const record = SessionRecord.fromParts(state, old.previousStates);
  await writeAll(async (w) => {
    // The identity last: its replacement is observable (approvals, the change callback).
    await saveSessionStep(ctx, w, record, old);
    await saveIdentityStep(ctx, w, theirIdentity);
  }, deferred);
  return out;
}

/** `SessionCipher.hasSession`: a current state that can send, not stale. */
export async function hasUsableSession(ctx: ProtocolContext): Promise<boolean> {
  const record = await storeCall('getSession', () => ctx.store.getSession(ctx.remote));
  return record !== null && record.hasCurrentState(ctx.now());
}
