// Session records read back from storage that this library could not have written as they are (edited,
// crafted, restored from elsewhere): they decode to a typed DecodeError or to a state whose every use
// ends in a result or a typed error, with the stored bytes unchanged on failure.
import { DecodeError, E2eeError, platformProvider, SessionNotFoundError, toHex } from '@e2ee-kit/core';
import {
  ARCHIVED_STATES_MAX_BYTES,
  ARCHIVED_STATES_MAX_LENGTH,
  MAX_MESSAGE_KEYS,
  type SessionCipher,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import type { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionState } from '../src/records/session-state.js';
import { spqrSkippedKeyCount } from '../src/spqr/archive.js';
import { type Chain, cloneChain, DEFAULT_MAX_OOO_KEYS } from '../src/spqr/chain.js';
import { encodeSpqrState } from '../src/spqr/codec-write.js';
import { SpqrErrorCode } from '../src/spqr/errors.js';
import { initSpqr, spqrRecv, spqrSend } from '../src/spqr/ratchet.js';
import { SpqrState, stateData } from '../src/spqr/state.js';
import { establishedPair, type Pair, rejectsWithoutChange, utf8 } from './helpers.js';

const provider = platformProvider;
let p: Pair;
let original: SessionRecord;

beforeAll(async () => {
  p = await establishedPair(provider);
  original = (await p.bob.store.getSession(p.alice.address)) as SessionRecord;
});

/** Stores Bob's current state as edited by `edit` (through the record's bytes, as a store would). */
async function storeEdited(edit: (s: SessionState) => void): Promise<void> {
  const s = (original.currentState as SessionState).clone();
  edit(s);
  const bytes = SessionRecord.fromParts(s, original.previousStates).serialize();
  await p.bob.store.saveSession(p.alice.address, SessionRecord.deserialize(bytes));
}

async function encryptRefused(store: InMemoryProtocolStore, cipher: SessionCipher): Promise<E2eeError> {
  const err = await rejectsWithoutChange([store], () => cipher.encrypt(utf8('x')));
  expect(E2eeError.is(err), String(err)).toBe(true);
  return err as E2eeError;
}

describe('stored records: exhausted counters', () => {
  it('a sending chain at index 2^32 − 1 is SessionNotFoundError before any work, and hasSession is false', async () => {
    await storeEdited((s) => {
      const sender = s.senderChain as NonNullable<SessionState['senderChain']>;
      s.senderChain = { ...sender, chainKey: { ...sender.chainKey, index: 0xffff_ffff } };
    });
    expect(await encryptRefused(p.bob.store, p.b)).toBeInstanceOf(SessionNotFoundError);
    expect(await p.b.hasSession()).toBe(false);
    // One below is the last message the chain can send.
    await storeEdited((s) => {
      const sender = s.senderChain as NonNullable<SessionState['senderChain']>;
      s.senderChain = { ...sender, chainKey: { ...sender.chainKey, index: 0xffff_fffe } };
    });
    expect(await p.b.hasSession()).toBe(true);
    expect((await p.b.encrypt(utf8('the last one'))).type).toBe('whisper');
    expect(await p.b.hasSession()).toBe(false);
    await encryptRefused(p.bob.store, p.b);
    await p.bob.store.saveSession(p.alice.address, original);
  });

  it('an SPQR-lite send counter at 2^32 − 1 is SPQR_COUNTER_EXHAUSTED (as the braid), nothing written', async () => {
    await storeEdited((s) => {
      s.braid = undefined;
      s.spqr = {
        a2b: false,
        sendCtr: 0xffff_ffff,
        sendNext: new Uint8Array(32).fill(1),
        recvCtr: 0,
        recvNext: new Uint8Array(32).fill(2),
        recvPrev: new Map(),
      };
    });
    const err = await encryptRefused(p.bob.store, p.b);
    expect(err.code).toBe(SpqrErrorCode.CounterExhausted);
    await p.bob.store.saveSession(p.alice.address, original);
  });
});

/** The current state with its SPQR chain changed by `edit` (a copy: the original is kept). */
function withChain(s: SessionState, edit: (c: Chain) => void): void {
  const d = stateData(s.braid as SpqrState);
  const chain = cloneChain(d.chain);
  edit(chain);
  s.braid = SpqrState._create({ ...d, chain });
}

function decodes(edit: (s: SessionState) => void): unknown {
  const s = (original.currentState as SessionState).clone();
  edit(s);
  try {
    SessionRecord.deserialize(SessionRecord.fromParts(s, []).serialize());
    return undefined;
  } catch (e) {
    return e;
  }
}

describe('stored records: caps a peer could grow past', () => {
  it(`an SPQR chain keeping more than libsignal's ${DEFAULT_MAX_OOO_KEYS} out-of-order keys is a DecodeError`, () => {
    // Every session's chain is made with libsignal's default; a record claiming more would let the peer
    // make us keep up to 110,001 keys per epoch (4 MB) instead of 2,201.
    expect(DEFAULT_MAX_OOO_KEYS).toBe(MAX_MESSAGE_KEYS);
    expect(stateData(original.currentState?.braid as SpqrState).chain.maxOooKeys).toBe(DEFAULT_MAX_OOO_KEYS);
    for (const n of [DEFAULT_MAX_OOO_KEYS + 1, 100_000]) {
      const err = decodes((s) => withChain(s, (c) => (c.maxOooKeys = n)));
      expect(err).toBeInstanceOf(DecodeError);
    }
    expect(decodes((s) => withChain(s, (c) => (c.maxOooKeys = DEFAULT_MAX_OOO_KEYS)))).toBeUndefined();
  });

  it('skipped keys on an SPQR sending direction (never written, not counted by the archive caps) are refused', () => {
    const s = (original.currentState as SessionState).clone();
    withChain(s, (c) => {
      const last = c.links.length - 1;
      const l = c.links[last] as Chain['links'][number];
      c.links[last] = { recv: l.recv, send: { ...l.send, ctr: 5, prev: new Map([[1, new Uint8Array(32)]]) } };
    });
    expect(spqrSkippedKeyCount(s.braid as SpqrState)).toBe(0);
    // Written by the codec's writer alone: bytes the state cache has never seen, so they are decoded.
    const err = (() => {
      try {
        SpqrState.deserialize(encodeSpqrState(stateData(s.braid as SpqrState)));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).code).toBe(SpqrErrorCode.StateDecode);
    // The same state without them decodes.
    const plain = stateData(original.currentState?.braid as SpqrState);
    expect(() => SpqrState.deserialize(encodeSpqrState(plain))).not.toThrow();
  });

  it('an SPQR-lite state: more skipped keys than its trimming keeps, or a key not behind the counter, is refused', () => {
    const lite = (recvCtr: number, keys: number[]) => (s: SessionState) => {
      s.braid = undefined;
      s.spqr = {
        a2b: false,
        sendCtr: 3,
        sendNext: new Uint8Array(32).fill(1),
        recvCtr,
        recvNext: new Uint8Array(32).fill(2),
        recvPrev: new Map(keys.map((k) => [k, new Uint8Array(32).fill(k & 0xff)])),
      };
    };
    const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
    // What spqrRecv can leave: below 2,200 keys, or 2,000 after trimming.
    expect(decodes(lite(5_000, range(2_801, 2_199)))).toBeUndefined();
    expect(decodes(lite(50_000, range(0, 30_000)))).toBeInstanceOf(DecodeError);
    expect(decodes(lite(10, [10]))).toBeInstanceOf(DecodeError);
    expect(decodes(lite(10, [9]))).toBeUndefined();
  });
});

describe('stored records: the archive byte cap', () => {
  it('archived states past ARCHIVED_STATES_MAX_BYTES are dropped when read (newest kept), as when the archive changes', async () => {
    // A state with 2,000 skipped keys (≈ 80 KB) archived 40 times, never through `archive()`: 3.2 MB
    // of archived states, each decoded and tried on every forged message.
    const previous = Array.from({ length: ARCHIVED_STATES_MAX_LENGTH }, (_, n) => {
      const s = (original.currentState as SessionState).clone();
      s.pending = undefined;
      const chain = s.receiverChains[0] as SessionState['receiverChains'][number];
      chain.messageKeys = Array.from({ length: MAX_MESSAGE_KEYS }, (_, i) => ({
        index: 10_000 - i,
        seed: new Uint8Array(32).fill((n + i) & 0xff),
      }));
      return s.encode();
    });
    const one = (previous[0] as Uint8Array).length;
    const bytes = SessionRecord.fromParts(original.currentState, previous).serialize();
    expect(bytes.length).toBeGreaterThan(3_000_000);

    const read = SessionRecord.deserialize(bytes);
    const kept = Math.floor(ARCHIVED_STATES_MAX_BYTES / one);
    expect(read.archivedStateCount).toBe(kept);
    expect(read.previousStates.map((b) => toHex(b))).toEqual(previous.slice(0, kept).map((b) => toHex(b)));
    expect(read.previousStates.reduce((n, b) => n + b.length, 0)).toBeLessThanOrEqual(
      ARCHIVED_STATES_MAX_BYTES,
    );
    // The current state is read as it was.
    expect(toHex(read.serialize())).toBe(
      toHex(SessionRecord.fromParts(original.currentState, previous.slice(0, kept)).serialize()),
    );
  });
});

describe('stored records: SPQR epochs', () => {
  /** Both sides' fresh states moved to braid epoch `e` (chain epoch e − 1), consistently. */
  async function pairAt(e: number): Promise<[SpqrState, SpqrState]> {
    const auth = new Uint8Array(32).fill(0x33);
    const at = (s: SpqrState) => {
      const d = stateData(s);
      const chain = { ...cloneChain(d.chain), currentEpoch: e - 1, sendEpoch: e - 1 };
      return SpqrState._create({ ...d, braid: { ...d.braid, epoch: e }, chain });
    };
    return [at(await initSpqr(auth, 'initiator', provider)), at(await initSpqr(auth, 'responder', provider))];
  }

  /** Runs the conversation until an epoch completes on both sides; returns the first failure, if any. */
  async function converse(a: SpqrState, b: SpqrState, start: number): Promise<unknown> {
    const sides = [a, b];
    try {
      // Each round, A then B sends one message, which the other receives.
      for (let n = 0; n < 800 && (sides[1] as SpqrState).epoch === start; n++) {
        const from = n % 2;
        const sent = await spqrSend(sides[from] as SpqrState, provider);
        sides[from] = sent.state;
        sides[1 - from] = (await spqrRecv(sides[1 - from] as SpqrState, sent.pqRatchet, provider)).state;
      }
      expect((sides[1] as SpqrState).epoch).toBe(start + 1);
      await spqrSend(sides[1] as SpqrState, provider);
      return undefined;
    } catch (e) {
      return e;
    }
  }

  it('an epoch whose successor is not a safe integer is refused when read (the next epoch could not be sent)', async () => {
    const last = Number.MAX_SAFE_INTEGER;
    const [a, b] = await pairAt(last);
    // Such states, were they read, complete their epoch and then cannot number the next one: RangeError.
    expect(String(await converse(a, b, last))).toMatch(/RangeError/);
    for (const s of [a, b]) {
      const err = (() => {
        try {
          SpqrState.deserialize(encodeSpqrState(stateData(s)));
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code).toBe(SpqrErrorCode.StateDecode);
    }
    // One below reads, and its epoch completes.
    const [a2, b2] = await pairAt(last - 1);
    const read = (s: SpqrState) => SpqrState.deserialize(encodeSpqrState(stateData(s)));
    expect(await converse(read(a2), read(b2), last - 1)).toBeUndefined();
  }, 60_000);
});
