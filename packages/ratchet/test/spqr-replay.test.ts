// Replay of libsignal-client 0.103.0's two-epoch lockstep capture: our initiator and responder, seeded
// with the capture's auth key and with the key pairs (dk) and Encaps1 randomness (m) libsignal drew,
// reproduce every pq_ratchet byte of epochs 1–2, accept every captured message, and derive libsignal's
// epoch secrets and chain keys. Each state is also persisted and reloaded after every step.
import { nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { BraidTag } from '../src/spqr/braid.js';
import { parseSpqrMessage } from '../src/spqr/message.js';
import { keysFromDk } from '../src/spqr/mlkem768.js';
import { spqrRecvDetailed, spqrSendDetailed } from '../src/spqr/ratchet.js';
import { SpqrState, stateData } from '../src/spqr/state.js';
import { queuedEntropy } from './fixtures/spqr/entropy.js';
import { captureSides } from './fixtures/spqr/snapshots.js';
import frozen from './fixtures/spqr/state-v1.json' with { type: 'json' };
import { chainKey, epochs, messages } from './fixtures/spqr/vector.js';

const provider = nobleProvider;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function reload(s: SpqrState): SpqrState {
  const bytes = s.serialize();
  const again = SpqrState.deserialize(bytes);
  expect(hex(again.serialize())).toBe(hex(bytes));
  return again;
}

describe('SPQR replay of the libsignal 0.103.0 capture', () => {
  it('reproduces 180 messages, their keys and both epoch secrets', async () => {
    const [e1, e2] = epochs as [(typeof epochs)[0], (typeof epochs)[0]];
    expect(e1.keySender).toBe('A');
    expect(e2.keySender).toBe('B');
    const { entropy, state } = await captureSides();
    const secrets: { side: string; how: string; epoch: number; secret: string; n: number }[] = [];
    let exact = 0;
    let keyed = 0;
    for (const m of messages) {
      const from = m.from;
      const to = from === 'A' ? 'B' : 'A';
      const theirs = parseSpqrMessage(m.pq);
      const sent = await spqrSendDetailed(state[from], provider, entropy[from]);
      if (theirs.epoch <= 2) {
        expect(hex(sent.pqRatchet), `message ${m.n}`).toBe(hex(m.pq));
        exact++;
      } else {
        // Epoch 3 starts with a fresh key pair the capture does not hold: same framing, other bytes.
        const ours = parseSpqrMessage(sent.pqRatchet);
        expect({ ...ours, chunk: ours.chunk?.index }).toEqual({ ...theirs, chunk: theirs.chunk?.index });
      }
      if (sent.secret)
        secrets.push({
          side: from,
          how: 'send',
          n: m.n,
          epoch: sent.secret.epoch,
          secret: hex(sent.secret.secret),
        });
      state[from] = reload(sent.state);
      // The receiver gets libsignal's own bytes.
      const got = await spqrRecvDetailed(state[to], m.pq, provider);
      expect(hex(got.messageKey!), `key of message ${m.n}`).toBe(hex(sent.messageKey));
      const known = chainKey(theirs.epoch - 1, from === 'A' ? 'A2B' : 'B2A', theirs.index);
      if (known) {
        expect(hex(sent.messageKey)).toBe(hex(known));
        keyed++;
      }
      if (got.secret)
        secrets.push({
          side: to,
          how: 'recv',
          n: m.n,
          epoch: got.secret.epoch,
          secret: hex(got.secret.secret),
        });
      state[to] = reload(got.state);
    }
    expect(exact).toBe(messages.filter((m) => parseSpqrMessage(m.pq).epoch <= 2).length);
    expect(keyed).toBe(18);
    // Epoch 1: B (ct side) on sending its first ct1 chunk (message 5), A on the last ct2 chunk (85).
    // Epoch 2: A (ct side now) on its first ct1 chunk, B on the last ct2 chunk. Epoch 3: B again.
    const byEpoch = (e: number) => secrets.filter((s) => s.epoch === e);
    expect(byEpoch(1).map((s) => [s.side, s.how, s.n])).toEqual([
      ['B', 'send', 5],
      ['A', 'recv', 85],
    ]);
    for (const e of [1, 2])
      for (const s of byEpoch(e)) expect(s.secret).toBe(hex(epochs[e - 1]!.epochSecret));
    expect(byEpoch(2).map((s) => s.side + s.how)).toEqual(['Asend', 'Brecv']);
    expect(byEpoch(3).map((s) => s.side + s.how)).toEqual(['Bsend']);
    expect(entropy.A.usedKeys).toBe(2); // epochs 1 and 3
    expect(entropy.B.usedKeys).toBe(1);
    // After the capture: A is key side of epoch 3 and has received B's first ct1 chunk.
    expect(stateData(state.A).braid.tag).toBe(BraidTag.HeaderSent);
    expect(stateData(state.B).braid.tag).toBe(BraidTag.Ct1Sampled);
    expect([state.A.epoch, state.B.epoch]).toEqual([3, 3]);
    // Authenticator continues across epochs exactly as libsignal's.
    expect(hex(stateData(state.A).braid.auth.root)).toBe(hex(e2.authAfter.root));
  });

  it('the frozen format-1 records (both sides after message 40) load, re-serialize identically and finish the capture', async () => {
    const state = {
      A: SpqrState.deserialize(Buffer.from(frozen.A, 'hex')),
      B: SpqrState.deserialize(Buffer.from(frozen.B, 'hex')),
    };
    expect(hex(state.A.serialize())).toBe(frozen.A);
    expect(hex(state.B.serialize())).toBe(frozen.B);
    const e2 = epochs[1]!;
    const entropy = { A: queuedEntropy([], [e2.encapsM]), B: queuedEntropy([keysFromDk(e2.dk)]) };
    for (const m of messages.slice(frozen.after + 1)) {
      const to = m.from === 'A' ? 'B' : 'A';
      const sent = await spqrSendDetailed(state[m.from], provider, entropy[m.from]);
      if (parseSpqrMessage(m.pq).epoch <= 2) expect(hex(sent.pqRatchet), `message ${m.n}`).toBe(hex(m.pq));
      const got = await spqrRecvDetailed(state[to], m.pq, provider);
      expect(hex(got.messageKey!)).toBe(hex(sent.messageKey));
      state[m.from] = sent.state;
      state[to] = got.state;
    }
    expect([state.A.epoch, state.B.epoch]).toEqual([3, 3]);
  });
});
