// Session records read back from storage that this library could not have written as they are (edited,
// crafted, restored from elsewhere): they decode to a typed DecodeError or to a state whose every use
// ends in a result or a typed error, with the stored bytes unchanged on failure.
import { E2eeError, platformProvider, SessionNotFoundError } from '@e2ee-kit/core';
import { type SessionCipher, SessionRecord } from '@e2ee-kit/ratchet';
import type { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SessionState } from '../src/records/session-state.js';
import { SpqrErrorCode } from '../src/spqr/errors.js';
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
