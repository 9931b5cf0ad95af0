/** The DH ratchet step: a new receiver chain for their new ratchet key, and our new sending chain. */
import { KeyPair, type PublicKey } from '@e2ee-kit/core';
import { MAX_RECEIVER_CHAINS } from './constants.js';
import { bytesEqual, cachedPrivateKey, invalidMessage, type ProtocolContext } from './context.js';
import { kdfRootKey } from './kdf.js';
import type { ReceiverChain, SessionState } from './records/session-state.js';

export function findChain(state: SessionState, ratchetKey: Uint8Array): ReceiverChain | undefined {
  for (const c of state.receiverChains) if (bytesEqual(c.ratchetKey, ratchetKey)) return c;
  return undefined;
}

/**
 * First half of the DH ratchet step: the receiver chain for their new ratchet key (one agreement).
 * Our next sending key is made by `completeRatchetStep` only once the message authenticated, so a
 * forged message costs one agreement, not a key generation and two.
 */
export async function receiveRatchetStep(
  ctx: ProtocolContext,
  state: SessionState,
  their: PublicKey,
  theirBytes: Uint8Array,
): Promise<ReceiverChain> {
  const { provider } = ctx;
  const sender = state.senderChain;
  if (!sender) throw invalidMessage('session has no sender chain');
  const ourPrivate = cachedPrivateKey(ctx, sender.ratchetKey, sender.ratchetPrivate);
  const receiving = await kdfRootKey(state.rootKey, await ourPrivate.agree(their, provider), provider);
  state.rootKey = receiving.rootKey.slice();
  const chain: ReceiverChain = {
    ratchetKey: theirBytes,
    chainKey: { index: 0, key: receiving.chainKey.slice() },
    messageKeys: [],
  };
  state.receiverChains.push(chain);
  while (state.receiverChains.length > MAX_RECEIVER_CHAINS) state.receiverChains.shift();
  return chain;
}

/** Second half: our new sending chain from a fresh ratchet key pair (after `receiveRatchetStep`). */
export async function completeRatchetStep(
  ctx: ProtocolContext,
  state: SessionState,
  their: PublicKey,
): Promise<void> {
  const { provider } = ctx;
  const sender = state.senderChain;
  if (!sender) throw invalidMessage('session has no sender chain');
  const next = await KeyPair.generate(provider);
  const sending = await kdfRootKey(state.rootKey, await next.privateKey.agree(their, provider), provider);
  ctx.ratchetKeyCache = { publicKey: next.publicKey.serialize(), privateKey: next.privateKey };
  state.previousCounter = Math.max(0, sender.chainKey.index - 1);
  state.rootKey = sending.rootKey.slice();
  state.senderChain = {
    ratchetKey: next.publicKey.serialize(),
    ratchetPrivate: next.privateKey.serialize(),
    chainKey: { index: 0, key: sending.chainKey.slice() },
  };
}
