// Issue 11.3: bounded work for any input. Work is counted in KDF calls (deterministic), never timed;
// the CPU thresholds live in bench/ratchet.bench.ts.
import { type CryptoProvider, E2eeError, encodeVarint, platformProvider } from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  MAX_FORWARD_JUMPS,
  PreKeySignalMessage,
  RatchetErrorCode,
  SessionRecord,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { nextChainKey } from '../src/kdf.js';
import { archive } from '../src/records/session-record.js';
import type { SessionState } from '../src/records/session-state.js';
import { cloneChain, sendKey } from '../src/spqr/chain.js';
import { SpqrState, stateData } from '../src/spqr/state.js';
import { DECRYPT_WORK_BUDGET, STEPS_PER_YIELD } from '../src/work-budget.js';
import { forgedPreKeyMessage, forgedSignalMessage } from './forgery.js';
import { establishedPair, fromUtf8, rejectsWithoutChange, roundTrip, utf8 } from './helpers.js';

const base = platformProvider;

/** Counts HMAC and HKDF calls (one per chain step, message or SPQR). */
function countingProvider(): CryptoProvider & { kdfCalls: number } {
  const p = Object.create(base) as CryptoProvider & { kdfCalls: number };
  p.kdfCalls = 0;
  Object.defineProperty(p, 'hmacSha256', {
    value: (k: Uint8Array, d: Uint8Array) => {
      p.kdfCalls++;
      return base.hmacSha256(k, d);
    },
  });
  Object.defineProperty(p, 'hkdfSha256', {
    value: (i: Uint8Array, s: Uint8Array | undefined, info: Uint8Array, n: number) => {
      p.kdfCalls++;
      return base.hkdfSha256(i, s, info, n);
    },
  });
  // Chain walks use the synchronous variants when the provider has them: count those too.
  const { hmacSha256Sync, hkdfSha256Sync } = base;
  if (!hmacSha256Sync || !hkdfSha256Sync) throw new Error('the base provider offers the sync KDFs');
  Object.defineProperty(p, 'hmacSha256Sync', {
    value: (k: Uint8Array, d: Uint8Array) => {
      p.kdfCalls++;
      return hmacSha256Sync(k, d);
    },
  });
  Object.defineProperty(p, 'hkdfSha256Sync', {
    value: (i: Uint8Array, s: Uint8Array | undefined, info: Uint8Array, n: number) => {
      p.kdfCalls++;
      return hkdfSha256Sync(i, s, info, n);
    },
  });
  return p;
}

/** Bob (counting provider) with an established session to Alice and `archived` copies of it archived. */
async function victim(archived: number) {
  const counting = countingProvider();
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1, { provider: counting });
  const a = alice.cipher(bob);
  const b = bob.cipher(alice);
  await a.initiate(await bob.bundle());
  await roundTrip(a, b, 'hello');
  await roundTrip(b, a, 'hi');
  await roundTrip(a, b, 'again');
  const record = (await bob.store.getSession(alice.address)) as SessionRecord;
  let previous: Uint8Array[] = [];
  for (let i = 0; i < archived; i++) previous = archive(previous, record.currentState as SessionState);
  await bob.store.saveSession(alice.address, SessionRecord.fromParts(record.currentState, previous));
  return { alice, bob, a, b, counting };
}

/** Runs `fn`, counting event-loop turns (a `setImmediate` probe) and the longest CPU stretch between them. */
async function probed<T>(fn: () => Promise<T>): Promise<{ result: T; turns: number; longestMs: number }> {
  let turns = 0;
  let longest = 0;
  let stop = false;
  const cpu = () => {
    const c = process.cpuUsage();
    return (c.user + c.system) / 1000;
  };
  let last = cpu();
  const probe = () => {
    const t = cpu();
    longest = Math.max(longest, t - last);
    last = t;
    turns++;
    if (!stop) setImmediate(probe);
  };
  setImmediate(probe);
  try {
    return { result: await fn(), turns, longestMs: longest };
  } finally {
    stop = true;
  }
}

describe('a forged SignalMessage costs one walk at most, whatever the record holds', () => {
  it('counter 24,999, fresh ratchet key, random MAC: same KDF work with 0 and 40 archived states', async () => {
    const counts: number[] = [];
    for (const archived of [0, 40]) {
      const { bob, b, counting } = await victim(archived);
      const forged = await forgedSignalMessage(base);
      counting.kdfCalls = 0;
      const {
        result: err,
        turns,
        longestMs,
      } = await probed(() =>
        rejectsWithoutChange([bob.store], () => b.decrypt({ type: 'whisper', body: forged.serializedView })),
      );
      expect(E2eeError.is(err, RatchetErrorCode.InvalidMessage)).toBe(true);
      counts.push(counting.kdfCalls);
      // The walk gives the event loop a turn every STEPS_PER_YIELD steps (longest stretch is reported,
      // not asserted: thresholds live in the bench).
      expect(turns).toBeGreaterThanOrEqual(Math.floor((2 * (MAX_FORWARD_JUMPS - 1)) / STEPS_PER_YIELD));
      console.info(
        `forged whisper, ${archived} archived: longest synchronous stretch ${longestMs.toFixed(1)} ms CPU`,
      );
    }
    // One state's walk (message chain + SPQR chain + 2,000 kept keys of each), not 41 of them.
    expect(counts[0]).toBeLessThanOrEqual(DECRYPT_WORK_BUDGET + 2 * 2_000 + 50);
    expect(counts[1]).toBeLessThanOrEqual((counts[0] as number) + 50);
  });

  it('a forged message with a small counter is tried on every state, each costing one agreement', async () => {
    const { bob, b, counting } = await victim(40);
    const forged = await forgedSignalMessage(base, 3);
    counting.kdfCalls = 0;
    const err = await rejectsWithoutChange([bob.store], () =>
      b.decrypt({ type: 'whisper', body: forged.serializedView }),
    );
    expect(E2eeError.is(err, RatchetErrorCode.InvalidMessage)).toBe(true);
    expect(counting.kdfCalls).toBeLessThan(41 * 20);
  });

  it('a forged PreKey message (from the public bundle) costs the handshake and one walk', async () => {
    const { bob, alice, counting } = await victim(0);
    const mallory = await createTestParty('mallory', 1);
    const m = mallory.cipher(bob);
    await m.initiate(await bob.bundle());
    const genuine = PreKeySignalMessage.deserialize((await m.encrypt(utf8('x'))).body);
    const forged = await forgedPreKeyMessage(base, genuine);
    counting.kdfCalls = 0;
    const err = await rejectsWithoutChange([bob.store], () =>
      bob.cipher(mallory).decrypt({ type: 'prekey', body: forged.serializedView }),
    );
    expect(E2eeError.is(err, RatchetErrorCode.InvalidMessage)).toBe(true);
    expect(counting.kdfCalls).toBeLessThanOrEqual(DECRYPT_WORK_BUDGET + 2 * 2_000 + 50);
    expect(await bob.store.getSession(alice.address)).not.toBeNull();
  });
});

describe('legitimate messages within libsignal limits still decrypt', () => {
  it(`a new chain on the current state with a jump of ${MAX_FORWARD_JUMPS} on both chains`, async () => {
    const p = await establishedPair(base);
    await roundTrip(p.b, p.a, 'Alice now has a sending chain Bob has not seen');
    const record = (await p.alice.store.getSession(p.bob.address)) as SessionRecord;
    const s = (record.currentState as SessionState).clone();
    const sender = s.senderChain as NonNullable<SessionState['senderChain']>;
    let key = sender.chainKey.key;
    for (let i = 0; i < MAX_FORWARD_JUMPS; i++) key = await nextChainKey(key, base);
    sender.chainKey = { index: sender.chainKey.index + MAX_FORWARD_JUMPS, key };
    const d = stateData(s.braid as SpqrState);
    const chain = cloneChain(d.chain);
    // The next send uses the chain's next index: a jump of exactly MAX_FORWARD_JUMPS for Bob.
    for (let i = 0; i < MAX_FORWARD_JUMPS - 1; i++) await sendKey(chain, chain.sendEpoch, base);
    s.braid = SpqrState._create({ ...d, chain });
    await p.alice.store.saveSession(p.bob.address, SessionRecord.fromParts(s, record.previousStates));
    const far = await p.a.encrypt(utf8('far ahead on a new chain'));
    expect(fromUtf8((await p.b.decrypt(far)).plaintext)).toBe('far ahead on a new chain');
  });

  it('out of order within the current chain, and a modest jump on an archived state', async () => {
    const p = await establishedPair(base);
    const held: EncryptedMessage[] = [];
    for (let i = 0; i < 300; i++) held.push(await p.a.encrypt(utf8(`old ${i}`)));
    // Alice starts a new session; Bob archives the old one.
    await p.a.initiate(await p.bob.bundle());
    await roundTrip(p.a, p.b, 'new session');
    await roundTrip(p.b, p.a, 'new session reply');
    // Out of order within the current chain.
    const c = [await p.a.encrypt(utf8('c0')), await p.a.encrypt(utf8('c1')), await p.a.encrypt(utf8('c2'))];
    expect(fromUtf8((await p.b.decrypt(c[2] as EncryptedMessage)).plaintext)).toBe('c2');
    expect(fromUtf8((await p.b.decrypt(c[0] as EncryptedMessage)).plaintext)).toBe('c0');
    expect(fromUtf8((await p.b.decrypt(c[1] as EncryptedMessage)).plaintext)).toBe('c1');
    // Old-session messages: a jump of 299 on the archived state, then older ones out of order.
    expect(fromUtf8((await p.b.decrypt(held[299] as EncryptedMessage)).plaintext)).toBe('old 299');
    expect(fromUtf8((await p.b.decrypt(held[5] as EncryptedMessage)).plaintext)).toBe('old 5');
  });
});

/** `pq_ratchet` bytes: version 1, `epoch`, `index`, payload `type`, and (chunk types) a chunk. */
function pqBytes(epoch: number, index: number, type: number, chunk?: { index: number; data: Uint8Array }) {
  const head = [1, ...encodeVarint(epoch), ...encodeVarint(index), type];
  return chunk
    ? Uint8Array.from([...head, ...encodeVarint(chunk.index), ...chunk.data])
    : Uint8Array.from(head);
}

describe('hostile SPQR payloads through a session: typed errors, no state change, bounded work', () => {
  /** A message on Alice's current (known) chain with the given `pq_ratchet` and a random MAC. */
  async function onKnownChain(v: Awaited<ReturnType<typeof victim>>, pqRatchet: Uint8Array) {
    const real = SignalMessage.deserialize((await v.a.encrypt(utf8('real'))).body);
    return SignalMessage.create(
      {
        messageVersion: 4,
        ratchetKey: real.ratchetKey,
        counter: real.counter + 1,
        previousCounter: real.previousCounter,
        ciphertext: base.randomBytes(16),
        pqRatchet,
        addresses: undefined,
      },
      async () => base.randomBytes(8),
    );
  }

  const cases: [string, (chunk: Uint8Array) => Uint8Array, number][] = [
    ['an epoch far ahead', (d) => pqBytes(9, 1, 1, { index: 0, data: d }), 200],
    ['a key jump beyond 25,000', () => pqBytes(1, MAX_FORWARD_JUMPS + 10, 0), 200],
    ['a header chunk of garbage', (d) => pqBytes(1, 5, 1, { index: 3, data: d }), 400],
    ['an ek chunk before any header', (d) => pqBytes(1, 6, 2, { index: 40, data: d }), 400],
    ['a ct2 chunk out of turn', (d) => pqBytes(1, 7, 6, { index: 1, data: d }), 400],
    ['version 2 after negotiation', () => Uint8Array.of(2, 1, 8, 0), 200],
    ['a truncated chunk', () => Uint8Array.of(1, 1, 9, 1, 0, 1, 2), 200],
  ];

  it.each(cases)('%s', async (_name, make, maxKdf) => {
    const v = await victim(0);
    const m = await onKnownChain(v, make(base.randomBytes(32)));
    v.counting.kdfCalls = 0;
    const err = await rejectsWithoutChange([v.bob.store], () =>
      v.b.decrypt({ type: 'whisper', body: m.serializedView }),
    );
    expect(E2eeError.is(err), String(err)).toBe(true);
    expect(v.counting.kdfCalls).toBeLessThanOrEqual(maxKdf);
    await roundTrip(v.a, v.b, 'the session still works');
  });

  it('index 25,000 on the known chain: the walk is priced and fits the budget; refused by the MAC', async () => {
    const v = await victim(0);
    const m = await onKnownChain(v, pqBytes(1, MAX_FORWARD_JUMPS, 0));
    v.counting.kdfCalls = 0;
    const err = await rejectsWithoutChange([v.bob.store], () =>
      v.b.decrypt({ type: 'whisper', body: m.serializedView }),
    );
    expect(E2eeError.is(err), String(err)).toBe(true);
    // Steps whose key would be dropped derive one HKDF of 32 bytes; the 2,000 kept ones one of 64.
    expect(v.counting.kdfCalls).toBeGreaterThan(MAX_FORWARD_JUMPS - 10);
    expect(v.counting.kdfCalls).toBeLessThanOrEqual(DECRYPT_WORK_BUDGET);
  });

  it('a flood of 300 forged chunks of every type: all refused, Bob unchanged, then real traffic heals the braid', async () => {
    const v = await victim(0);
    for (let i = 0; i < 300; i++) {
      const type = 1 + (i % 6);
      const pq =
        type === 4
          ? pqBytes(1, 20 + i, 4)
          : pqBytes(1, 20 + i, type, { index: i, data: base.randomBytes(32) });
      const m = await onKnownChain(v, pq);
      await rejectsWithoutChange([v.bob.store], () =>
        v.b.decrypt({ type: 'whisper', body: m.serializedView }),
      );
    }
    for (let i = 0; i < 120; i++) {
      await roundTrip(v.a, v.b, `a${i}`);
      await roundTrip(v.b, v.a, `b${i}`);
    }
    const s = ((await v.bob.store.getSession(v.alice.address)) as SessionRecord).currentState as SessionState;
    expect(s.braid?.epoch).toBeGreaterThan(2);
  });
});
