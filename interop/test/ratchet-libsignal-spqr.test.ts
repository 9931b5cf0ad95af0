// Live SPQR interop (issue 13.2): our sessions run the ML-KEM braid with libsignal-client in both roles.
// The epoch on the wire is read by libsignal's own accessor (`SignalMessage.deserialize(..).pqRatchet()`,
// epoch = the varint after the version byte) and compared with two libsignal peers over the same
// pattern; loss, reordering and one-sided traffic still decrypt every delivered message and advance
// epochs; 0.90.0 (which negotiates SPQR down to V0 until it hears V1) keeps working in both roles.
import { decodeVarint } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { describe, expect, it } from 'vitest';
import { type LibHandle, libs, type RawWireMessage } from '../src/libsignal.js';
import { libEndpoint, ourEndpoint } from './ratchet-endpoints.js';
import { baseSeed, createRng, type Endpoint, type Rng, seedFor } from './ratchet-scenario.js';

const seed = baseSeed();
const enc = new TextEncoder();
const dec = new TextDecoder();
const reader = libs.lib103;

/** The SCKA epoch of a message as libsignal-client 0.103.0 reads its `pq_ratchet` field (0 = none). */
function wireEpoch(m: RawWireMessage): number {
  if (m.type !== 'whisper') return 0;
  const pq = reader.mod.SignalMessage.deserialize(new Uint8Array(m.body)).pqRatchet();
  if (pq.length < 2 || pq[0] !== 1) return 0;
  return decodeVarint(pq, 1).value;
}

interface Epochs {
  aToB: number;
  bToA: number;
}

async function connect(a: Endpoint, b: Endpoint): Promise<void> {
  await a.processBundle(b.address, await b.createBundle());
}

async function deliver(from: Endpoint, to: Endpoint, m: RawWireMessage, text: string): Promise<void> {
  expect(dec.decode(await to.decrypt(from.address, m))).toBe(text);
}

/** `n` strictly alternating messages a→b, b→a, …; the highest wire epoch seen in each direction. */
async function alternate(a: Endpoint, b: Endpoint, n: number): Promise<Epochs> {
  const e: Epochs = { aToB: 0, bToA: 0 };
  for (let i = 0; i < n; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    const text = `m${i}`;
    const m = await from.encrypt(to.address, enc.encode(text));
    const epoch = wireEpoch(m);
    if (from === a) e.aToB = Math.max(e.aToB, epoch);
    else e.bToA = Math.max(e.bToA, epoch);
    await deliver(from, to, m, text);
  }
  return e;
}

/**
 * A hostile network: bursts from a random side (sometimes long one-sided runs), 10 % of messages lost,
 * the rest delivered in a shuffled order within a window. Every delivered message must decrypt.
 */
async function lossy(a: Endpoint, b: Endpoint, rounds: number, rng: Rng): Promise<Epochs & { lost: number }> {
  const e = { aToB: 0, bToA: 0, lost: 0 };
  let k = 0;
  for (let r = 0; r < rounds; r++) {
    const aSends = rng.chance(0.5);
    const [from, to] = aSends ? [a, b] : [b, a];
    const burst = r % 10 === 9 ? 40 : 1 + rng.int(4);
    const queue: { m: RawWireMessage; text: string }[] = [];
    for (let i = 0; i < burst; i++) {
      const text = `x${k++}`;
      const m = await from.encrypt(to.address, enc.encode(text));
      const epoch = wireEpoch(m);
      if (aSends) e.aToB = Math.max(e.aToB, epoch);
      else e.bToA = Math.max(e.bToA, epoch);
      if (rng.chance(0.1)) e.lost++;
      else queue.push({ m, text });
    }
    for (let i = queue.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [queue[i], queue[j]] = [queue[j] as (typeof queue)[number], queue[i] as (typeof queue)[number]];
    }
    for (const q of queue) await deliver(from, to, q.m, q.text);
  }
  return e;
}

const ours = () => ourEndpoint({ provider: nodeProvider, providerLabel: 'node' });
const lib = (l: LibHandle) => libEndpoint(l, { name: crypto.randomUUID() });

// Libsignal ↔ libsignal over the same pattern: the pace to match.
const N = 400;
let reference: Epochs | undefined;
async function libPace(): Promise<Epochs> {
  if (!reference) {
    const a = lib(libs.lib103);
    const b = lib(libs.lib103);
    await connect(a, b);
    reference = await alternate(a, b, N);
  }
  return reference;
}

describe('SPQR braid with libsignal-client 0.103.0, live', () => {
  it(`libsignal ↔ libsignal: ${N} alternating messages advance the epoch beyond 2 both ways`, async () => {
    const ref = await libPace();
    expect(ref.aToB).toBeGreaterThan(2);
    expect(ref.bToA).toBeGreaterThan(2);
  });

  it.each(['initiator', 'responder'] as const)(
    `ours as %s: the wire epoch advances as fast as between two libsignal peers`,
    async (role) => {
      const us = await ours();
      const them = lib(libs.lib103);
      const [a, b] = role === 'initiator' ? [us, them] : [them, us];
      await connect(a, b);
      const got = await alternate(a, b, N);
      const ref = await libPace();
      console.log(
        `[spqr] ${N} alternating, ours as ${role}: epochs ${JSON.stringify(got)}, libsignal pair ${JSON.stringify(ref)}`,
      );
      expect(got.aToB).toBeGreaterThan(2);
      expect(got.bToA).toBeGreaterThan(2);
      expect(got.aToB).toBeGreaterThanOrEqual(ref.aToB);
      expect(got.bToA).toBeGreaterThanOrEqual(ref.bToA);
    },
  );

  it.each(['initiator', 'responder'] as const)(
    'ours as %s: 10 percent loss, reordering and one-sided bursts — every delivered message decrypts, epochs advance',
    async (role) => {
      const rng = createRng(seedFor(seed, `spqr-lossy-${role}`));
      const us = await ours();
      const them = lib(libs.lib103);
      const [a, b] = role === 'initiator' ? [us, them] : [them, us];
      await connect(a, b);
      await alternate(a, b, 2); // the PreKey phase ends: both sides have a session
      const got = await lossy(a, b, 220, rng);
      console.log(`[spqr] lossy, ours as ${role}: ${JSON.stringify(got)}`);
      expect(got.lost).toBeGreaterThan(0);
      expect(got.aToB).toBeGreaterThan(2);
      expect(got.bToA).toBeGreaterThan(2);
    },
  );
});

describe('SPQR with libsignal-client 0.90.0 (negotiates down until it hears V1), live', () => {
  it.each(['initiator', 'responder'] as const)(
    'ours as %s: every message decrypts both ways and the braid still runs',
    async (role) => {
      const us = await ours();
      const them = lib(libs.lib90);
      const [a, b] = role === 'initiator' ? [us, them] : [them, us];
      await connect(a, b);
      const got = await alternate(a, b, 300);
      console.log(`[spqr] 0.90.0, ours as ${role}: epochs ${JSON.stringify(got)}`);
      expect(got.aToB).toBeGreaterThan(2);
      expect(got.bToA).toBeGreaterThan(2);
    },
  );
});
