/** One session state's attempt at a SignalMessage: chain, message key, MAC, addresses, plaintext. */
import { constantTimeEqual, ErrorCode, VerificationError } from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS } from './constants.js';
import { invalidMessage, isSelfSession, type ProtocolContext } from './context.js';
import { dhRatchetStep, findChain } from './dh-ratchet.js';
import { deriveMessageKeys } from './kdf.js';
import { consumeMessageKey, hmac8 } from './message-keys.js';
import type { SessionState } from './records/session-state.js';
import { encodeAddresses } from './service-id.js';
import { spqrRecv } from './spqr-lite.js';
import type { SignalMessage } from './wire.js';

/** One state's attempt (libsignal's `TripleRatchet::decrypt`); mutates `state` (a clone). */
export async function decryptWithState(
  ctx: ProtocolContext,
  state: SessionState,
  message: SignalMessage,
): Promise<Uint8Array> {
  const { provider } = ctx;
  const remoteIdentity = state.remoteIdentity;
  if (!remoteIdentity) throw invalidMessage('session has no remote identity');
  const self = isSelfSession(ctx, state.localIdentity, remoteIdentity);
  const maxJump = self ? 0xffff_ffff : MAX_FORWARD_JUMPS;
  const theirRatchet = message.ratchetKey.serialize();

  let chain = findChain(state, theirRatchet);
  if (!chain) chain = await dhRatchetStep(ctx, state, message.ratchetKey, theirRatchet);

  const seed = await consumeMessageKey(chain, message.counter, maxJump, provider);
  let spqrKey: Uint8Array | undefined;
  if (state.spqr) spqrKey = await spqrRecv(state.spqr, message.pqRatchet, maxJump, provider);
  const keys = await deriveMessageKeys(seed, spqrKey, provider);

  const expected = await hmac8(provider, keys.macKey, remoteIdentity, state.localIdentity, message.macInput);
  if (!constantTimeEqual(expected, message.mac)) {
    throw new VerificationError('MAC verification failed', { code: ErrorCode.InvalidMac });
  }
  if (message.addresses) {
    const want = ctx.local ? encodeAddresses(ctx.remote, ctx.local) : undefined;
    if (!want || !constantTimeEqual(want, message.addresses)) throw invalidMessage('addresses do not match');
  }
  const plaintext = await provider.aes256CbcDecrypt(keys.cipherKey, keys.iv, message.ciphertext);
  state.pending = undefined;
  return plaintext;
}
