/** Message keys of a receiver chain (libsignal's `consume_message_key`, skipped keys) and the 8-byte MAC. */
import { type CryptoProvider, concatBytes, DuplicateMessageError, MessageGapError } from '@e2ee-kit/core';
import { MAX_MESSAGE_KEYS } from './constants.js';
import { invalidMessage } from './context.js';
import { messageSeed, nextChainKey } from './kdf.js';
import type { ReceiverChain, SkippedKey } from './records/session-state.js';
import { MAC_LENGTH } from './wire.js';

export async function hmac8(
  provider: CryptoProvider,
  macKey: Uint8Array,
  senderIdentity: Uint8Array,
  receiverIdentity: Uint8Array,
  bytes: Uint8Array,
): Promise<Uint8Array> {
  const full = await provider.hmacSha256(macKey, concatBytes(senderIdentity, receiverIdentity, bytes));
  return full.subarray(0, MAC_LENGTH);
}

/** libsignal's `consume_message_key`: returns the seed for `counter`, storing skipped seeds. */
export async function consumeMessageKey(
  chain: ReceiverChain,
  counter: number,
  maxJump: number,
  provider: CryptoProvider,
): Promise<Uint8Array> {
  const ck = chain.chainKey;
  if (ck.index > counter) {
    const at = chain.messageKeys.findIndex((m) => m.index === counter);
    if (at < 0) throw new DuplicateMessageError();
    const found = chain.messageKeys[at] as SkippedKey;
    chain.messageKeys.splice(at, 1);
    return found.seed;
  }
  if (counter - ck.index > maxJump) throw new MessageGapError();
  if (counter >= 0xffff_ffff) throw invalidMessage('message counter out of range');
  let key = ck.key;
  let index = ck.index;
  // Seeds older than the newest MAX_MESSAGE_KEYS would be dropped at once: skip deriving them.
  const keepFrom = counter - MAX_MESSAGE_KEYS;
  const fresh: SkippedKey[] = [];
  while (index < counter) {
    if (index >= keepFrom) fresh.push({ index, seed: await messageSeed(key, provider) });
    key = await nextChainKey(key, provider);
    index++;
  }
  if (fresh.length > 0) {
    fresh.reverse();
    const merged = fresh.concat(chain.messageKeys);
    if (merged.length > MAX_MESSAGE_KEYS) merged.length = MAX_MESSAGE_KEYS;
    chain.messageKeys = merged;
  }
  const seed = await messageSeed(key, provider);
  chain.chainKey = { index: counter + 1, key: await nextChainKey(key, provider) };
  return seed;
}
