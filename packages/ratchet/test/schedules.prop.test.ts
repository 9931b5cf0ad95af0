// fast-check: random schedules with reordering, duplication, loss and direction changes.
//
// The expected outcome of every delivery is computed from libsignal's rules, independently of the
// implementation: a receiver keeps a chain for each peer ratchet key it has seen, the newest
// MAX_RECEIVER_CHAINS of them (the initiator also starts with one for the responder's signed pre-key);
// a message decrypts iff its key's chain is kept, or its key is newer than every key seen so far.
// Everything that decrypts must do so exactly once; a repeat is DuplicateMessageError; both a
// duplicate and a lost message leave the stores byte-identical.
import {
  type CryptoProvider,
  DuplicateMessageError,
  E2eeError,
  nobleProvider,
  platformProvider,
  toHex,
} from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  MAX_RECEIVER_CHAINS,
  PreKeySignalMessage,
  RatchetErrorCode,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, makePair, snap, utf8 } from './helpers.js';

type Dir = 0 | 1; // 0: Alice → Bob, 1: Bob → Alice
interface Sent {
  id: number;
  text: string;
  message: EncryptedMessage;
  keyOrdinal: number;
  delivered: boolean;
}

const action = fc.record({
  kind: fc.constantFrom('send', 'send', 'deliver', 'deliver', 'deliver', 'duplicate', 'drop'),
  dir: fc.constantFrom<Dir>(0, 1),
  pick: fc.nat(1000),
});

function ratchetKeyOf(m: EncryptedMessage): string {
  const inner =
    m.type === 'prekey' ? PreKeySignalMessage.deserialize(m.body).message : SignalMessage.deserialize(m.body);
  return toHex(inner.ratchetKey.serialize());
}

async function runSchedule(
  provider: CryptoProvider,
  actions: { kind: string; dir: Dir; pick: number }[],
): Promise<void> {
  const p = await makePair(provider);
  await p.a.initiate(await p.bob.bundle());
  const ciphers = [p.a, p.b] as const; // sender for dir 0 is Alice
  const receivers = [p.b, p.a] as const;
  const receiverStores = [p.bob.store, p.alice.store] as const;
  const sent: [Sent[], Sent[]] = [[], []];
  const pending: [Sent[], Sent[]] = [[], []];
  const ordinals: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  // Keys seen by each direction's receiver, oldest first; Alice starts with Bob's signed pre-key chain.
  const seen: [number[], number[]] = [[], [-1]];
  let bobHasSession = false;
  let nextId = 0;
  let successes = 0;

  const deliver = async (dir: Dir, item: Sent) => {
    const list = seen[dir];
    const kept = list.slice(-MAX_RECEIVER_CHAINS);
    const newest = Math.max(-1, ...list);
    const retained = kept.includes(item.keyOrdinal);
    const decryptable = retained || (!list.includes(item.keyOrdinal) && item.keyOrdinal > newest);
    const before = snap(receiverStores[dir]);
    let result: { plaintext: Uint8Array } | undefined;
    let error: unknown;
    try {
      result = await receivers[dir].decrypt(item.message);
    } catch (err) {
      error = err;
    }
    if (decryptable && !item.delivered) {
      expect(error, `message ${item.id} should decrypt`).toBeUndefined();
      expect(fromUtf8((result as { plaintext: Uint8Array }).plaintext)).toBe(item.text);
      item.delivered = true;
      successes++;
      if (!list.includes(item.keyOrdinal)) list.push(item.keyOrdinal);
      if (dir === 0) bobHasSession = true;
      return;
    }
    expect(result, `message ${item.id} must not decrypt again or out of its chain`).toBeUndefined();
    if (decryptable) expect(error).toBeInstanceOf(DuplicateMessageError);
    else expect(E2eeError.is(error, RatchetErrorCode.InvalidMessage)).toBe(true);
    expect(snap(receiverStores[dir])).toBe(before);
  };

  for (const act of actions) {
    const dir = act.dir;
    if (act.kind === 'send') {
      if (dir === 1 && !bobHasSession) continue;
      const text = `m${nextId}`;
      const message = await ciphers[dir].encrypt(utf8(text));
      const key = ratchetKeyOf(message);
      const ord = ordinals[dir];
      if (!ord.has(key)) ord.set(key, ord.size);
      const item: Sent = {
        id: nextId++,
        text,
        message,
        keyOrdinal: ord.get(key) as number,
        delivered: false,
      };
      sent[dir].push(item);
      pending[dir].push(item);
    } else if (act.kind === 'deliver') {
      const q = pending[dir];
      if (q.length === 0) continue;
      // Reorder within a window of 4 pending messages.
      const [item] = q.splice(act.pick % Math.min(4, q.length), 1);
      if (item) await deliver(dir, item);
    } else if (act.kind === 'duplicate') {
      const done = sent[dir].filter((s) => s.delivered);
      if (done.length === 0) continue;
      await deliver(dir, done[act.pick % done.length] as Sent);
    } else {
      const q = pending[dir];
      if (q.length > 0) q.splice(act.pick % q.length, 1);
    }
  }
  // Drain in order: everything still decryptable must decrypt exactly once.
  for (const dir of [0, 1] as const) for (const item of pending[dir].splice(0)) await deliver(dir, item);
  const delivered = sent[0].concat(sent[1]).filter((s) => s.delivered).length;
  expect(successes).toBe(delivered);
}

describe('random schedules (fast-check)', () => {
  for (const [label, provider, numRuns] of [
    ['platform', platformProvider, 30],
    ['noble', nobleProvider, 10],
  ] as const) {
    it(`every delivered message decrypts exactly once; duplicates change nothing (${label})`, async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(action, { minLength: 40, maxLength: 100, size: 'max' }), (actions) =>
          runSchedule(provider, actions),
        ),
        label === 'noble' ? { numRuns, seed: 42 } : { numRuns },
      );
    });
  }
});
