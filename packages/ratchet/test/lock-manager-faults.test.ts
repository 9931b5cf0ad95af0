// An app's LockManager that fails (a lock service down, a Web Locks request refused) must make each
// cipher call fail the asynchronous way — a rejected promise the caller's `.catch` sees, never a
// synchronous throw out of a method that returns a promise — and touch nothing in the store.
import type { LockManager } from '@e2ee-kit/core';
import { PreKeyManager, SessionCipher } from '@e2ee-kit/ratchet';
import { expect, it } from 'vitest';
import { talking } from './deliver-peers.js';
import { snap, utf8 } from './helpers.js';

const down = new Error('lock service unavailable');
const throwing: LockManager = {
  run() {
    throw down;
  },
};

/** Calls `start`; what it returned, or `{ threw }` if it threw synchronously. */
function call(start: () => unknown): unknown {
  try {
    return start();
  } catch (threw) {
    return { threw };
  }
}

it('a lock manager whose run throws: every SessionCipher call rejects with its error, nothing is written', async () => {
  const { alice, bob, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const before = snap(bob.store);
  const cipher = new SessionCipher(bob.store, alice.address, { lockManager: throwing });
  const calls = {
    encrypt: () => cipher.encrypt(utf8('x')),
    decrypt: () => cipher.decrypt(wire),
    hasSession: () => cipher.hasSession(),
    archive: () => cipher.archive(),
    discardUnreadableSession: () => cipher.discardUnreadableSession(),
    initiate: async () => cipher.initiate(await alice.bundle()),
  };
  for (const [name, start] of Object.entries(calls)) {
    const out = call(start);
    expect(out, name).toBeInstanceOf(Promise);
    await expect(out, name).rejects.toBe(down);
  }
  const manager = new PreKeyManager(bob.store, { lockManager: throwing });
  await expect(manager.generatePreKeys(1)).rejects.toBe(down);
  expect(snap(bob.store)).toBe(before);
});
