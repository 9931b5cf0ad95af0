/** One session state's attempt at a SignalMessage: chain, message key, MAC, addresses, plaintext. */
import { constantTimeEqual, ErrorCode, VerificationError } from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS } from './constants.js';
import { invalidMessage, isSelfSession, type ProtocolContext } from './context.js';
import { completeRatchetStep, findChain, receiveRatchetStep } from './dh-ratchet.js';
import { deriveMessageKeys } from './kdf.js';
import { consumeMessageKey, hmac8, messageKeyWalk } from './message-keys.js';
import type { SessionState } from './records/session-state.js';
import { encodeAddresses } from './service-id.js';
import { spqrRecv, spqrRecvCost } from './spqr/ratchet.js';
import { spqrIndex, spqrRecv as spqrLiteRecv, spqrWalk } from './spqr-lite.js';
import type { SignalMessage } from './wire.js';
import { DH_STEP_COST, SELF_SESSION_MAX_FORWARD_JUMPS, type WorkBudget } from './work-budget.js';

/** One state's attempt (libsignal's `TripleRatchet::decrypt`); mutates `state` (a clone). */
export async function decryptWithState(
  ctx: ProtocolContext,
  state: SessionState,
  message: SignalMessage,
  budget: WorkBudget,
): Promise<Uint8Array> {
  const { provider } = ctx;
  const remoteIdentity = state.remoteIdentity;
  if (!remoteIdentity) throw invalidMessage('session has no remote identity');
  const self = isSelfSession(ctx, state.localIdentity, remoteIdentity);
  const maxJump = self ? SELF_SESSION_MAX_FORWARD_JUMPS : MAX_FORWARD_JUMPS;
  const theirRatchet = message.ratchetKey.serialize();

  // Everything is checked and priced before any key is derived.
  const known = findChain(state, theirRatchet);
  const walk = messageKeyWalk(known, message.counter, maxJump);
  const braid = state.braid;
  const lite = braid ? undefined : state.spqr;
  const pqIndex = lite ? spqrIndex(message.pqRatchet) : undefined;
  const pqWalk = braid
    ? spqrRecvCost(braid, message.pqRatchet)
    : lite && pqIndex !== undefined
      ? spqrWalk(lite, pqIndex, maxJump)
      : 0;
  budget.take(walk + pqWalk + (known ? 0 : DH_STEP_COST));

  const chain = known ?? (await receiveRatchetStep(ctx, state, message.ratchetKey, theirRatchet));
  const seed = await consumeMessageKey(chain, message.counter, provider);
  let spqrKey: Uint8Array | undefined;
  if (braid) {
    // The new SPQR state is kept (below) only once the MAC verified; `state` itself is a clone.
    const got = await spqrRecv(braid, message.pqRatchet, provider);
    state.braid = got.state;
    spqrKey = got.messageKey;
  } else if (lite && pqIndex !== undefined) {
    spqrKey = await spqrLiteRecv(lite, pqIndex, provider);
  }
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
  if (!known) await completeRatchetStep(ctx, state, message.ratchetKey);
  state.pending = undefined;
  return plaintext;
}
