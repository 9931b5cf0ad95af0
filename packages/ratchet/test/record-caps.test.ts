// Issue 11.6: a peer cannot inflate a SessionRecord: archived states share a skipped-key cap and a
// byte cap, the newest keys of the newest states are kept, and the newest legitimate skipped messages
// still decrypt. Frozen fixtures are covered by fixtures.test.ts (loading trims nothing but archived
// states past the byte cap, which they are far below; see stored-records.test.ts).
import { platformProvider } from '@e2ee-kit/core';
import {
  ARCHIVED_STATES_MAX_LENGTH,
  type EncryptedMessage,
  MAX_MESSAGE_KEYS,
  MAX_RECEIVER_CHAINS,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import {
  ARCHIVED_SKIPPED_KEYS_MAX,
  ARCHIVED_STATES_MAX_BYTES,
  skippedKeyCount,
} from '../src/records/archive-caps.js';
import { archive } from '../src/records/session-record.js';
import { SessionState } from '../src/records/session-state.js';
import { cloneChain, ownRecv } from '../src/spqr/chain.js';
import { SpqrState, stateData } from '../src/spqr/state.js';
import { establishedPair, fromUtf8, roundTrip, utf8 } from './helpers.js';

const provider = platformProvider;
const MB = 1_000_000;

/** `s` with libsignal's maximum of skipped keys: 5 chains × 2,000 message keys and 2,199 SPQR keys. */
function inflated(s: SessionState): SessionState {
  const out = s.clone();
  out.receiverChains = Array.from({ length: MAX_RECEIVER_CHAINS }, (_, c) => ({
    ratchetKey: Uint8Array.of(0x05, ...provider.randomBytes(32)),
    chainKey: { index: 30_000 + c, key: provider.randomBytes(32) },
    messageKeys: Array.from({ length: MAX_MESSAGE_KEYS }, (_, i) => ({
      index: 29_999 + c - i,
      seed: new Uint8Array(32).fill((c * 7 + i) & 0xff),
    })),
  }));
  if (out.braid) {
    const d = stateData(out.braid);
    const chain = cloneChain(d.chain);
    const recv = ownRecv(chain, chain.links.length - 1);
    recv.ctr = 40_000;
    recv.prev = new Map(Array.from({ length: 2_199 }, (_, i) => [39_999 - i, provider.randomBytes(32)]));
    out.braid = SpqrState._create({ ...d, chain });
  }
  if (out.spqr) {
    out.spqr.recvCtr = 40_000;
    out.spqr.recvPrev = new Map(
      Array.from({ length: 2_199 }, (_, i) => [39_999 - i, provider.randomBytes(32)]),
    );
  }
  return out;
}

function archivedKeys(record: SessionRecord): number[] {
  return record.previousStates.map((p) => skippedKeyCount(SessionState.decode(p)));
}

describe('SessionRecord caps', () => {
  it(`40 maximally inflated archived states plus a maximal current state stay below 1 MB`, async () => {
    const p = await establishedPair(provider);
    const base = (await p.bob.store.getSession(p.alice.address)) as SessionRecord;
    const state = base.currentState as SessionState;
    const big = inflated(state);
    let previous: Uint8Array[] = [];
    for (let i = 0; i < ARCHIVED_STATES_MAX_LENGTH + 5; i++) previous = archive(previous, big);
    const record = SessionRecord.fromParts(big, previous);
    const keys = archivedKeys(record);
    expect(keys.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(ARCHIVED_SKIPPED_KEYS_MAX);
    // The newest archived state is the one kept whole (up to the cap), older ones lose keys first.
    expect(keys[0]).toBe(Math.min(ARCHIVED_SKIPPED_KEYS_MAX, skippedKeyCount(big)));
    const archivedBytes = record.previousStates.reduce((a, b) => a + b.length, 0);
    expect(archivedBytes).toBeLessThanOrEqual(ARCHIVED_STATES_MAX_BYTES);
    const size = record.serialize().length;
    console.info(`worst-case SessionRecord: ${size} bytes`);
    expect(size).toBeLessThan(MB);
    // Before the caps: 41 states × 12,199 keys ≈ 18.9 MB.
    expect(skippedKeyCount(big) * (ARCHIVED_STATES_MAX_LENGTH + 1) * 36).toBeGreaterThan(17 * MB);
    // The capped archive under the real current state: the session still works.
    await p.bob.store.saveSession(p.alice.address, SessionRecord.fromParts(state, record.previousStates));
    await roundTrip(p.a, p.b, 'still fine');
    await roundTrip(p.b, p.a, 'both ways');
  });

  it('a peer re-initiating with skipped messages each time: caps hold, the newest skipped messages decrypt', async () => {
    const p = await establishedPair(provider);
    // Older archived states inflated to the maximum, as a hostile peer would leave them.
    const base = (await p.bob.store.getSession(p.alice.address)) as SessionRecord;
    let previous: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) previous = archive(previous, inflated(base.currentState as SessionState));
    await p.bob.store.saveSession(p.alice.address, SessionRecord.fromParts(base.currentState, previous));

    // Now real traffic: Alice sends 300 messages, Bob gets only the last (299 skipped on both chains),
    // then Alice starts a new session and Bob's old state is archived.
    const held: EncryptedMessage[] = [];
    for (let i = 0; i < 300; i++) held.push(await p.a.encrypt(utf8(`m${i}`)));
    expect(fromUtf8((await p.b.decrypt(held[299] as EncryptedMessage)).plaintext)).toBe('m299');
    await p.a.initiate(await p.bob.bundle());
    await roundTrip(p.a, p.b, 'new session');

    const record = (await p.bob.store.getSession(p.alice.address)) as SessionRecord;
    const keys = archivedKeys(record);
    expect(keys.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(ARCHIVED_SKIPPED_KEYS_MAX);
    expect(keys[0]).toBe(2 * 299); // the newest archived state is intact
    expect(record.serialize().length).toBeLessThan(MB);
    // The newest legitimate skipped messages still decrypt from the archived state.
    for (const i of [298, 150, 0]) {
      expect(fromUtf8((await p.b.decrypt(held[i] as EncryptedMessage)).plaintext)).toBe(`m${i}`);
    }
  });
});
