// SPQR states are values that share what did not change: a chain clone shares its links until the
// one a message changes is copied, and a decoder keeps its record ready to copy. These tests re-encode
// every state from its data after later operations (not the bytes kept with it) and require the
// same bytes: no operation, successful or refused, changes a state it started from.
import { nodeProvider } from '@e2ee-kit/core/node';
import { describe, expect, it } from 'vitest';
import { spqrKeepNewestKeys } from '../src/spqr/archive.js';
import { encodeSpqrState } from '../src/spqr/codec-write.js';
import { initSpqr, spqrRecv, spqrSend } from '../src/spqr/ratchet.js';
import { type SpqrState, stateData } from '../src/spqr/state.js';

const provider = nodeProvider;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fresh = (s: SpqrState) => hex(encodeSpqrState(stateData(s)));

describe('SPQR states share unchanged parts without changing each other', () => {
  it('every state of a lossy, reordered conversation re-encodes to its bytes after all later steps', async () => {
    const auth = new Uint8Array(32).fill(0x33);
    let a = await initSpqr(auth, 'initiator', provider);
    let b = await initSpqr(auth, 'responder', provider);
    const seen: { state: SpqrState; bytes: string }[] = [];
    const keep = (s: SpqrState) => seen.push({ state: s, bytes: fresh(s) });
    const held: { toA: boolean; pq: Uint8Array }[] = [];
    let refused = 0;
    const recv = async (toA: boolean, pq: Uint8Array) => {
      const from = toA ? a : b;
      try {
        const got = (await spqrRecv(from, pq, provider)).state;
        keep(got);
        if (toA) a = got;
        else b = got;
      } catch {
        refused++;
      }
    };
    for (let i = 0; i < 700; i++) {
      const fromA = i % 3 !== 2;
      const sent = await spqrSend(fromA ? a : b, provider);
      keep(sent.state);
      if (fromA) a = sent.state;
      else b = sent.state;
      if (i % 11 === 0) continue; // lost
      if (i % 7 === 0) held.push({ toA: !fromA, pq: sent.pqRatchet });
      else await recv(!fromA, sent.pqRatchet);
      if (i % 13 === 0 && held.length > 0) {
        const m = held.shift()!;
        await recv(m.toA, m.pq);
        await recv(m.toA, m.pq); // a repeat: refused, changes nothing
      }
      if (i % 50 === 0) keep(spqrKeepNewestKeys(a, 3));
    }
    expect(refused).toBeGreaterThan(0);
    expect(a.epoch).toBeGreaterThan(3);
    for (const { state, bytes } of seen) expect(fresh(state)).toBe(bytes);
  });
});
