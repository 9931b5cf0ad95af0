// A damaged stored SessionRecord (bit flips, truncation, bytes cut out — a disk, a sync or a restore
// gone wrong) is either a DecodeError when read, or a record every use of which ends in a result or a
// typed error with the stored bytes unchanged on failure. Unlike codecs.test.ts (decoding alone), the
// record here holds archived states (decoded only when a message needs them) with SPQR braids in
// different states, and each decodable variant is used: encrypt, a forged message (every state tried),
// a genuine one, and a repeated PreKey message of an archived session (matched by base key).
import { DecodeError, E2eeError, platformProvider, toHex } from '@e2ee-kit/core';
import { type EncryptedMessage, SessionRecord } from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { forgedSignalMessage } from './forgery.js';
import { establishedPair, type Pair, roundTrip, snap, utf8 } from './helpers.js';

const provider = platformProvider;
let p: Pair;
let bytes: Uint8Array;
/** The PreKey message that started the (now archived) middle session: a repeat is matched by base key. */
let firstOfArchived: EncryptedMessage;

beforeAll(async () => {
  p = await establishedPair(provider);
  // Two more sessions started by Alice: Bob's record archives the older ones.
  for (let i = 0; i < 2; i++) {
    await p.a.initiate(await p.bob.bundle());
    const first = await roundTrip(p.a, p.b, `session ${i}`);
    if (i === 0) firstOfArchived = first;
    await roundTrip(p.b, p.a, `reply ${i}`);
    await roundTrip(p.a, p.b, `more ${i}`);
  }
  const record = (await p.bob.store.getSession(p.alice.address)) as SessionRecord;
  expect(record.archivedStateCount).toBe(2);
  bytes = record.serialize();
});

type Damage = { flips: { at: number; bit: number }[]; cut?: { at: number; n: number }; end?: number };

/** Bit flips (most runs: they keep the record decodable), or a byte range cut out, or a truncation. */
const damage = (len: number): fc.Arbitrary<Damage> => {
  const flip = fc.record({ at: fc.nat(len - 1), bit: fc.nat(7) });
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(flip, { minLength: 1, maxLength: 3 }).map((flips) => ({ flips })) },
    {
      weight: 1,
      arbitrary: fc
        .record({ at: fc.nat(len - 1), n: fc.integer({ min: 1, max: 40 }) })
        .map((cut) => ({ flips: [], cut })),
    },
    { weight: 1, arbitrary: fc.nat(len - 1).map((end) => ({ flips: [], end })) },
  );
};

function apply(b: Uint8Array, d: Damage): Uint8Array {
  const out = Array.from(b);
  for (const f of d.flips) out[f.at] = (out[f.at] as number) ^ (1 << f.bit);
  if (d.cut) out.splice(d.cut.at, d.cut.n);
  return Uint8Array.from(d.end === undefined ? out : out.slice(0, d.end));
}

/** Runs `op` on Bob's side with `record` stored: a result, or a typed error and nothing changed. */
async function typedOrDone(record: SessionRecord, op: () => Promise<unknown>): Promise<boolean> {
  await p.bob.store.saveSession(p.alice.address, record);
  const before = snap(p.bob.store);
  try {
    await op();
    return true;
  } catch (e) {
    expect(E2eeError.is(e), String(e)).toBe(true);
    expect(snap(p.bob.store)).toBe(before);
    return false;
  }
}

describe('damaged stored SessionRecords', () => {
  it('decode to DecodeError, or every use is a result or a typed error with nothing changed', async () => {
    let decoded = 0;
    await fc.assert(
      fc.asyncProperty(damage(bytes.length), async (d) => {
        const input = apply(bytes, d);
        let record: SessionRecord;
        try {
          record = SessionRecord.deserialize(input);
        } catch (e) {
          if (!(e instanceof DecodeError))
            throw new Error(`not a DecodeError: ${String(e)} for ${toHex(input)}`);
          return;
        }
        decoded++;
        await typedOrDone(record, () => p.b.encrypt(utf8('from a damaged record')));
        const forged = await forgedSignalMessage(provider, 1);
        expect(
          await typedOrDone(record, () => p.b.decrypt({ type: 'whisper', body: forged.serialize() })),
        ).toBe(false);
        await typedOrDone(record, async () => p.b.decrypt(await p.a.encrypt(utf8('genuine'))));
        await typedOrDone(record, () => p.b.decrypt(firstOfArchived));
      }),
      { numRuns: 250 },
    );
    // Most damage lands in key bytes, which decode: the uses above are what is being tested.
    expect(decoded).toBeGreaterThan(50);
  }, 120_000);
});
