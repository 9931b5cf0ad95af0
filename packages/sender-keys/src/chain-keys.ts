/**
 * Message keys along one sender chain (libsignal's `sender_keys.rs` chain walk): which key a message
 * needs, deriving it, and opening the message with it.
 */
import {
  ChainWalkYielder,
  type CryptoProvider,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  MessageGapError,
  VerificationError,
} from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS } from './constants.js';
import { InvalidSenderKeySessionError } from './errors.js';
import { type ChainStep, chainStep, messageKeys, nextChainKey } from './kdf.js';
import type { SenderKeyStateData, SkippedKey } from './record.js';

/** The last iteration a chain can have (libsignal refuses to go past it). */
export const MAX_ITERATION = 0xffff_ffff;

/** A message key and the state after using it. */
export interface MessageKeyFor {
  readonly seed: Uint8Array;
  readonly next: SenderKeyStateData;
}

export type Opened =
  | { readonly ok: true; readonly plaintext: Uint8Array; readonly next: SenderKeyStateData }
  | { readonly ok: false; readonly error: unknown };

/**
 * The key of message `iteration` when no chain walk is needed: a kept skipped key (removed from the
 * state), or the chain's next key (the chain advances by one). Otherwise undefined (a duplicate, a
 * jump ahead, or the last iteration: `messageKeyFor` decides those).
 */
export function directKey(
  state: SenderKeyStateData,
  iteration: number,
  provider: CryptoProvider,
): MessageKeyFor | Promise<MessageKeyFor> | undefined {
  if (iteration < state.iteration) {
    const at = state.skipped.findIndex((k) => k.iteration === iteration);
    if (at < 0) return undefined;
    const skipped = state.skipped.slice();
    const [key] = skipped.splice(at, 1);
    return { seed: (key as SkippedKey).seed, next: { ...state, skipped } };
  }
  if (iteration !== state.iteration || iteration === MAX_ITERATION) return undefined;
  const advance = (step: ChainStep): MessageKeyFor => ({
    seed: step.seed,
    next: { ...state, iteration: iteration + 1, chainKey: step.next },
  });
  const step = chainStep(state.chainKey, provider);
  return step instanceof Promise ? step.then(advance) : advance(step);
}

/**
 * The key of message `iteration` on chain `state`: a kept skipped key, the next key, or a walk forward
 * (at most MAX_FORWARD_JUMPS steps, keeping the newest MAX_MESSAGE_KEYS skipped seeds). Refuses a
 * duplicate, a jump too far and the chain's last iteration.
 */
export async function messageKeyFor(
  state: SenderKeyStateData,
  iteration: number,
  id: string,
  p: CryptoProvider,
): Promise<MessageKeyFor> {
  const current = state.iteration;
  if (iteration < current) {
    const kept = directKey(state, iteration, p);
    if (kept === undefined)
      throw new DuplicateMessageError(`message with old counter ${current} / ${iteration}`);
    return kept;
  }
  if (iteration - current > MAX_FORWARD_JUMPS) {
    throw new MessageGapError('message from too far into the future');
  }
  if (iteration === MAX_ITERATION) throw new InvalidSenderKeySessionError(id, 'sender chain is too long');
  // Keys for iterations current..iteration-1 are kept for late messages; only the newest
  // MAX_MESSAGE_KEYS of them can survive eviction, so only those seeds are derived.
  const keepFrom = iteration - Math.min(iteration - current, MAX_MESSAGE_KEYS);
  const fresh: SkippedKey[] = [];
  let chainKey = state.chainKey;
  const yielder = new ChainWalkYielder();
  for (let j = current; j < iteration; j++) {
    if (j >= keepFrom) {
      const step = await chainStep(chainKey, p);
      fresh.push({ iteration: j, seed: step.seed });
      chainKey = step.next;
    } else chainKey = await nextChainKey(chainKey, p);
    // A valid jump of up to 25,000 steps must not hold the event loop: see core's ChainWalkYielder.
    const pause = yielder.maybeYield();
    if (pause !== undefined) await pause;
  }
  const { seed, next } = await chainStep(chainKey, p);
  let skipped = state.skipped;
  if (fresh.length > 0) {
    const keepOld = MAX_MESSAGE_KEYS - fresh.length;
    skipped = [...(keepOld > 0 ? state.skipped.slice(-keepOld) : []), ...fresh];
  }
  return { seed, next: { ...state, iteration: iteration + 1, chainKey: next, skipped } };
}

/**
 * Decrypts `ciphertext` with the message key `key` gives, as a settled answer: the plaintext and the
 * updated state, or the error (a bad length or padding is `BAD_PADDING`; a key failure is kept).
 */
export async function openMessage(
  key: MessageKeyFor | Promise<MessageKeyFor>,
  ciphertext: Uint8Array,
  p: CryptoProvider,
): Promise<Opened> {
  try {
    const { seed, next } = await key;
    const keys = await messageKeys(seed, p);
    try {
      return { ok: true, plaintext: await p.aes256CbcDecrypt(keys.cipherKey, keys.iv, ciphertext), next };
    } catch (err) {
      if (!E2eeError.is(err)) throw err;
      throw new VerificationError('sender key decryption failed', { code: ErrorCode.BadPadding });
    }
  } catch (error) {
    return { ok: false, error };
  }
}
