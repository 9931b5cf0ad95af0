/** Message keys of a receiver chain (libsignal's `consume_message_key`, skipped keys) and the 8-byte MAC. */
import { type CryptoProvider, concatBytes, DuplicateMessageError, MessageGapError } from '@e2ee-kit/core';
import { MAX_MESSAGE_KEYS } from './constants.js';
import { invalidMessage } from './context.js';
import { messageSeed, messageSeedSync, nextChainKey, nextChainKeySync, shortHmac, syncKdf } from './kdf.js';
import type { ReceiverChain, SkippedKey } from './records/session-state.js';
import { MAC_LENGTH } from './wire.js';
import { STEPS_PER_YIELD, yieldToEventLoop } from './work-budget.js';

/**
 * The 8-byte MAC `HMAC(macKey, senderIdentity ‖ receiverIdentity ‖ bytes)[0 .. 8)`, through the
 * provider's synchronous HMAC when it has one (same bytes; see `shortHmac` in kdf.ts).
 */
export function hmac8(
  provider: CryptoProvider,
  macKey: Uint8Array,
  senderIdentity: Uint8Array,
  receiverIdentity: Uint8Array,
  bytes: Uint8Array,
): Uint8Array | Promise<Uint8Array> {
  const full = shortHmac(provider, macKey, concatBytes(senderIdentity, receiverIdentity, bytes));
  return full instanceof Uint8Array
    ? full.subarray(0, MAC_LENGTH)
    : full.then((f) => f.subarray(0, MAC_LENGTH));
}

/**
 * Checks `counter` against a receiver chain now at `chainIndex` before any work is done: a counter
 * below it must have a stored skipped key (else `DuplicateMessageError`, as libsignal), one too far
 * ahead is `MessageGapError`. Returns the number of chain steps `consumeMessageKey` will take.
 */
export function messageKeyWalk(chain: ReceiverChain | undefined, counter: number, maxJump: number): number {
  const index = chain ? chain.chainKey.index : 0;
  if (chain && index > counter) {
    if (!chain.messageKeys.some((m) => m.index === counter)) throw new DuplicateMessageError();
    return 0;
  }
  if (counter - index > maxJump) throw new MessageGapError();
  if (counter >= 0xffff_ffff) throw invalidMessage('message counter out of range');
  return counter - index;
}

/**
 * libsignal's `consume_message_key`: returns the seed for `counter`, storing skipped seeds. Callers
 * check the counter with `messageKeyWalk` first.
 */
export async function consumeMessageKey(
  chain: ReceiverChain,
  counter: number,
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
  let key = ck.key;
  let index = ck.index;
  // Seeds older than the newest MAX_MESSAGE_KEYS would be dropped at once: skip deriving them.
  const keepFrom = counter - MAX_MESSAGE_KEYS;
  const fresh: SkippedKey[] = [];
  // Only a walk needs it (most messages take none): no closures made per message.
  const kdf = index < counter ? syncKdf(provider) : undefined;
  let untilYield = STEPS_PER_YIELD;
  while (index < counter) {
    if (kdf) {
      if (index >= keepFrom) fresh.push({ index, seed: messageSeedSync(key, kdf) });
      key = nextChainKeySync(key, kdf);
    } else {
      if (index >= keepFrom) fresh.push({ index, seed: await messageSeed(key, provider) });
      key = await nextChainKey(key, provider);
    }
    index++;
    if (--untilYield === 0) {
      untilYield = STEPS_PER_YIELD;
      await yieldToEventLoop();
    }
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
