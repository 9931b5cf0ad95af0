// Issue 11.3 (sender keys): a validly signed SenderKeyMessage as far ahead as libsignal allows
// (25,000 iterations) must not hold the event loop for the whole chain walk. A timer probe
// (`setTimeout(0)`, re-armed on every tick) runs while the receiver decrypts; the walk must let it
// fire repeatedly. The longest gap between ticks — the longest synchronous stretch — is printed,
// never asserted (the machine is shared; the numbers go into the README).
import { type Address, type CryptoProvider, nobleProvider, platformProvider, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher, MAX_FORWARD_JUMPS, SenderKeyRecord } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';

const D = '0a11ce00-0000-4000-8000-00000000beef';
const mallory: Address = Object.freeze({ name: 'mallory', deviceId: 1 });
const PROVIDERS: ReadonlyArray<[string, CryptoProvider]> = [
  ['noble', nobleProvider],
  ['platform', platformProvider],
  ['node', nodeProvider],
];
const report: string[] = [];

/** A sender whose own chain is fast-forwarded to `iteration` (chain key stepped with HMAC(ck, 0x02)). */
async function messageAhead(iteration: number) {
  const store = new InMemorySenderKeyStore();
  const cipher = new GroupCipher(store, { provider: nodeProvider });
  const skdm = await cipher.createDistributionMessage(mallory, D);
  const record = (await store.loadSenderKey(mallory, D)) as SenderKeyRecord;
  const state = record.states[0]!;
  let ck = state.chainKey;
  for (let i = 0; i < iteration; i++) ck = await nodeProvider.hmacSha256(ck, Uint8Array.of(2));
  await store.storeSenderKey(mallory, D, SenderKeyRecord.fromStates([{ ...state, iteration, chainKey: ck }]));
  return { skdm: skdm.serialize(), message: await cipher.encrypt(mallory, D, utf8('far ahead')) };
}

/** Process CPU time in ms (this thread and the thread pool). */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * Runs `work` with a re-arming `setTimeout(0)` probe; returns the ticks, the longest gap between
 * ticks (wall ms) and the CPU time the process spent in that gap: on a loaded machine a gap is
 * mostly the process waiting for a core, which the CPU time tells apart.
 */
async function probed<T>(
  work: () => Promise<T>,
): Promise<{ value: T; ticks: number; longestMs: number; longestCpuMs: number }> {
  let ticks = 0;
  let last = performance.now();
  let lastCpu = cpuMs();
  let longestMs = 0;
  let longestCpuMs = 0;
  let running = true;
  const tick = () => {
    const now = performance.now();
    const cpu = cpuMs();
    if (now - last > longestMs) {
      longestMs = now - last;
      longestCpuMs = cpu - lastCpu;
    }
    last = now;
    lastCpu = cpu;
    if (!running) return;
    ticks++;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  last = performance.now();
  lastCpu = cpuMs();
  try {
    const value = await work();
    const now = performance.now();
    if (now - last > longestMs) {
      longestMs = now - last;
      longestCpuMs = cpuMs() - lastCpu;
    }
    return { value, ticks, longestMs, longestCpuMs };
  } finally {
    running = false;
  }
}

describe('a 25,000-iteration jump yields to the event loop (every provider)', () => {
  afterAll(() => {
    console.log(`longest synchronous stretch during a ${MAX_FORWARD_JUMPS}-step walk:\n${report.join('\n')}`);
  });

  for (const [label, provider] of PROVIDERS) {
    it(`${label}: the message decrypts and timers keep firing during the walk`, async () => {
      const { skdm, message } = await messageAhead(MAX_FORWARD_JUMPS);
      const store = new InMemorySenderKeyStore();
      const receiver = new GroupCipher(store, { provider });
      await receiver.processDistributionMessage(mallory, skdm);
      const started = performance.now();
      const { value, ticks, longestMs, longestCpuMs } = await probed(() =>
        receiver.decrypt(mallory, message),
      );
      const totalMs = performance.now() - started;
      expect(value.iteration).toBe(MAX_FORWARD_JUMPS);
      expect(new TextDecoder().decode(value.plaintext)).toBe('far ahead');
      const after = (await store.loadSenderKey(mallory, D)) as SenderKeyRecord;
      expect(after.states[0]!.iteration).toBe(MAX_FORWARD_JUMPS + 1);
      expect(after.states[0]!.skipped).toHaveLength(2000);
      // 25,000 steps take ≥ 6 breaks by step count alone (one per ≤ 4,096 steps), each letting an
      // expired timer run; a walk that never yields lets the probe fire at most around the store
      // and Web Crypto awaits.
      expect(ticks).toBeGreaterThanOrEqual(5);
      report.push(
        `  ${label}: longest ${longestMs.toFixed(1)} ms wall (${longestCpuMs.toFixed(1)} ms CPU) of ` +
          `${totalMs.toFixed(0)} ms total, ${ticks} timer ticks`,
      );
    }, 60_000);
  }
});

describe('the break works with whatever the runtime offers (feature-detected per call)', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  const cases: ReadonlyArray<[string, () => { used: () => number }]> = [
    [
      'scheduler.yield() (no setImmediate)',
      () => {
        let n = 0;
        vi.stubGlobal('setImmediate', undefined);
        vi.stubGlobal('scheduler', {
          yield: () => {
            n++;
            return new Promise<void>((r) => setTimeout(r, 0));
          },
        });
        return { used: () => n };
      },
    ],
    [
      'MessageChannel (no setImmediate, no scheduler)',
      () => {
        let n = 0;
        const Real = MessageChannel;
        vi.stubGlobal('setImmediate', undefined);
        vi.stubGlobal(
          'MessageChannel',
          class extends Real {
            constructor() {
              super();
              n++;
            }
          },
        );
        return { used: () => n };
      },
    ],
    [
      'setTimeout(0) only',
      () => {
        vi.stubGlobal('setImmediate', undefined);
        vi.stubGlobal('MessageChannel', undefined);
        return { used: () => Number.NaN };
      },
    ],
  ];

  for (const [label, stub] of cases) {
    it(`${label}: the jump decrypts and timers fire during the walk`, async () => {
      const { skdm, message } = await messageAhead(MAX_FORWARD_JUMPS);
      const receiver = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
      await receiver.processDistributionMessage(mallory, skdm);
      const { used } = stub();
      const { value, ticks } = await probed(() => receiver.decrypt(mallory, message));
      vi.unstubAllGlobals();
      expect(value.iteration).toBe(MAX_FORWARD_JUMPS);
      expect(ticks).toBeGreaterThanOrEqual(5);
      const n = used();
      if (!Number.isNaN(n)) expect(n).toBeGreaterThanOrEqual(6);
    }, 60_000);
  }
});
