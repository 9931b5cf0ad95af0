// `initiate` writes two records (the new session, the peer's identity). With a store that has
// `transaction` both must commit together or not at all, as for encrypt and decrypt — not rely on
// undo writes, which fail when the store does — and an identity replacement is reported only once the
// transaction committed. Found by crash-schedules.prop.test.ts (initiate, store down from write 1).
import { type IdentityChangeEvent, platformProvider, StoreError } from '@e2ee-kit/core';
import type { ProtocolTransaction } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { expect, it } from 'vitest';
import { fromUtf8, retryingOnce, snap, utf8 } from './helpers.js';

const provider = platformProvider;

/** A `transaction` that keeps every write of `fn`, or none when `fn` throws or `commit` does. */
function transactional(store: InMemoryProtocolStore, commit: () => void = () => {}): { runs: number } {
  const seen = { runs: 0 };
  Object.assign(store, {
    async transaction<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> {
      const start = store.snapshot();
      seen.runs++;
      try {
        const out = await fn({ protocol: store });
        commit();
        return out;
      } catch (err) {
        store.restore(start);
        throw err;
      }
    },
  });
  return seen;
}

async function parties(down: { from: number }) {
  const events: IdentityChangeEvent[] = [];
  let writes = 0;
  const bob = await createTestParty('bob', 1, {
    provider,
    store: {
      onIdentityChange: (e) => events.push(e),
      // From the `down.from`-th write on (0-based) every write fails, the undo writes too.
      onCall: (method) => {
        if (!/^(save|remove|restore|mark)/.test(method)) return;
        if (writes++ >= down.from) throw new Error(`injected failure: store down (${method})`);
      },
    },
  });
  const alice = await createTestParty('alice', 1, { provider });
  const reset = () => {
    writes = 0;
  };
  return { alice, bob, events, reset };
}

it('a transactional store down from the second write: initiate rejects and every record is unchanged', async () => {
  const down = { from: Number.POSITIVE_INFINITY };
  const { alice, bob, reset } = await parties(down);
  const seen = transactional(bob.store);
  const toAlice = bob.cipher(alice);
  const bundle = await alice.bundle();
  const before = snap(bob.store);
  down.from = 1; // the session write succeeds, the identity write and the session's undo fail
  reset();
  await expect(toAlice.initiate(bundle)).rejects.toBeInstanceOf(StoreError);
  expect(snap(bob.store)).toBe(before);
  expect(await toAlice.hasSession()).toBe(false);
  expect(seen.runs).toBe(1);
  // The store is back: the same bundle starts the session.
  down.from = Number.POSITIVE_INFINITY;
  await toAlice.initiate(bundle);
  const wire = await toAlice.encrypt(utf8('hi'));
  expect(fromUtf8((await alice.cipher(bob).decrypt(wire)).plaintext)).toBe('hi');
});

it('a transaction whose commit fails: initiate rejects, nothing is stored, no identity change is reported', async () => {
  const { alice, bob, events } = await parties({ from: Number.POSITIVE_INFINITY });
  // The stored identity differs from the bundle's (Alice reinstalled): initiate replaces it.
  const old = await createTestParty('alice', 1, { provider });
  await bob.store.saveIdentity(alice.address, (await old.store.getIdentityKeyPair()).publicKey);
  events.length = 0;
  const conflict = new Error('commit conflict');
  transactional(bob.store, () => {
    throw conflict;
  });
  const bundle = await alice.bundle();
  const before = snap(bob.store);
  await expect(bob.cipher(alice).initiate(bundle)).rejects.toBe(conflict);
  expect(snap(bob.store)).toBe(before);
  expect(events).toHaveLength(0);
});

it('initiate in a transaction run twice reports a replaced identity once, after the commit', async () => {
  const { alice, bob, events } = await parties({ from: Number.POSITIVE_INFINITY });
  const old = await createTestParty('alice', 1, { provider });
  await bob.store.saveIdentity(alice.address, (await old.store.getIdentityKeyPair()).publicKey);
  events.length = 0;
  const seen = retryingOnce(bob.store);
  const toAlice = bob.cipher(alice);
  await toAlice.initiate(await alice.bundle());
  expect(seen.attempts).toBe(2);
  expect(events).toHaveLength(1);
  expect(events[0]?.current.equals((await alice.store.getIdentityKeyPair()).publicKey)).toBe(true);
  const wire = await toAlice.encrypt(utf8('hi'));
  expect(fromUtf8((await alice.cipher(bob).decrypt(wire)).plaintext)).toBe('hi');
});
