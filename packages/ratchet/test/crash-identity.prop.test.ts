// fast-check: an identity replacement (the peer reinstalled) received under store faults.
//
// Alice and Bob talk; Alice reinstalls (a new identity key, same address) and sends Bob PreKey
// messages of her new session, delivered in any order with duplicates, each decrypt of Bob's possibly
// failing at write k (`throw`; `down` — that write and every later one, undo writes too — with a
// transaction only) or crashing before write k (Bob re-opens the store as it was after k writes, or
// with a transaction as it was before the operation). Invariants: a failed decrypt leaves Bob's records
// byte-identical and reports nothing; every message decrypts exactly once (a crash before the session
// write loses none); the stored identity ends as Alice's new key; the replacement is reported once
// with a transaction, at most once without (a crash between the identity write and the Kyber mark
// cannot report what it never committed).
import { DuplicateMessageError, E2eeError, type IdentityChangeEvent, platformProvider } from '@e2ee-kit/core';
import type { EncryptedMessage, ProtocolTransaction } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, roundTrip, snap, utf8 } from './helpers.js';

const provider = platformProvider;
const WRITE = /^(save|remove|restore|mark)/;

interface Fault {
  kind: 'throw' | 'down' | 'crash';
  k: number;
}

async function run(transactional: boolean, plan: { pick: number; fault: Fault | null }[]): Promise<void> {
  let fault: Fault | undefined;
  let writes: string[] = [];
  let crashed: Map<string, Uint8Array> | undefined;
  let txStart: Map<string, Uint8Array> | undefined;
  const events: IdentityChangeEvent[] = [];
  const bob = await createTestParty('bob', 1, {
    provider,
    store: {
      onIdentityChange: (e) => events.push(e),
      onCall: (method) => {
        if (fault === undefined || !WRITE.test(method)) return;
        const n = writes.length;
        writes.push(method);
        if (fault.kind === 'down' && n > fault.k) throw new Error('injected failure: store down');
        if (n !== fault.k) return;
        if (fault.kind !== 'crash') throw new Error(`injected failure at write ${n}`);
        crashed = txStart ?? bob.store.snapshot();
        fault = undefined; // the dead process's undo writes are never seen
        throw new Error('crash');
      },
    },
  });
  if (transactional) {
    Object.assign(bob.store, {
      async transaction<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> {
        txStart = bob.store.snapshot();
        try {
          return await fn({ protocol: bob.store });
        } catch (err) {
          bob.store.restore(txStart);
          throw err;
        } finally {
          txStart = undefined;
        }
      },
    });
  }
  const alice = await createTestParty('alice', 1, { provider });
  let b = bob.cipher(alice);
  await alice.cipher(bob).initiate(await bob.bundle());
  await roundTrip(alice.cipher(bob), b, 'before the reinstall');
  const alice2 = await createTestParty('alice', 1, { provider });
  const a2 = alice2.cipher(bob);
  await a2.initiate(await bob.bundle());
  const texts = ['n0', 'n1', 'n2', 'n3'];
  const wires: EncryptedMessage[] = [];
  for (const t of texts) wires.push(await a2.encrypt(utf8(t)));
  const read = new Set<number>();

  const deliver = async (i: number, f: Fault | null) => {
    const before = snap(bob.store);
    const eventsBefore = events.length;
    fault = f ?? undefined;
    writes = [];
    crashed = undefined;
    let out: { plaintext: Uint8Array } | undefined;
    let error: unknown;
    try {
      out = await b.decrypt(wires[i] as EncryptedMessage);
    } catch (err) {
      error = err;
    }
    const landed = crashed === undefined ? undefined : transactional ? [] : writes.slice(0, -1);
    const reached = f !== null && writes.length > f.k;
    fault = undefined;
    if (out) {
      expect(read.has(i), `message ${i} decrypted twice`).toBe(false);
      expect(fromUtf8(out.plaintext)).toBe(texts[i]);
      read.add(i);
      return;
    }
    expect(events.length, 'an identity change reported by a decrypt that failed').toBe(eventsBefore);
    if (crashed !== undefined) {
      bob.store.restore(crashed);
      b = bob.cipher(alice); // the re-opened app
      if (transactional) expect(snap(bob.store)).toBe(before);
      if (landed?.includes('saveSession')) read.add(i); // committed: a repeat is a duplicate
      return;
    }
    if (read.has(i)) {
      expect(error).toBeInstanceOf(DuplicateMessageError);
    } else {
      expect(reached, `message ${i} failed without a fault: ${String(error)}`).toBe(true);
      expect(E2eeError.is(error, 'STORE')).toBe(true);
    }
    expect(snap(bob.store), 'a failed decrypt changed the stored records').toBe(before);
  };

  for (const step of plan) await deliver(step.pick % texts.length, step.fault);
  for (let i = 0; i < texts.length; i++) await deliver(i, null);
  expect(read.size).toBe(texts.length);
  const current = (await alice2.store.getIdentityKeyPair()).publicKey;
  expect((await bob.store.getIdentity(alice.address))?.equals(current)).toBe(true);
  if (transactional) expect(events).toHaveLength(1);
  else expect(events.length).toBeLessThanOrEqual(1);
  for (const e of events) expect(e.current.equals(current)).toBe(true);
  await roundTrip(b, a2, 'to the new identity');
}

const faultFor = (transactional: boolean) =>
  fc.option(
    fc.record({
      kind: fc.constantFrom<Fault['kind']>(
        ...(transactional ? (['throw', 'down', 'crash'] as const) : (['throw', 'crash'] as const)),
      ),
      k: fc.nat(3),
    }),
    { freq: 2 },
  );

describe('an identity replacement under store faults (fast-check)', () => {
  for (const transactional of [false, true]) {
    it(`is stored, reported ${transactional ? 'once' : 'at most once'}, and loses no message (${transactional ? 'transactional store' : 'store without transaction'})`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ pick: fc.nat(100), fault: faultFor(transactional) }), { maxLength: 8 }),
          (plan) => run(transactional, plan),
        ),
        { numRuns: 30 },
      );
    });
  }
});
