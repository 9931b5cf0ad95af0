// A call made from `deliver` after it awaited something else cannot be told from another task's call
// (no async context in browsers): it waits like one. If the `deliver` holding its lock is still
// running after DELIVER_WAIT_LIMIT_MS the call is refused with REENTRANT_CALL — otherwise a deliver
// that awaits it (store the message, then encrypt a receipt) would hang for ever with the address (or
// every pre-key operation) locked. Another task's call made during a deliver just waits for it.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { deferred } from '../../../tools/deferred.js';
import { DELIVER_WAIT_LIMIT_MS } from '../src/deliver-guard.js';
import { talking } from './deliver-peers.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// Only the guard's timer is faked; every other wait in these tests is a promise.
beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
afterEach(() => void vi.useRealTimers());

/** 'resolved', or the code of the error `p` rejects with. */
function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  );
}

/** A promise and the function that resolves it: `reached()` marks a point in a deliver. */
function signal(): { reached: () => void; wait: Promise<void> } {
  const { promise: wait, resolve: reached } = deferred();
  return { reached, wait };
}

it('deliver that stores the message, then awaits encrypt(receipt) on the same address: REENTRANT_CALL after the limit, not a hang', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const before = (await bob.store.getSession(alice.address))?.serialize();
  const stored: string[] = [];
  const receipt = signal();
  const decrypting = bobToAlice.decrypt(wire, {
    deliver: async (m) => {
      await Promise.resolve(); // the app's own DB write
      stored.push(text(m.plaintext));
      receipt.reached();
      await bobToAlice.encrypt(utf8('receipt'));
    },
  });
  const outcome = codeOf(decrypting);
  await receipt.wait;
  expect(stored).toEqual(['ping']); // deliver is waiting for its encrypt
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS);
  expect(await outcome).toBe('REENTRANT_CALL');
  expect((await bob.store.getSession(alice.address))?.serialize()).toEqual(before);
  // Nothing stays locked: the message decrypts again and the receipt goes out after it.
  expect(text((await bobToAlice.decrypt(wire)).plaintext)).toBe('ping');
  expect(text((await aliceToBob.decrypt(await bobToAlice.encrypt(utf8('receipt')))).plaintext)).toBe(
    'receipt',
  );
});

it('a deliver that catches the refusal still commits its message', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const refused: unknown[] = [];
  const asked = signal();
  const decrypting = bobToAlice.decrypt(wire, {
    deliver: async () => {
      await Promise.resolve();
      asked.reached();
      await bobToAlice.hasSession().catch((e: { code?: string }) => refused.push(e.code));
    },
  });
  await asked.wait;
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS);
  expect(text((await decrypting).plaintext)).toBe('ping');
  expect(refused).toEqual(['REENTRANT_CALL']);
  await expect(bobToAlice.decrypt(wire)).rejects.toMatchObject({ code: 'DUPLICATE_MESSAGE' });
  expect(await bob.store.getSession(alice.address)).not.toBeNull();
});

it("PreKeyManager calls from a PreKey message's deliver: refused at once when direct, after the limit when awaited later", async () => {
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1);
  const toBob = alice.cipher(bob);
  await toBob.initiate(await bob.bundle());
  const first = await toBob.encrypt(utf8('first'));
  const carol = await createTestParty('carol', 1);
  const carolToBob = carol.cipher(bob);
  await carolToBob.initiate(await bob.bundle());
  const fromCarol = await carolToBob.encrypt(utf8('from carol'));
  const manager = new PreKeyManager(bob.store);
  const counts = { preKeys: 0, kyberPreKeys: 0 };
  // Direct: the synchronous marker.
  await expect(
    bob.cipher(alice).decrypt(first, { deliver: () => manager.generatePreKeys(1).then(() => undefined) }),
  ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
  // After an await: the wait limit. (This store has no `transaction`: the refused decrypt above used
  // up the one-time Kyber pre-key of alice's message — best effort — so carol's message is used here.)
  const refill = signal();
  const decrypting = bob.cipher(carol).decrypt(fromCarol, {
    deliver: async () => {
      await Promise.resolve();
      refill.reached();
      await manager.maintain(counts);
    },
  });
  const outcome = codeOf(decrypting);
  await refill.wait;
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS);
  expect(await outcome).toBe('REENTRANT_CALL');
  // The pre-key lock is free again.
  expect((await manager.generatePreKeys(2)).length).toBe(2);
  expect(await bob.store.getSession(carol.address)).toBeNull();
});

it("another task's call during a slow deliver waits for it and is not refused", async () => {
  const { alice, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const gate = signal();
  const entered = signal();
  const order: string[] = [];
  const decrypting = bobToAlice.decrypt(wire, {
    deliver: async () => {
      entered.reached();
      await gate.wait;
      order.push('delivered');
    },
  });
  await entered.wait;
  // The UI sends while the message is being stored: same address, not from deliver.
  const sending = bobToAlice.encrypt(utf8('typed meanwhile')).then((w) => {
    order.push('sent');
    return w;
  });
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS - 1);
  expect(order).toEqual([]);
  gate.reached();
  await decrypting;
  const sent = await sending;
  expect(order).toEqual(['delivered', 'sent']);
  // The timer is gone once the call ran: nothing fires later.
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS);
  expect(vi.getTimerCount()).toBe(0);
  expect(text((await aliceToBob.decrypt(sent)).plaintext)).toBe('typed meanwhile');
  expect(alice.address.name).toBe('alice');
});

it("a PreKey message's deliver that awaits another address's PreKey decrypt: refused after the limit, not a hang", async () => {
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1);
  const carol = await createTestParty('carol', 1);
  const fromAlice = alice.cipher(bob);
  await fromAlice.initiate(await bob.bundle());
  const first = await fromAlice.encrypt(utf8('from alice'));
  const fromCarol = carol.cipher(bob);
  await fromCarol.initiate(await bob.bundle());
  const carolFirst = await fromCarol.encrypt(utf8('from carol'));
  // Carol's address lock is free: the wait is for the pre-key lock, which alice's decrypt holds.
  const inner = signal();
  const decrypting = bob.cipher(alice).decrypt(first, {
    deliver: async () => {
      await Promise.resolve();
      inner.reached();
      await bob.cipher(carol).decrypt(carolFirst);
    },
  });
  const outcome = codeOf(decrypting);
  await inner.wait;
  await vi.advanceTimersByTimeAsync(DELIVER_WAIT_LIMIT_MS);
  expect(await outcome).toBe('REENTRANT_CALL');
  // Carol's message was never decrypted: it still can be.
  expect(text((await bob.cipher(carol).decrypt(carolFirst)).plaintext)).toBe('from carol');
});
