// Post-quantum healing at the session level (issue 13.3). An attacker copies Alice's complete state
// (her whole store: identity, session record with the SPQR state) mid-conversation, sees every later
// message, and on top of that learns Alice's classical Double-Ratchet state — root key, chain keys and
// the DH ratchet private keys — at every later message. With the braid, the copy stops decrypting Bob's
// messages once two more epochs have completed: the missing piece is the ML-KEM secret of an epoch
// drawn after the copy. A session on SPQR-lite (format-1 records: chain epoch 0 forever) fails the
// same test: the copy plus the classical keys decrypts everything.
import { platformProvider } from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  PreKeySignalMessage,
  SessionCipher,
  SessionRecord,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import type { SessionState, SpqrLite } from '../src/records/session-state.js';
import { spqrRecv } from '../src/spqr/ratchet.js';
import type { SpqrState } from '../src/spqr/state.js';
import { spqrInit as liteInit, spqrRecv as liteRecvAt, spqrIndex, spqrWalk } from '../src/spqr-lite.js';
import { establishedPair, fromUtf8, type Pair, utf8 } from './helpers.js';

const provider = platformProvider;
const ROUNDS = 400;
const COPY_AT = 60;

type Pq = { kind: 'braid'; braid: SpqrState } | { kind: 'lite'; lite: SpqrLite };

function pqOf(s: SessionState): Pq {
  if (s.braid) return { kind: 'braid', braid: s.braid };
  const lite = s.spqr as SpqrLite;
  return { kind: 'lite', lite: { ...lite, recvPrev: new Map(lite.recvPrev) } };
}

function pqRatchetOf(m: EncryptedMessage): Uint8Array {
  return m.type === 'prekey'
    ? PreKeySignalMessage.deserialize(m.body).message.pqRatchet
    : SignalMessage.deserialize(m.body).pqRatchet;
}

/** The copy's SPQR part takes in a message it could not decrypt (so it follows the braid as far as it can). */
async function feed(pq: Pq, m: EncryptedMessage): Promise<Pq> {
  try {
    if (pq.kind === 'braid')
      return { kind: 'braid', braid: (await spqrRecv(pq.braid, pqRatchetOf(m), provider)).state };
    const at = spqrIndex(pqRatchetOf(m));
    if (at !== undefined) {
      spqrWalk(pq.lite, at, 25_000);
      await liteRecvAt(pq.lite, at, provider);
    }
  } catch {
    // A refusal leaves the copy as it was.
  }
  return pq;
}

async function currentState(p: Pair): Promise<SessionState> {
  return ((await p.alice.store.getSession(p.bob.address)) as SessionRecord).currentState as SessionState;
}

/** Runs the conversation with the attacker alongside; counts Bob's messages the attacker read. */
async function compromise(p: Pair) {
  let attacker: { store: InMemoryProtocolStore; cipher: SessionCipher; pq: Pq } | undefined;
  let epochAtCopy = 0;
  const counts = { before: 0, leakedAfterTwoEpochs: 0, protectedAfterTwoEpochs: 0, epochs: 0 };
  for (let n = 0; n < ROUNDS; n++) {
    if (n === COPY_AT) {
      const s = await currentState(p);
      const store = await InMemoryProtocolStore.create({
        identityKeyPair: await p.alice.store.getIdentityKeyPair(),
        registrationId: await p.alice.store.getLocalRegistrationId(),
        provider,
      });
      const bobIdentity = await p.alice.store.getIdentity(p.bob.address);
      if (bobIdentity) await store.saveIdentity(p.bob.address, bobIdentity);
      attacker = { store, cipher: new SessionCipher(store, p.bob.address, { provider }), pq: pqOf(s) };
      epochAtCopy = s.braid?.epoch ?? 1;
    }
    const x = await p.a.encrypt(utf8(`a${n}`));
    expect(fromUtf8((await p.b.decrypt(x)).plaintext)).toBe(`a${n}`);
    const y = await p.b.encrypt(utf8(`b${n}`));
    if (attacker) {
      // The leak: Alice's classical state right now (DH ratchet private keys included), with the
      // attacker's own SPQR copy in place of hers.
      const hybrid = (await currentState(p)).clone();
      if (attacker.pq.kind === 'braid') hybrid.braid = attacker.pq.braid;
      else hybrid.spqr = attacker.pq.lite;
      await attacker.store.saveSession(p.bob.address, SessionRecord.fromParts(hybrid, []));
      let read = false;
      try {
        read = fromUtf8((await attacker.cipher.decrypt(y)).plaintext) === `b${n}`;
      } catch {
        read = false;
      }
      if (read) {
        attacker.pq = pqOf(
          ((await attacker.store.getSession(p.bob.address)) as SessionRecord).currentState as SessionState,
        );
      } else {
        attacker.pq = await feed(attacker.pq, y);
      }
      const epoch = (await currentState(p)).braid?.epoch ?? 1;
      if (epoch >= epochAtCopy + 2) {
        if (read) counts.leakedAfterTwoEpochs++;
        else counts.protectedAfterTwoEpochs++;
      } else if (read) counts.before++;
    }
    expect(fromUtf8((await p.a.decrypt(y)).plaintext)).toBe(`b${n}`);
  }
  counts.epochs = (await currentState(p)).braid?.epoch ?? 1;
  return counts;
}

describe('post-quantum healing of a session after a complete state compromise', () => {
  it('the braid: the copy (with every later classical key) reads Bob until two more epochs completed, then nothing', async () => {
    const p = await establishedPair(provider);
    expect((await currentState(p)).braid).toBeDefined();
    const c = await compromise(p);
    expect(c.epochs).toBeGreaterThan(4);
    expect(c.before).toBeGreaterThan(0); // the copy really was complete: it read messages at first
    expect(c.protectedAfterTwoEpochs).toBeGreaterThan(100);
    expect(c.leakedAfterTwoEpochs).toBe(0);
  });

  it('SPQR-lite (legacy sessions, no epochs): the same attacker reads every message', async () => {
    const p = await establishedPair(provider);
    // Both sides on SPQR-lite from one shared auth key, as a format-1 record holds them.
    const authKey = provider.randomBytes(32);
    for (const [store, peer, a2b] of [
      [p.alice.store, p.bob.address, true],
      [p.bob.store, p.alice.address, false],
    ] as const) {
      const r = (await store.getSession(peer)) as SessionRecord;
      const s = (r.currentState as SessionState).clone();
      s.braid = undefined;
      s.spqr = await liteInit(authKey, a2b, provider);
      await store.saveSession(peer, SessionRecord.fromParts(s, r.previousStates));
    }
    const c = await compromise(p);
    expect(c.epochs).toBe(1);
    expect(c.before).toBe(ROUNDS - COPY_AT);
    expect(c.protectedAfterTwoEpochs).toBe(0);
  });
});
