// libsignal's limits: forward jump (25,000), skipped keys kept (2,000). Uses internal accessors of
// SessionRecord to move a sender chain far ahead without sending 25,000 messages.
import {
  type CryptoProvider,
  DuplicateMessageError,
  E2eeError,
  ErrorCode,
  MessageGapError,
  platformProvider,
} from '@e2ee-kit/core';
import {
  DECRYPT_WORK_BUDGET,
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  RatchetErrorCode,
  SELF_SESSION_MAX_FORWARD_JUMPS,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { nextChainKey } from '../src/kdf.js';
import type { SessionState } from '../src/records/session-state.js';
import { fromUtf8, rejectsWithoutChange, roundTrip, utf8 } from './helpers.js';

function countingProvider(base: CryptoProvider): CryptoProvider & { hmacCalls: number } {
  const p = Object.create(base) as CryptoProvider & { hmacCalls: number };
  p.hmacCalls = 0;
  Object.defineProperty(p, 'hmacSha256', {
    value: (k: Uint8Array, d: Uint8Array) => {
      p.hmacCalls++;
      return base.hmacSha256(k, d);
    },
  });
  return p;
}

async function setup(options: { selfSession?: boolean } = {}) {
  const counting = countingProvider(platformProvider);
  // A self-session: two devices of one account (same identity key, same ServiceId name).
  const name = crypto.randomUUID();
  const alice = await createTestParty(options.selfSession ? name : 'alice', 1);
  const identityKeyPair = await alice.store.getIdentityKeyPair();
  const bob = await createTestParty(options.selfSession ? name : 'bob', 2, {
    provider: counting,
    ...(options.selfSession ? { store: { identityKeyPair } } : {}),
  });
  const a = alice.cipher(bob);
  const b = bob.cipher(alice);
  await a.initiate(await bob.bundle());
  await roundTrip(a, b, 'hello');
  await roundTrip(b, a, 'hi');
  await roundTrip(a, b, 'new chain');
  const base = (await alice.store.getSession(bob.address)) as SessionRecord;
  const state = base.currentState as SessionState;
  const start = state.senderChain?.chainKey as { index: number; key: Uint8Array };
  /** Encrypts as if Alice had already sent `ahead` more messages in this chain. */
  const encryptAhead = async (ahead: number, text: string, options: { derive?: boolean } = {}) => {
    let key = start.key;
    // Without `derive`: a random chain key at that index (for refusals decided before any MAC check).
    if (options.derive === false) key = crypto.getRandomValues(new Uint8Array(32));
    else for (let i = 0; i < ahead; i++) key = await nextChainKey(key, platformProvider);
    const current = ((await alice.store.getSession(bob.address)) as SessionRecord)
      .currentState as SessionState;
    const s = current.clone();
    (s.senderChain as NonNullable<SessionState['senderChain']>).chainKey = {
      index: start.index + ahead,
      key,
    };
    await alice.store.saveSession(bob.address, SessionRecord.fromParts(s, base.previousStates));
    return a.encrypt(utf8(text));
  };
  return { alice, bob, a, b, counting, encryptAhead };
}

describe('forward-jump limit and skipped keys', () => {
  it(`a jump of exactly ${MAX_FORWARD_JUMPS} decrypts; ${MAX_MESSAGE_KEYS} skipped keys are kept`, async () => {
    const { bob, b, alice, encryptAhead } = await setup();
    const old = await encryptAhead(MAX_FORWARD_JUMPS - MAX_MESSAGE_KEYS - 1, 'trimmed');
    const late = await encryptAhead(MAX_FORWARD_JUMPS - 1, 'late');
    const jump = await encryptAhead(MAX_FORWARD_JUMPS, 'far');
    expect(fromUtf8((await b.decrypt(jump)).plaintext)).toBe('far');
    const state = ((await bob.store.getSession(alice.address)) as SessionRecord).currentState as SessionState;
    const chain = state.receiverChains.at(-1);
    expect(chain?.messageKeys.length).toBe(MAX_MESSAGE_KEYS);
    expect(fromUtf8((await b.decrypt(late)).plaintext)).toBe('late');
    // Its key was dropped with the oldest: libsignal reports this as a duplicate.
    expect(await rejectsWithoutChange([bob.store], () => b.decrypt(old))).toBeInstanceOf(
      DuplicateMessageError,
    );
  });

  it(`a jump of ${MAX_FORWARD_JUMPS + 1} is refused without deriving the skipped keys`, async () => {
    const { bob, b, counting, encryptAhead } = await setup();
    const jump = await encryptAhead(MAX_FORWARD_JUMPS + 1, 'too far');
    counting.hmacCalls = 0;
    const err = await rejectsWithoutChange([bob.store], () => b.decrypt(jump));
    expect(err).toBeInstanceOf(MessageGapError);
    expect(E2eeError.is(err, ErrorCode.MessageGap)).toBe(true);
    expect(counting.hmacCalls).toBeLessThan(5);
    // The session is unharmed.
    const next = await encryptAhead(1, 'near');
    expect(fromUtf8((await b.decrypt(next)).plaintext)).toBe('near');
  });

  it('a self-session (same identity and ServiceId) has no forward-jump limit, as in libsignal', async () => {
    const { b, encryptAhead } = await setup({ selfSession: true });
    const jump = await encryptAhead(MAX_FORWARD_JUMPS + 1, 'note to self');
    expect(fromUtf8((await b.decrypt(jump)).plaintext)).toBe('note to self');
  });

  it(`a self-session jump within ${SELF_SESSION_MAX_FORWARD_JUMPS} but past the ${DECRYPT_WORK_BUDGET}-step work budget: WORK_BUDGET_EXCEEDED; past ${SELF_SESSION_MAX_FORWARD_JUMPS}: MessageGapError; nothing derived or stored`, async () => {
    const { bob, b, counting, encryptAhead } = await setup({ selfSession: true });
    // A genuine message: 60,000 steps ahead on its chain, its MAC valid.
    const beyondBudget = await encryptAhead(60_000, 'too much work');
    counting.hmacCalls = 0;
    const err = await rejectsWithoutChange([bob.store], () => b.decrypt(beyondBudget));
    expect(E2eeError.is(err, RatchetErrorCode.WorkBudgetExceeded), String(err)).toBe(true);
    expect(counting.hmacCalls).toBeLessThan(5);
    const far = await encryptAhead(SELF_SESSION_MAX_FORWARD_JUMPS + 1, 'far', { derive: false });
    counting.hmacCalls = 0;
    expect(await rejectsWithoutChange([bob.store], () => b.decrypt(far))).toBeInstanceOf(MessageGapError);
    expect(counting.hmacCalls).toBeLessThan(5);
  });
});
