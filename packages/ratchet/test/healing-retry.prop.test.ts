// Loop protection as properties (issue 14, point 2): two broken peers that answer every failure with
// a retry receipt and every receipt with a resend converge to silence within the policy's bounds,
// whatever the limits, the clock and the delivery order; and the limiter's counts hold for any
// sequence of attempts.
import {
  DecryptionErrorMessage,
  FailedMessageType,
  planRetryResponse,
  RetryPolicy,
  type RetryPolicyOptions,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

const HOUR = 3_600_000;
const peers = [
  { name: 'alice', deviceId: 1 },
  { name: 'bob', deviceId: 1 },
] as const;

type Event =
  | { kind: 'message'; from: 0 | 1; timestamp: number } // a (re)sent message that will fail to decrypt
  | { kind: 'receipt'; from: 0 | 1; timestamp: number; bytes: Uint8Array }; // a retry receipt

const limits = fc.record({
  maxRequestsPerMessage: fc.integer({ min: 1, max: 6 }),
  maxRequestsPerAddress: fc.integer({ min: 1, max: 12 }),
  maxResponsesPerMessage: fc.integer({ min: 1, max: 6 }),
  maxResponsesPerAddress: fc.integer({ min: 1, max: 12 }),
  quietResetMs: fc.integer({ min: 1, max: 3 * HOUR }),
});

describe('two broken peers', () => {
  it('converge to silence: every message costs at most maxRequests receipts and maxResponses resends', () => {
    fc.assert(
      fc.property(
        limits,
        fc.integer({ min: 1, max: 8 }), // messages each side sends at first
        fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), // delivery order choices
        fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4 * HOUR })), {
          minLength: 1,
          maxLength: 64,
        }),
        (
          o: Required<
            Omit<RetryPolicyOptions, 'now' | 'maxResponseAgeMs' | 'sessionResetIntervalMs' | 'maxTracked'>
          >,
          n,
          picks,
          ticks,
        ) => {
          const clock = { now: 1_700_000_000_000 };
          const policies = peers.map(() => new RetryPolicy({ ...o, now: () => clock.now }));
          const queue: Event[] = [];
          for (let i = 0; i < n; i++)
            for (const from of [0, 1] as const)
              queue.push({ kind: 'message', from, timestamp: clock.now - 1000 + i });
          const receipts = new Map<string, number>();
          const resends = new Map<string, number>();
          const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);
          let steps = 0;
          const bound = 2 * n * (1 + o.maxRequestsPerMessage + o.maxResponsesPerMessage);
          while (queue.length > 0) {
            expect(++steps).toBeLessThanOrEqual(bound);
            clock.now += ticks[steps % ticks.length] as number;
            const [e] = queue.splice((picks[steps % picks.length] as number) % queue.length, 1) as [Event];
            const to = (1 - e.from) as 0 | 1;
            if (e.kind === 'message') {
              // decrypt fails at `to`: a broken peer always wants a receipt; the policy decides
              if (policies[to]!.allowRequest(peers[e.from], e.timestamp).allowed) {
                bump(receipts, `${e.from}:${e.timestamp}`);
                const dem = DecryptionErrorMessage.forOriginal(
                  new Uint8Array(0),
                  FailedMessageType.SenderKey,
                  e.timestamp,
                  peers[e.from].deviceId,
                );
                queue.push({ kind: 'receipt', from: to, timestamp: e.timestamp, bytes: dem.serialize() });
              }
            } else {
              // the original sender (`to`) answers every receipt it is allowed to, by resending
              const request = DecryptionErrorMessage.deserialize(e.bytes);
              const plan = planRetryResponse({
                request,
                localDeviceId: peers[to].deviceId,
                currentRatchetKey: undefined,
                hasCachedMessage: true,
                decision: policies[to]!.allowResponse(peers[e.from], request.timestamp),
              });
              if (plan.action === 'resend') {
                bump(resends, `${to}:${e.timestamp}`);
                queue.push({ kind: 'message', from: to, timestamp: e.timestamp });
              }
              // a receipt is plaintext: it never fails, so it is never answered with a receipt
            }
          }
          for (const c of receipts.values()) expect(c).toBeLessThanOrEqual(o.maxRequestsPerMessage);
          for (const c of resends.values()) expect(c).toBeLessThanOrEqual(o.maxResponsesPerMessage);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('with Signal’s defaults and a frozen clock, a storm of 50 messages each way stops after ≤ 10 receipts per peer', () => {
    const clock = { now: 1_700_000_000_000 };
    const policies = peers.map(() => new RetryPolicy({ now: () => clock.now }));
    let receipts = 0;
    let resends = 0;
    const queue: Event[] = [];
    for (let i = 0; i < 50; i++)
      for (const from of [0, 1] as const) queue.push({ kind: 'message', from, timestamp: 1000 + i });
    while (queue.length > 0) {
      const e = queue.shift() as Event;
      const to = (1 - e.from) as 0 | 1;
      if (e.kind === 'message') {
        if (policies[to]!.allowRequest(peers[e.from], e.timestamp).allowed) {
          receipts++;
          queue.push({ kind: 'receipt', from: to, timestamp: e.timestamp, bytes: new Uint8Array(0) });
        }
      } else if (policies[to]!.allowResponse(peers[e.from], e.timestamp).allowed) {
        resends++;
        queue.push({ kind: 'message', from: to, timestamp: e.timestamp });
      }
    }
    expect(receipts).toBeLessThanOrEqual(2 * 10);
    expect(resends).toBeLessThanOrEqual(2 * 10);
    expect(receipts).toBeGreaterThan(0);
  });
});

describe('limiter counts', () => {
  it('allowed attempts per message never exceed the limit; per address never within one busy window', () => {
    fc.assert(
      fc.property(
        limits,
        fc.array(
          fc.record({
            who: fc.integer({ min: 0, max: 1 }),
            ts: fc.nat(5),
            dt: fc.oneof(fc.constant(0), fc.integer({ min: -HOUR, max: 4 * HOUR })),
          }),
          { maxLength: 120 },
        ),
        (o, attempts) => {
          const clock = { now: 1_700_000_000_000 };
          const p = new RetryPolicy({ ...o, now: () => clock.now });
          const perMessage = new Map<string, number>();
          const windows = [
            { count: 0, last: Number.NEGATIVE_INFINITY },
            { count: 0, last: Number.NEGATIVE_INFINITY },
          ];
          for (const a of attempts) {
            clock.now += a.dt;
            const w = windows[a.who]!;
            if (clock.now - w.last >= o.quietResetMs) w.count = 0;
            w.last = clock.now;
            const d = p.allowRequest(peers[a.who as 0 | 1], a.ts);
            if (d.allowed) {
              const k = `${a.who}:${a.ts}`;
              perMessage.set(k, (perMessage.get(k) ?? 0) + 1);
              expect(perMessage.get(k)).toBeLessThanOrEqual(o.maxRequestsPerMessage);
              expect(++w.count).toBeLessThanOrEqual(o.maxRequestsPerAddress);
            } else {
              // refused for a reason that holds in the model
              const k = `${a.who}:${a.ts}`;
              const reason =
                (perMessage.get(k) ?? 0) >= o.maxRequestsPerMessage ? 'message-limit' : 'address-limit';
              expect(d.reason).toBe(reason);
              if (reason === 'address-limit') expect(w.count).toBe(o.maxRequestsPerAddress);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
