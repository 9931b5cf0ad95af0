// RetryPolicy state across a restart: `serialize` / `RetryPolicy.deserialize` keep every decision
// (Signal's limits: 5 receipts / answers per message, 10 per address until 3 quiet hours, no answer
// past 14 days, one reset an hour), and any malformed bytes are a DecodeError.
import { DecodeError } from '@e2ee-kit/core';
import { RetryPolicy, type RetryPolicyOptions } from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const HOUR = 3_600_000;
const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 2 };
const T0 = 1_700_000_000_000;
const deny = (reason: string) => ({ allowed: false, reason });

function clocked(options: RetryPolicyOptions = {}) {
  const clock = { now: T0 };
  const now = () => clock.now;
  return {
    clock,
    p: new RetryPolicy({ now, ...options }),
    restore: (bytes: Uint8Array) => RetryPolicy.deserialize(bytes, { now, ...options }),
  };
}

/** Bytes as the documented v1 layout spells them (big-endian), built by hand. */
const u16 = (v: number) => [v >> 8, v & 0xff];
const u32 = (v: number) => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const i64 = (v: number) => {
  const hi = Math.floor(v / 2 ** 32);
  return [...u32(hi), ...u32(v - hi * 2 ** 32)];
};
const addr = (key: string) => [...u16(key.length), ...Array.from(key, (c) => c.charCodeAt(0))];
const EMPTY_TABLE = u32(0);
const empty = [0x52, 0x01, ...EMPTY_TABLE, ...EMPTY_TABLE, ...EMPTY_TABLE, ...EMPTY_TABLE, ...EMPTY_TABLE];

describe('RetryPolicy state across a restart', () => {
  it('a receiver that sent 5 receipts for a message still refuses the 6th after restore', () => {
    const { p, restore } = clocked();
    for (let i = 0; i < 5; i++) expect(p.allowRequest(alice, 100).allowed).toBe(true);
    const restored = restore(p.serialize());
    expect(restored.allowRequest(alice, 100)).toEqual({ allowed: false, reason: 'message-limit' });
    expect(restored.allowRequest(bob, 100).allowed).toBe(true);
  });

  it('per-address limit, quiet reset, 14-day age and the hourly reset still apply after restore', () => {
    const { p, clock, restore } = clocked();
    for (let ts = 0; ts < 10; ts++) expect(p.allowResponse(bob, T0 - ts).allowed).toBe(true);
    expect(p.allowSessionReset(alice).allowed).toBe(true);
    let q = restore(p.serialize());
    expect(q.allowResponse(bob, T0 - 50)).toEqual({ allowed: false, reason: 'address-limit' });
    expect(q.allowResponse(bob, T0 - 15 * 24 * HOUR)).toEqual({ allowed: false, reason: 'too-old' });
    expect(q.allowSessionReset(alice)).toEqual({ allowed: false, reason: 'too-soon' });
    // The refused attempt above was activity: 3 quiet hours from then, not from the 10th answer.
    clock.now += 3 * HOUR - 1;
    q = restore(q.serialize());
    expect(q.allowResponse(bob, T0 - 60)).toEqual(deny('address-limit'));
    expect(q.allowSessionReset(alice).allowed).toBe(true);
    clock.now += 3 * HOUR;
    q = restore(q.serialize());
    expect(q.allowResponse(bob, T0 - 70).allowed).toBe(true);
    // ...but a message that had its 5 answers keeps its count (T0 - 0 was answered once: 4 more).
    expect([1, 2, 3, 4, 5].map(() => q.allowResponse(bob, T0).allowed)).toEqual([
      true,
      true,
      true,
      true,
      false,
    ]);
  });

  it('leaves out what can no longer refuse anything', () => {
    const { p, clock } = clocked();
    p.allowRequest(alice, 1);
    p.allowResponse(bob, T0);
    p.allowSessionReset(alice);
    const before = p.serialize().length;
    clock.now += 15 * 24 * HOUR;
    // Only the receipt count for alice's message 1 is left: 2 + tables + one entry.
    const after = p.serialize();
    expect(after.length).toBeLessThan(before);
    expect(Array.from(after)).toEqual([
      0x52,
      0x01,
      ...u32(1),
      ...addr('alice.1'),
      ...i64(1),
      ...u32(1),
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
    ]);
  });

  it('reads the documented v1 layout', () => {
    const bytes = Uint8Array.from([
      0x52,
      0x01,
      ...u32(1),
      ...addr('alice.1'),
      ...i64(100),
      ...u32(5), // 5 receipts for alice's message 100
      ...u32(1),
      ...addr('bob.2'),
      ...u32(10),
      ...i64(T0), // 10 receipts to bob, the last just now
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
      ...u32(1),
      ...addr('bob.2'),
      ...i64(T0 - 1), // a reset with bob a moment ago
    ]);
    const { restore } = clocked();
    const q = restore(bytes);
    expect(q.allowRequest(alice, 100)).toEqual(deny('message-limit'));
    expect(q.allowRequest(alice, 101).allowed).toBe(true);
    expect(q.allowRequest(bob, 7)).toEqual(deny('address-limit'));
    expect(q.allowSessionReset(bob)).toEqual(deny('too-soon'));
    expect(q.allowSessionReset(alice).allowed).toBe(true);
    expect(restore(Uint8Array.from(empty)).allowRequest(alice, 100).allowed).toBe(true);
  });

  it('restores at most maxTracked entries per table, forgetting the oldest', () => {
    const { p, clock } = clocked({ maxRequestsPerMessage: 1, maxRequestsPerAddress: 1000 });
    for (let ts = 0; ts < 5; ts++) p.allowRequest(alice, ts);
    const q = RetryPolicy.deserialize(p.serialize(), {
      now: () => clock.now,
      maxTracked: 3,
      maxRequestsPerMessage: 1,
      maxRequestsPerAddress: 1000,
    });
    // Newest first: a refusal changes no table, so 4, 3, 2 are checked before 1 and 0 are re-added.
    expect([4, 3, 2, 1, 0].map((ts) => q.allowRequest(alice, ts).allowed)).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
  });

  it('keeps no view of the caller’s bytes', () => {
    const { p, restore } = clocked();
    for (let i = 0; i < 5; i++) p.allowRequest(alice, 100);
    const bytes = p.serialize();
    const q = restore(bytes);
    bytes.fill(0);
    expect(q.allowRequest(alice, 100)).toEqual(deny('message-limit'));
  });

  it('reads a Node Buffer at an offset in a shared pool (bytes from a socket or a database)', () => {
    const { p, restore } = clocked();
    for (let i = 0; i < 5; i++) p.allowRequest(alice, 100);
    const bytes = p.serialize();
    // A pooled allocation: the policy's bytes sit after unrelated ones in a larger ArrayBuffer.
    const pool = Buffer.allocUnsafe(bytes.length + 37).fill(0xaa);
    const view = pool.subarray(13, 13 + bytes.length);
    view.set(bytes);
    const q = restore(view);
    pool.fill(0); // the caller reuses its pool: the restored policy must not see it
    expect(q.allowRequest(alice, 100)).toEqual(deny('message-limit'));
    // A truncated view is a DecodeError even though the pool holds the missing byte just after it.
    view.set(bytes);
    expect(() => restore(pool.subarray(13, 13 + bytes.length - 1))).toThrow(DecodeError);
  });

  it('answers malformed bytes with a DecodeError', () => {
    const valid = [
      0x52,
      0x01,
      ...u32(1),
      ...addr('alice.1'),
      ...i64(100),
      ...u32(5),
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
      ...EMPTY_TABLE,
    ];
    const msgEntry = (key: string, ts = 100, count = 5) => [...addr(key), ...i64(ts), ...u32(count)];
    const withMessages = (...entries: number[][]) =>
      Uint8Array.from([
        0x52,
        0x01,
        ...u32(entries.length),
        ...entries.flat(),
        ...EMPTY_TABLE,
        ...EMPTY_TABLE,
        ...EMPTY_TABLE,
        ...EMPTY_TABLE,
      ]);
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['wrong tag', Uint8Array.from([0x07, ...valid.slice(1)])],
      ['wrong version', Uint8Array.from([0x52, 0x02, ...valid.slice(2)])],
      ['trailing byte', Uint8Array.from([...valid, 0])],
      ['huge count', Uint8Array.from([0x52, 0x01, ...u32(0xffffffff), ...valid.slice(6)])],
      ['count past the bytes', Uint8Array.from([0x52, 0x01, ...u32(2), ...valid.slice(6)])],
      ['empty address', withMessages([...u16(0), ...i64(1), ...u32(1)])],
      ['address longer than its bytes', withMessages([...u16(0xffff), 0x61, 0x2e, 0x31])],
      ['address without a device id', withMessages(msgEntry('alice'))],
      ['device id 0', withMessages(msgEntry('alice.0'))],
      ['device id 128', withMessages(msgEntry('alice.128'))],
      ['device id spelled 01', withMessages(msgEntry('alice.01'))],
      ['empty name', withMessages(msgEntry('.1'))],
      ['invalid UTF-8', withMessages([...u16(3), 0xff, 0x2e, 0x31, ...i64(1), ...u32(1)])],
      ['negative timestamp', withMessages(msgEntry('alice.1', -1))],
      ['timestamp past 2^53', withMessages([...addr('a.1'), 0x00, 0x20, 0, 0, 0, 0, 0, 0, ...u32(1)])],
      ['zero count', withMessages(msgEntry('alice.1', 100, 0))],
      ['repeated entry', withMessages(msgEntry('alice.1'), msgEntry('alice.1'))],
    ];
    expect(() => RetryPolicy.deserialize(Uint8Array.from(valid))).not.toThrow();
    for (const [what, bytes] of bad) expect(() => RetryPolicy.deserialize(bytes), what).toThrow(DecodeError);
    for (let n = 0; n < valid.length; n++)
      expect(() => RetryPolicy.deserialize(Uint8Array.from(valid.slice(0, n))), `truncated to ${n}`).toThrow(
        DecodeError,
      );
    expect(() => RetryPolicy.deserialize('x' as unknown as Uint8Array)).toThrow(TypeError);
  });

  it('property: a restored policy decides exactly like the one that kept running', () => {
    const address = fc.constantFrom(alice, bob, { name: 'carol ✓', deviceId: 127 });
    const step = fc.oneof(
      fc.record({ kind: fc.constant('request' as const), who: address, ts: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('response' as const), who: address, ts: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('reset' as const), who: address, ts: fc.constant(0) }),
      fc.record({
        kind: fc.constant('wait' as const),
        who: address,
        ts: fc.integer({ min: 0, max: 4 * HOUR }),
      }),
      fc.record({ kind: fc.constant('restart' as const), who: address, ts: fc.constant(0) }),
    );
    const limits = fc.record({
      maxRequestsPerMessage: fc.integer({ min: 1, max: 4 }),
      maxRequestsPerAddress: fc.integer({ min: 1, max: 6 }),
      maxResponsesPerMessage: fc.integer({ min: 1, max: 4 }),
      maxResponsesPerAddress: fc.integer({ min: 1, max: 6 }),
      quietResetMs: fc.integer({ min: 1, max: 3 * HOUR }),
      maxResponseAgeMs: fc.integer({ min: 1, max: 6 * HOUR }),
      sessionResetIntervalMs: fc.integer({ min: 1, max: 2 * HOUR }),
    });
    fc.assert(
      fc.property(limits, fc.array(step, { maxLength: 60 }), (options, steps) => {
        const clock = { now: T0 };
        const o = { now: () => clock.now, ...options };
        const kept = new RetryPolicy(o);
        let restarted = new RetryPolicy(o);
        for (const s of steps) {
          const ts = T0 - s.ts * HOUR; // messages of the last hours
          if (s.kind === 'wait') clock.now += s.ts;
          else if (s.kind === 'restart') restarted = RetryPolicy.deserialize(restarted.serialize(), o);
          else if (s.kind === 'request')
            expect(restarted.allowRequest(s.who, ts)).toEqual(kept.allowRequest(s.who, ts));
          else if (s.kind === 'response')
            expect(restarted.allowResponse(s.who, ts)).toEqual(kept.allowResponse(s.who, ts));
          else expect(restarted.allowSessionReset(s.who)).toEqual(kept.allowSessionReset(s.who));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: any bytes either decode or are a DecodeError', () => {
    const { p } = clocked();
    p.allowRequest(alice, 1);
    p.allowResponse(bob, T0);
    p.allowSessionReset(alice);
    const seed = p.serialize();
    const mutated = fc
      .array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 })
      .map((edits) => {
        const b = Uint8Array.from(seed);
        for (const e of edits) b[e.at % b.length] = e.byte;
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(mutated, fc.uint8Array({ maxLength: 64 })), (bytes) => {
        try {
          RetryPolicy.deserialize(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
