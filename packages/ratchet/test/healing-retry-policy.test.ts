// Retry policy and response planning (issue 14, point 2): Signal's limits with an injectable clock,
// bounded memory, and the sender's decision table (archive only on a ratchet-key match).
import {
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  fromHex,
  MessageGapError,
  PublicKey,
  SessionNotFoundError,
  StoreError,
  UntrustedIdentityError,
} from '@e2ee-kit/core';
import {
  DecryptionErrorMessage,
  isRetryableDecryptError,
  planRetryResponse,
  RatchetErrorCode,
  RETRY_POLICY_DEFAULTS,
  RetryPolicy,
  type RetryResponseInput,
} from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';

const HOUR = 3_600_000;
const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 2 };

function policy(options: ConstructorParameters<typeof RetryPolicy>[0] = {}) {
  const clock = { now: 1_700_000_000_000 };
  return { clock, p: new RetryPolicy({ now: () => clock.now, ...options }) };
}
const allowedCount = (f: () => { allowed: boolean }, n: number) =>
  Array.from({ length: n }, f).filter((d) => d.allowed).length;

describe('RetryPolicy', () => {
  it('has Signal’s defaults', () => {
    expect(RETRY_POLICY_DEFAULTS).toEqual({
      maxRequestsPerMessage: 5,
      maxRequestsPerAddress: 10,
      maxResponsesPerMessage: 5,
      maxResponsesPerAddress: 10,
      quietResetMs: 3 * HOUR,
      maxResponseAgeMs: 14 * 24 * HOUR,
      sessionResetIntervalMs: HOUR,
      maxTracked: 10_000,
    });
  });

  it('receiver: 5 receipts per failed message, then message-limit', () => {
    const { p } = policy();
    expect(allowedCount(() => p.allowRequest(alice, 100), 9)).toBe(5);
    expect(p.allowRequest(alice, 100)).toEqual({ allowed: false, reason: 'message-limit' });
    // another device of the same account is another address
    expect(p.allowRequest({ name: 'alice', deviceId: 2 }, 100).allowed).toBe(true);
  });

  it('receiver: 10 per sender until 3 quiet hours (refused attempts count as activity)', () => {
    const { p, clock } = policy();
    for (let ts = 0; ts < 10; ts++) expect(p.allowRequest(alice, ts).allowed).toBe(true);
    expect(p.allowRequest(alice, 10)).toEqual({ allowed: false, reason: 'address-limit' });
    expect(p.allowRequest(bob, 10).allowed).toBe(true);
    clock.now += 3 * HOUR - 1;
    expect(p.allowRequest(alice, 11).allowed).toBe(false); // still failing: not quiet
    clock.now += 3 * HOUR - 1;
    expect(p.allowRequest(alice, 12).allowed).toBe(false);
    clock.now += 3 * HOUR;
    expect(p.allowRequest(alice, 13).allowed).toBe(true); // quiet for 3 hours
    // a message's own limit survives the reset
    for (let i = 0; i < 4; i++) p.allowRequest(alice, 13);
    clock.now += 4 * HOUR;
    expect(p.allowRequest(alice, 13)).toEqual({ allowed: false, reason: 'message-limit' });
  });

  it('sender: 5 answers per message, 10 per requester, none past 14 days', () => {
    const { p, clock } = policy();
    expect(allowedCount(() => p.allowResponse(bob, clock.now - 1000), 8)).toBe(5);
    expect(p.allowResponse(bob, clock.now - 14 * 24 * HOUR - 1)).toEqual({
      allowed: false,
      reason: 'too-old',
    });
    expect(p.allowResponse(bob, clock.now - 14 * 24 * HOUR).allowed).toBe(true);
    for (let i = 0; i < 4; i++) expect(p.allowResponse(bob, clock.now - i - 10).allowed).toBe(true); // 10 in all
    expect(p.allowResponse(bob, clock.now - 99)).toEqual({ allowed: false, reason: 'address-limit' });
    // requests and responses are counted apart
    expect(p.allowRequest(bob, 5).allowed).toBe(true);
  });

  it('light session reset at most once an hour per address', () => {
    const { p, clock } = policy();
    expect(p.allowSessionReset(bob).allowed).toBe(true);
    expect(p.allowSessionReset(bob)).toEqual({ allowed: false, reason: 'too-soon' });
    expect(p.allowSessionReset(alice).allowed).toBe(true);
    clock.now += HOUR - 1;
    expect(p.allowSessionReset(bob).allowed).toBe(false);
    clock.now += 1;
    expect(p.allowSessionReset(bob).allowed).toBe(true);
  });

  it('memory is bounded: the oldest tracked keys are forgotten first', () => {
    const { p } = policy({ maxTracked: 3, maxRequestsPerMessage: 1, maxRequestsPerAddress: 1000 });
    for (let ts = 0; ts < 4; ts++) expect(p.allowRequest(alice, ts).allowed).toBe(true);
    expect(p.allowRequest(alice, 3).allowed).toBe(false); // still tracked
    expect(p.allowRequest(alice, 0).allowed).toBe(true); // forgotten (4 keys > 3)
  });

  it('a clock set back delays a light session reset by at most one interval, not by the jump', () => {
    const { p, clock } = policy();
    expect(p.allowSessionReset(bob).allowed).toBe(true);
    // The clock was a year ahead (then corrected), or the state came from a device whose clock was.
    clock.now -= 365 * 24 * HOUR;
    expect(p.allowSessionReset(bob)).toEqual({ allowed: false, reason: 'too-soon' });
    clock.now += HOUR - 1;
    expect(p.allowSessionReset(bob).allowed).toBe(false);
    clock.now += 1;
    expect(p.allowSessionReset(bob).allowed).toBe(true);
    expect(p.allowSessionReset(bob).allowed).toBe(false);
    // The same across a restart: restored counters from the future count from now.
    const ahead = policy();
    ahead.clock.now += 365 * 24 * HOUR;
    expect(ahead.p.allowSessionReset(alice).allowed).toBe(true);
    const behind = { now: 1_700_000_000_000 };
    const restored = RetryPolicy.deserialize(ahead.p.serialize(), { now: () => behind.now });
    expect(restored.allowSessionReset(alice).allowed).toBe(false);
    behind.now += HOUR;
    expect(restored.allowSessionReset(alice).allowed).toBe(true);
  });

  it('a clock set back never resets a count', () => {
    const { p, clock } = policy({ maxRequestsPerAddress: 2 });
    p.allowRequest(alice, 1);
    p.allowRequest(alice, 2);
    clock.now -= 10 * HOUR;
    expect(p.allowRequest(alice, 3).allowed).toBe(false);
  });

  it('validates its arguments', () => {
    expect(() => new RetryPolicy({ maxRequestsPerMessage: 0 })).toThrow(RangeError);
    expect(() => new RetryPolicy({ quietResetMs: 1.5 })).toThrow(RangeError);
    expect(() => new RetryPolicy({ now: 5 as unknown as () => number })).toThrow(TypeError);
    const { p } = policy();
    expect(() => p.allowRequest({ name: 'x', deviceId: 0 }, 1)).toThrow(RangeError);
    expect(() => p.allowRequest(alice, -1)).toThrow(RangeError);
    expect(() => p.allowResponse(alice, Number.NaN)).toThrow(TypeError);
    const bad = new RetryPolicy({ now: () => Number.NaN });
    expect(() => bad.allowSessionReset(alice)).toThrow(RangeError);
  });
});

describe('isRetryableDecryptError', () => {
  it('retries what a new session can fix, never duplicates, malformed bytes or local failures', () => {
    const yes = [
      new E2eeError(RatchetErrorCode.InvalidMessage, 'decryption failed'),
      new E2eeError(RatchetErrorCode.InvalidPreKeyId, 'x'),
      new E2eeError(RatchetErrorCode.InvalidSignedPreKeyId, 'x'),
      new E2eeError(RatchetErrorCode.InvalidKyberPreKeyId, 'x'),
      new SessionNotFoundError(alice),
      new UntrustedIdentityError(alice),
      new MessageGapError(),
    ];
    const no = [
      new DuplicateMessageError(),
      new DecodeError('truncated'),
      new DecodeError('legacy', { code: RatchetErrorCode.LegacyCiphertextVersion }),
      new DecodeError('new', { code: RatchetErrorCode.UnrecognizedCiphertextVersion }),
      new E2eeError(RatchetErrorCode.X3dhNotAccepted, 'x'),
      new StoreError('disk'),
      new Error('INVALID_MESSAGE'),
      { code: 'INVALID_MESSAGE' },
      undefined,
    ];
    for (const e of yes) expect(isRetryableDecryptError(e), String(e)).toBe(true);
    for (const e of no) expect(isRetryableDecryptError(e), String(e)).toBe(false);
  });
});

describe('planRetryResponse (Signal-Desktop onRetryRequest / Android handleRetryReceipt)', () => {
  const ratchet = PublicKey.deserialize(fromHex(`05${'11'.repeat(32)}`));
  const other = PublicKey.deserialize(fromHex(`05${'22'.repeat(32)}`));
  // libsignal's layout: ratchet key (1), timestamp 1000 (2), device id 1 (3)
  const oneToOne = DecryptionErrorMessage.deserialize(fromHex(`0a2105${'11'.repeat(32)}10e8071801`));
  const senderKey = DecryptionErrorMessage.deserialize(fromHex('10e8071801'));
  const base: RetryResponseInput = {
    request: oneToOne,
    localDeviceId: 1,
    currentRatchetKey: ratchet,
    hasCachedMessage: true,
    decision: { allowed: true },
  };

  it('decision table', () => {
    const cases: [Partial<RetryResponseInput>, object][] = [
      [{}, { archiveSession: true, action: 'resend', reshareSenderKey: false, reason: 'answered' }],
      [{ hasCachedMessage: false }, { archiveSession: true, action: 'null-message', reason: 'answered' }],
      // the receipt names an older ratchet key: the newer session stays
      [{ currentRatchetKey: other }, { archiveSession: false, action: 'resend' }],
      [
        { currentRatchetKey: other, hasCachedMessage: false },
        { archiveSession: false, action: 'none' },
      ],
      [
        { currentRatchetKey: undefined, hasCachedMessage: false },
        { archiveSession: false, action: 'none' },
      ],
      [{ localDeviceId: 2 }, { archiveSession: false, action: 'none', reason: 'other-device' }],
      [
        { decision: { allowed: false, reason: 'message-limit' } },
        { archiveSession: false, action: 'none', reason: 'message-limit' },
      ],
      [{ request: senderKey }, { archiveSession: false, action: 'resend', reshareSenderKey: true }],
      [
        { request: senderKey, hasCachedMessage: false },
        { archiveSession: false, action: 'none', reshareSenderKey: true },
      ],
    ];
    for (const [over, want] of cases)
      expect(planRetryResponse({ ...base, ...over }), JSON.stringify(over)).toMatchObject(want);
    expect(() => planRetryResponse({ ...base, request: {} as DecryptionErrorMessage })).toThrow(TypeError);
  });
});
