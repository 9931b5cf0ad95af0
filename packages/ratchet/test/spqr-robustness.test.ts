// Hostile and malformed SPQR input: typed errors, no state change, bounded work, no secret in
// inspect/toString/JSON, no view kept of the caller's bytes. States come from replaying libsignal's
// capture; tampered messages are libsignal's own with one field changed.
import { inspect } from 'node:util';
import { DecodeError, E2eeError, nobleProvider } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BraidTag } from '../src/spqr/braid.js';
import { SpqrErrorCode } from '../src/spqr/errors.js';
import { PayloadType, parseSpqrMessage, serializeSpqrMessage } from '../src/spqr/message.js';
import { initSpqr, spqrRecv, spqrSend } from '../src/spqr/ratchet.js';
import { SpqrState, stateData } from '../src/spqr/state.js';
import { replaySnapshots } from './fixtures/spqr/snapshots.js';
import { authKey, messages } from './fixtures/spqr/vector.js';

const provider = nobleProvider;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

/** Receives `pq`; on failure the error must be typed and the state byte-identical; input untouched. */
async function recvChecked(state: SpqrState, pq: Uint8Array) {
  const before = hex(state.serialize());
  const input = hex(pq);
  try {
    return await spqrRecv(state, pq, provider);
  } catch (e) {
    expect(E2eeError.is(e), String(e)).toBe(true);
    return e as E2eeError;
  } finally {
    expect(hex(state.serialize())).toBe(before);
    expect(hex(pq)).toBe(input);
  }
}

function tamperChunk(pq: Uint8Array, at = 0): Uint8Array {
  const out = pq.slice();
  out[out.length - 1 - at]! ^= 0x01;
  return out;
}

describe('SPQR robustness', () => {
  it('garbage pq_ratchet bytes: parse or DecodeError, never anything else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        try {
          const m = parseSpqrMessage(b);
          expect(parseSpqrMessage(serializeSpqrMessage(m))).toEqual(m);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          expect((e as DecodeError).code).toBe(SpqrErrorCode.MessageDecode);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('garbage and mutated messages against every replayed state: typed error or success, state unchanged on error', async () => {
    const snaps = await replaySnapshots();
    expect(new Set(snaps.map((s) => s.tag)).size).toBeGreaterThanOrEqual(9);
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: snaps.length - 1 }),
        fc.oneof(
          fc.uint8Array({ maxLength: 48 }).map((b) => Uint8Array.of(1, ...b)),
          fc
            .record({ n: fc.nat({ max: 179 }), at: fc.nat({ max: 40 }), bit: fc.nat({ max: 7 }) })
            .map(({ n, at, bit }) => {
              const pq = messages[n]!.pq.slice();
              if (at < pq.length) pq[at]! ^= 1 << bit;
              return pq;
            }),
          fc
            .record({ n: fc.nat({ max: 179 }), cut: fc.nat({ max: 40 }) })
            .map(({ n, cut }) => messages[n]!.pq.slice(0, cut)),
        ),
        async (i, pq) => {
          const s = snaps[i]!;
          await recvChecked(s.state, pq);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('version handling as libsignal 0.103.0 (spqr.md §6.3): empty and V0 refused, other versions read as V1 until the first receive, refused after', async () => {
    const s = await initSpqr(authKey, 'responder', provider);
    for (const pq of [new Uint8Array(0), Uint8Array.of(0), Uint8Array.of(0, 1, 1, 0)]) {
      const e = await recvChecked(s, pq);
      expect(E2eeError.is(e, SpqrErrorCode.MinimumVersion)).toBe(true);
    }
    // Negotiation open: `02 01 01 00` is parsed like V1 and salted with key(1), as 0.103.0 accepts it.
    const r = await recvChecked(s, Uint8Array.of(2, 1, 1, 0));
    const v1 = await recvChecked(s, Uint8Array.of(1, 1, 1, 0));
    expect(r).not.toBeInstanceOf(Error);
    expect((r as { messageKey: Uint8Array }).messageKey).toEqual(
      (v1 as { messageKey: Uint8Array }).messageKey,
    );
    // One byte `02`: message decode failed (0.103.0 too).
    expect(E2eeError.is(await recvChecked(s, Uint8Array.of(2)), SpqrErrorCode.MessageDecode)).toBe(true);
    // After a successful receive: `Version mismatch after negotiation`.
    const after = (v1 as { state: SpqrState }).state;
    const e = await recvChecked(after, Uint8Array.of(2, 1, 2, 0));
    expect(E2eeError.is(e, SpqrErrorCode.VersionMismatch)).toBe(true);
  });

  it('a stored dk whose H(ek) is corrupt loads (checked once per epoch, not per load) and is refused at decapsulation', async () => {
    const snaps = await replaySnapshots();
    const a = snaps.find((x) => x.side === 'A' && x.tag === BraidTag.EkSentCt1Received)!;
    let sa = a.state;
    for (let n = a.next; n < 85; n++)
      if (messages[n]!.from === 'B') sa = (await spqrRecv(sa, messages[n]!.pq, provider)).state;
    const d = stateData(sa).braid as { keys: { dk: Uint8Array } };
    const bytes = sa.serialize();
    const at = Buffer.from(bytes).indexOf(Buffer.from(d.keys.dk.subarray(2336, 2368)));
    expect(at).toBeGreaterThan(0);
    const corrupt = bytes.slice();
    corrupt[at]! ^= 1;
    const loaded = SpqrState.deserialize(corrupt);
    const e = await recvChecked(loaded, messages[85]!.pq);
    expect(E2eeError.is(e, SpqrErrorCode.ErroneousData), String(e)).toBe(true);
    // The intact state completes the epoch with the same message.
    expect((await spqrRecv(sa, messages[85]!.pq, provider)).state.epoch).toBe(2);
  });

  it('a bad header MAC, a bad ciphertext MAC and an ek not matching its header are refused, state unchanged', async () => {
    const snaps = await replaySnapshots();
    const at = (side: 'A' | 'B', tag: number) => snaps.find((s) => s.side === side && s.tag === tag)!;
    // B before the third header chunk (the MAC chunk, message 4).
    const b = at('B', BraidTag.NoHeaderReceived);
    expect(b.next).toBe(0);
    let st = b.state;
    for (const n of [0, 2]) st = (await spqrRecv(st, messages[n]!.pq, provider)).state;
    expect(
      E2eeError.is(await recvChecked(st, tamperChunk(messages[4]!.pq)), SpqrErrorCode.MacVerifyFailed),
    ).toBe(true);
    expect(
      E2eeError.is(await recvChecked(st, tamperChunk(messages[4]!.pq, 31)), SpqrErrorCode.MacVerifyFailed),
    ).toBe(true);
    expect(hex((await spqrRecv(st, messages[4]!.pq, provider)).messageKey!)).toHaveLength(64);
    // A waiting for the last ct2 chunk (message 85): a flipped ct2 byte breaks the ctMAC.
    const a = at('A', BraidTag.EkSentCt1Received);
    let sa = a.state;
    for (let n = a.next; n < 85; n++)
      if (messages[n]!.from === 'B') sa = (await spqrRecv(sa, messages[n]!.pq, provider)).state;
    expect(
      E2eeError.is(await recvChecked(sa, tamperChunk(messages[85]!.pq)), SpqrErrorCode.MacVerifyFailed),
    ).toBe(true);
    expect((await spqrRecv(sa, messages[85]!.pq, provider)).state.epoch).toBe(2);
    // B (ct side) about to complete the ek: a flipped ek byte no longer matches hdr's H(ek).
    const bc = at('B', BraidTag.Ct1Acknowledged);
    let sb = bc.state;
    let last = -1;
    for (let n = bc.next; n < 90 && last < 0; n++) {
      const m = messages[n]!;
      if (m.from !== 'A') continue;
      const r = await spqrRecv(sb, m.pq, provider);
      if (stateData(r.state).braid.tag === BraidTag.Ct1Acknowledged) sb = r.state;
      else last = n; // this chunk completes the ek
    }
    expect(last).toBeGreaterThan(0);
    const e = await recvChecked(sb, tamperChunk(messages[last]!.pq, 5));
    expect(E2eeError.is(e, SpqrErrorCode.ErroneousData)).toBe(true);
  });

  it('wrong epochs, wrong indexes, oversized payloads: typed errors or ignored, bounded', async () => {
    const s = await initSpqr(authKey, 'responder', provider);
    const msg = (epoch: number, index: number, type: PayloadType = PayloadType.None, chunkIndex = 0) =>
      serializeSpqrMessage({
        epoch,
        index,
        type,
        ...(type === 0 || type === 4 ? {} : { chunk: { index: chunkIndex, data: new Uint8Array(32) } }),
      });
    expect(E2eeError.is(await recvChecked(s, msg(2, 1)), SpqrErrorCode.EpochOutOfRange)).toBe(true);
    expect(E2eeError.is(await recvChecked(s, msg(2 ** 40, 1)), SpqrErrorCode.EpochOutOfRange)).toBe(true);
    expect(
      E2eeError.is(
        await recvChecked(s, Uint8Array.of(1, ...Array(9).fill(0xff), 1, 1, 0)),
        SpqrErrorCode.MessageDecode,
      ),
    ).toBe(true);
    expect(
      E2eeError.is(
        await recvChecked(s, Uint8Array.of(1, 1, 0xff, 0xff, 0xff, 0xff, 0x10, 0)),
        SpqrErrorCode.MessageDecode,
      ),
    ).toBe(true); // index 2^32
    expect(
      E2eeError.is(
        await recvChecked(s, Uint8Array.of(1, 1, 1, 1, 0x80, 0x80, 0x04, ...new Uint8Array(32))),
        SpqrErrorCode.MessageDecode,
      ),
    ).toBe(true); // chunk 65 536
    expect(E2eeError.is(await recvChecked(s, Uint8Array.of(1, 1, 1, 7)), SpqrErrorCode.MessageDecode)).toBe(
      true,
    );
    expect(
      E2eeError.is(await recvChecked(s, Uint8Array.of(1, 1, 1, 1, 0, 1, 2)), SpqrErrorCode.MessageDecode),
    ).toBe(true);
    expect(E2eeError.is(await recvChecked(s, msg(1, 25_001)), SpqrErrorCode.KeyJump)).toBe(true);
    // Trailing bytes are ignored (libsignal allows them), even a megabyte of them.
    const big = new Uint8Array(1 << 20);
    big.set(msg(1, 1));
    const r = await recvChecked(s, big);
    expect(r).not.toBeInstanceOf(Error);
    // Index 0 at epoch 1 means "no key"; index 0 later is refused.
    expect(((await recvChecked(s, msg(1, 0))) as { messageKey?: unknown }).messageKey).toBeUndefined();
  });

  it('chain limits as observed on libsignal (spec §5.3): jump 25 000 accepted, 25 001 refused; 2 000 behind accepted, 2 001 trimmed', async () => {
    const s = await initSpqr(authKey, 'responder', provider);
    const at = (index: number) => serializeSpqrMessage({ epoch: 1, index, type: PayloadType.None });
    expect(E2eeError.is(await recvChecked(s, at(25_001)), SpqrErrorCode.KeyJump)).toBe(true);
    expect(await recvChecked(s, at(25_000))).not.toBeInstanceOf(Error);
    const r = (await recvChecked(s, at(2_002))) as { state: SpqrState };
    expect(await recvChecked(r.state, at(2))).not.toBeInstanceOf(Error);
    expect(E2eeError.is(await recvChecked(r.state, at(1)), SpqrErrorCode.KeyTrimmed)).toBe(true);
    expect(E2eeError.is(await recvChecked(r.state, at(2_002)), SpqrErrorCode.KeyAlreadyRequested)).toBe(true);
  });

  it('a late message decrypts while its chain epoch is kept and is refused (typed) once the receiver dropped it', async () => {
    let a = await initSpqr(authKey, 'initiator', provider);
    let b = await initSpqr(authKey, 'responder', provider);
    const held: { pq: Uint8Array; key: Uint8Array }[] = [];
    let early: boolean | undefined;
    for (let n = 0; n < 400 && b.sendEpoch < 2; n++) {
      const x = await spqrSend(a, provider);
      a = x.state;
      if (n < 2) held.push({ pq: x.pqRatchet, key: x.messageKey });
      else b = (await spqrRecv(b, x.pqRatchet, provider)).state;
      const y = await spqrSend(b, provider);
      b = y.state;
      a = (await spqrRecv(a, y.pqRatchet, provider)).state;
      if (b.sendEpoch === 1 && early === undefined) {
        const r = await spqrRecv(b, held[0]!.pq, provider);
        early = hex(r.messageKey!) === hex(held[0]!.key);
        b = r.state;
      }
    }
    expect(early).toBe(true);
    expect(b.sendEpoch).toBe(2);
    expect(E2eeError.is(await recvChecked(b, held[1]!.pq), SpqrErrorCode.EpochOutOfRange)).toBe(true);
  });

  it('a flood of distinct header chunks keeps the decoder bounded and every failure typed', async () => {
    let s = await initSpqr(authKey, 'responder', provider);
    let errors = 0;
    for (let i = 1; i <= 400; i++) {
      const pq = serializeSpqrMessage({
        epoch: 1,
        index: i,
        type: PayloadType.Hdr,
        chunk: { index: (i * 7919) % 65536, data: new Uint8Array(32).fill(i & 0xff) },
      });
      const r = await recvChecked(s, pq);
      if (r instanceof Error) errors++;
      else s = r.state;
    }
    expect(errors).toBeGreaterThan(0); // every completed garbage header fails its MAC
    const b = stateData(s).braid;
    expect(b.tag).toBe(BraidTag.NoHeaderReceived);
    if (b.tag === BraidTag.NoHeaderReceived)
      for (const p of b.hdrDec.points()) expect(p.length).toBeLessThanOrEqual(6);
  });

  it('state records: garbage and mutations give SPQR_STATE_DECODE or a usable state', async () => {
    const snaps = await replaySnapshots();
    const records = snaps.map((s) => s.state.serialize());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .record({
              i: fc.nat({ max: records.length - 1 }),
              at: fc.nat({ max: 9000 }),
              bit: fc.nat({ max: 7 }),
            })
            .map(({ i, at, bit }) => {
              const r = records[i]!.slice();
              r[at % r.length]! ^= 1 << bit;
              return r;
            }),
          fc
            .record({ i: fc.nat({ max: records.length - 1 }), cut: fc.nat({ max: 9000 }) })
            .map(({ i, cut }) => records[i]!.slice(0, cut % records[i]!.length)),
        ),
        async (bytes) => {
          let s: SpqrState;
          try {
            s = SpqrState.deserialize(bytes);
          } catch (e) {
            expect(e).toBeInstanceOf(DecodeError);
            expect((e as DecodeError).code).toBe(SpqrErrorCode.StateDecode);
            return;
          }
          expect(hex(SpqrState.deserialize(s.serialize()).serialize())).toBe(hex(s.serialize()));
          const e = await failure(spqrSend(s, provider));
          if (e !== undefined) expect(E2eeError.is(e), String(e)).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('format version and frozen record: unknown versions refused, the v1 fixture loads and continues', async () => {
    const s = await initSpqr(authKey, 'initiator', provider);
    const bytes = s.serialize();
    const wrong = bytes.slice();
    expect(wrong[0]).toBe(0x08);
    wrong[1] = 2;
    expect(() => SpqrState.deserialize(wrong)).toThrow(DecodeError);
    const again = SpqrState.deserialize(bytes);
    const r1 = await spqrSend(again, provider);
    expect(parseSpqrMessage(r1.pqRatchet).type).toBe(PayloadType.Hdr);
  });

  it('no secret in toString, JSON or util.inspect; no view kept of the caller’s bytes', async () => {
    const snaps = await replaySnapshots();
    for (const { state } of snaps) {
      const text = `${inspect(state)} ${String(state)} ${JSON.stringify({ state })}`;
      expect(text).toMatch(
        /^SpqrState\(epoch \d\) SpqrState\(epoch \d\) \{"state":"SpqrState\(epoch \d\)"\}$/,
      );
    }
    // A pooled Buffer view of a header chunk, overwritten after the call: the state does not change.
    const s = await initSpqr(authKey, 'responder', provider);
    const pool = Buffer.alloc(4096);
    const view = pool.subarray(100, 100 + messages[0]!.pq.length);
    view.set(messages[0]!.pq);
    const r = await spqrRecv(s, view, provider);
    const before = hex(r.state.serialize());
    pool.fill(0xee);
    expect(hex(r.state.serialize())).toBe(before);
  });
});
