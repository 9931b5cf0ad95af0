// The SPQR state codec keeps recently written/read states by their exact bytes (spqr/codec.ts): a load
// of those bytes returns the kept state, anything else is decoded and checked afresh. These tests pin
// that a kept state is never answered for bytes that differ, that callers' arrays are never the kept
// copy, and that a kept state and a fresh decode of the same bytes behave identically.
import { DecodeError, nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { SpqrErrorCode } from '../src/spqr/errors.js';
import { initSpqr, spqrRecv, spqrSend } from '../src/spqr/ratchet.js';
import { SpqrState } from '../src/spqr/state.js';

const provider = nobleProvider;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

interface Step {
  /** A receiver's state before a message, and that message's `pq_ratchet` bytes. */
  state: SpqrState;
  pq: Uint8Array;
}

/** A conversation far enough for encoders, decoders and skipped keys to be in the states. */
async function conversation(messages: number): Promise<{ states: SpqrState[]; steps: Step[] }> {
  const auth = new Uint8Array(32).fill(0x5a);
  let a = await initSpqr(auth, 'initiator', provider);
  let b = await initSpqr(auth, 'responder', provider);
  const states: SpqrState[] = [];
  const steps: Step[] = [];
  for (let i = 0; i < messages; i++) {
    const sent = await spqrSend(i % 2 === 0 ? a : b, provider);
    if (i % 2 === 0) a = sent.state;
    else b = sent.state;
    // Every tenth message is lost: the receiver walks past it and keeps its skipped key.
    if (i % 10 === 0) continue;
    const to = i % 2 === 0 ? b : a;
    steps.push({ state: to, pq: sent.pqRatchet });
    const got = (await spqrRecv(to, sent.pqRatchet, provider)).state;
    if (i % 2 === 0) b = got;
    else a = got;
    states.push(a, b);
  }
  return { states, steps };
}

/** Decodes `bytes` past the kept states: more states than are kept go through the codec first. */
async function decodeFresh(bytes: Uint8Array): Promise<SpqrState> {
  for (let i = 0; i < 12; i++) {
    const filler = await initSpqr(new Uint8Array(32).fill(i), 'initiator', provider);
    SpqrState.deserialize(filler.serialize());
  }
  return SpqrState.deserialize(bytes);
}

describe('SPQR state cache', () => {
  it('equal bytes in a new array give the same state; one changed byte never does', async () => {
    const { states } = await conversation(40);
    const s = states[states.length - 1] as SpqrState;
    const bytes = s.serialize();
    expect(SpqrState.deserialize(bytes.slice())).toBe(s);
    for (let at = 0; at < bytes.length; at += 7) {
      const changed = bytes.slice();
      changed[at] = (changed[at] as number) ^ 0x01;
      let got: SpqrState | undefined;
      try {
        got = SpqrState.deserialize(changed);
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError);
        expect((e as DecodeError).code).toBe(SpqrErrorCode.StateDecode);
        continue;
      }
      expect(got).not.toBe(s);
      expect(hex(got.serialize())).toBe(hex(changed));
    }
    // A shorter or longer array with the same prefix is not the state either.
    expect(() => SpqrState.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow(DecodeError);
    const longer = new Uint8Array(bytes.length + 2);
    longer.set(bytes);
    expect(() => SpqrState.deserialize(longer)).toThrow(DecodeError);
  });

  it('bytes at any offset of a larger array hit; a change at any single position (words and tail) misses', async () => {
    const { states } = await conversation(30);
    for (const s of states.slice(-4)) {
      const bytes = s.serialize();
      for (let shift = 0; shift < 8; shift++) {
        const outer = new Uint8Array(bytes.length + 16).fill(0xa5);
        outer.set(bytes, shift);
        expect(SpqrState.deserialize(outer.subarray(shift, shift + bytes.length))).toBe(s);
      }
      // Every position of a misaligned copy, including the last (length mod 4) bytes after the words.
      const outer = new Uint8Array(bytes.length + 3);
      for (let at = 0; at < bytes.length; at++) {
        outer.set(bytes, 3);
        outer[3 + at] = (outer[3 + at] as number) ^ 0x80;
        let got: SpqrState | undefined;
        try {
          got = SpqrState.deserialize(outer.subarray(3));
        } catch {
          continue;
        }
        expect(got).not.toBe(s);
      }
    }
  });

  it("callers' arrays are copies: changing one changes neither the state nor what it loads from", async () => {
    const { states } = await conversation(20);
    const s = states[states.length - 1] as SpqrState;
    const written = s.serialize();
    const want = hex(written);
    written.fill(0);
    expect(hex(s.serialize())).toBe(want);
    const input = s.serialize();
    const loaded = SpqrState.deserialize(input);
    input.fill(0xff);
    expect(hex(loaded.serialize())).toBe(want);
    expect(SpqrState.deserialize(s.serialize())).toBe(loaded);
  });

  it('malformed bytes are refused on every load, never remembered', () => {
    const junk = Uint8Array.of(0x08, 0x01, 0x10, 0x01, 0x1a, 0x00);
    for (let i = 0; i < 3; i++) expect(() => SpqrState.deserialize(junk)).toThrow(DecodeError);
  });

  it('a kept state and a fresh decode of its bytes receive the next message identically', async () => {
    const { steps } = await conversation(120);
    const picked = steps.filter((_, i) => i % 7 === 0);
    expect(picked.length).toBeGreaterThan(10);
    for (const { state, pq } of picked) {
      const bytes = state.serialize();
      const kept = SpqrState.deserialize(bytes.slice());
      const fresh = await decodeFresh(bytes.slice());
      expect(fresh).not.toBe(kept);
      expect(hex(fresh.serialize())).toBe(hex(bytes));
      const a = await spqrRecv(kept, pq, provider);
      const b = await spqrRecv(fresh, pq, provider);
      expect(hex(a.messageKey ?? new Uint8Array(0))).toBe(hex(b.messageKey ?? new Uint8Array(0)));
      expect(hex(a.state.serialize())).toBe(hex(b.state.serialize()));
    }
  });
});
