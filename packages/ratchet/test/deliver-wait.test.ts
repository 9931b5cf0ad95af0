// A call made while a `deliver` holds its lock waits for it: without an async context (none in
// browsers) a call made by `deliver` after an await cannot be told from another task's, and another
// task's call (the next message from the socket, the UI sending) must not fail because the deliver
// ahead of it is slow (the previous release refused it after 10 s). A deliver's own calls are refused
// at once when they are known to be its own: made synchronously from it, or inside its `scope.run`.
// As a backstop against the hang of an unmarked own call, a call still waiting behind the same
// running deliver after a minute is refused.
import { PreKeyManager } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { deferred } from '../../../tools/deferred.js';
import { talking } from './deliver-peers.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// Timers are faked so that a deliver can "run" for minutes; every wait in these tests is a promise.
beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
afterEach(() => void vi.useRealTimers());
/** Just under the backstop's minute (the previous release's 10 s limit is far behind). */
const LONG_MS = 59_000;

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

it("another task's decrypt and encrypt during a deliver that runs 59 s: both wait for it, neither is refused", async () => {
  const { alice, bobToAlice, aliceToBob } = await talking();
  const w1 = await aliceToBob.encrypt(utf8('one'));
  const w2 = await aliceToBob.encrypt(utf8('two'));
  const gate = signal();
  const entered = signal();
  const order: string[] = [];
  const first = bobToAlice.decrypt(w1, {
    deliver: async (m) => {
      entered.reached();
      await gate.wait; // a slow store, a phone working through a backlog
      order.push(`delivered ${text(m.plaintext)}`);
    },
  });
  await entered.wait;
  // The socket hands over the next message and the UI sends, both while the first is being stored.
  const second = codeOf(
    bobToAlice.decrypt(w2, { deliver: (m) => void order.push(`delivered ${text(m.plaintext)}`) }),
  );
  const sending = bobToAlice.encrypt(utf8('typed meanwhile'));
  const sent = codeOf(sending);
  await vi.advanceTimersByTimeAsync(LONG_MS);
  expect(order).toEqual([]);
  gate.reached();
  await first;
  expect(await second).toBe('resolved');
  expect(await sent).toBe('resolved');
  expect(order).toEqual(['delivered one', 'delivered two']);
  expect(vi.getTimerCount()).toBe(0);
  expect(text((await aliceToBob.decrypt(await sending)).plaintext)).toBe('typed meanwhile');
  expect(alice.address.name).toBe('alice');
});

it('a deliver that stores the message, then calls encrypt(receipt) through scope.run: REENTRANT_CALL at once, nothing written', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const before = (await bob.store.getSession(alice.address))?.serialize();
  const stored: string[] = [];
  await expect(
    bobToAlice.decrypt(wire, {
      deliver: async (m, _tx, scope) => {
        await Promise.resolve(); // the app's own DB write
        stored.push(text(m.plaintext));
        await scope.run(() => bob.cipher(alice).encrypt(utf8('receipt')));
      },
    }),
  ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
  expect(stored).toEqual(['ping']);
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
  const m = await bobToAlice.decrypt(wire, {
    deliver: async (_m, _tx, scope) => {
      await Promise.resolve();
      await scope.run(() => bobToAlice.hasSession()).catch((e: { code?: string }) => refused.push(e.code));
    },
  });
  expect(text(m.plaintext)).toBe('ping');
  expect(refused).toEqual(['REENTRANT_CALL']);
  await expect(bobToAlice.decrypt(wire)).rejects.toMatchObject({ code: 'DUPLICATE_MESSAGE' });
  expect(await bob.store.getSession(alice.address)).not.toBeNull();
});

it('scope.run lets calls for other locks through, and marks nothing once the deliver has settled', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const carol = await createTestParty('carol', 1);
  const bobToCarol = bob.cipher(carol);
  await bobToCarol.initiate(await carol.bundle());
  let kept: { run<T>(fn: () => T): T } | undefined;
  await bobToAlice.decrypt(await aliceToBob.encrypt(utf8('ping')), {
    deliver: async (_m, _tx, scope) => {
      kept = scope;
      await Promise.resolve();
      // Carol's lock is not this decrypt's: the call runs.
      expect((await scope.run(() => bobToCarol.encrypt(utf8('fan-out')))).type).toBe('prekey');
    },
  });
  // The decrypt resolved: its locks are free, and a kept scope refuses nothing.
  const reply = await (kept as { run<T>(fn: () => T): T }).run(() => bobToAlice.encrypt(utf8('pong')));
  expect(text((await aliceToBob.decrypt(reply)).plaintext)).toBe('pong');
  expect(alice.address.name).toBe('alice');
});

it("PreKeyManager calls from a PreKey message's deliver: refused at once when direct or through scope.run", async () => {
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
  // After an await, through the scope. (This store has no `transaction`: the refused decrypt above
  // used up the one-time Kyber pre-key of alice's message — best effort — so carol's is used here.)
  await expect(
    bob.cipher(carol).decrypt(fromCarol, {
      deliver: async (_m, _tx, scope) => {
        await Promise.resolve();
        await scope.run(() => manager.maintain(counts));
      },
    }),
  ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
  // The pre-key lock is free again.
  expect((await manager.generatePreKeys(2)).length).toBe(2);
  expect(await bob.store.getSession(carol.address)).toBeNull();
});

it("a PreKey message's deliver calling another address's PreKey decrypt through scope.run: refused at once", async () => {
  const alice = await createTestParty('alice', 1);
  const bob = await createTestParty('bob', 1);
  const carol = await createTestParty('carol', 1);
  const fromAlice = alice.cipher(bob);
  await fromAlice.initiate(await bob.bundle());
  const first = await fromAlice.encrypt(utf8('from alice'));
  const fromCarol = carol.cipher(bob);
  await fromCarol.initiate(await bob.bundle());
  const carolFirst = await fromCarol.encrypt(utf8('from carol'));
  // Carol's address lock is free: the wait would be for the pre-key lock, which alice's decrypt holds.
  const outcome = codeOf(
    bob.cipher(alice).decrypt(first, {
      deliver: async (_m, _tx, scope) => {
        await Promise.resolve();
        await scope.run(() => bob.cipher(carol).decrypt(carolFirst));
      },
    }),
  );
  expect(await outcome).toBe('REENTRANT_CALL');
  // Carol's message was never decrypted: it still can be.
  expect(text((await bob.cipher(carol).decrypt(carolFirst)).plaintext)).toBe('from carol');
});

it('an unmarked call on its own address after an await in deliver: refused after a minute, not a hang; nothing written', async () => {
  const { alice, bob, bobToAlice, aliceToBob } = await talking();
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const before = (await bob.store.getSession(alice.address))?.serialize();
  const calling = signal();
  const outcome = codeOf(
    bobToAlice.decrypt(wire, {
      deliver: async () => {
        await Promise.resolve(); // the app's own DB write
        const receipt = bob.cipher(alice).encrypt(utf8('receipt')); // the common mistake: no scope.run
        calling.reached();
        await receipt;
      },
    }),
  );
  await calling.wait;
  let settled = false;
  void outcome.then(() => {
    settled = true;
  });
  await vi.advanceTimersByTimeAsync(59_000);
  expect(settled).toBe(false);
  await vi.advanceTimersByTimeAsync(1_000);
  expect(await outcome).toBe('REENTRANT_CALL');
  expect((await bob.store.getSession(alice.address))?.serialize()).toEqual(before);
  // Nothing stays locked: the message decrypts again and the receipt goes out after it.
  expect(text((await bobToAlice.decrypt(wire)).plaintext)).toBe('ping');
  expect(text((await aliceToBob.decrypt(await bobToAlice.encrypt(utf8('receipt')))).plaintext)).toBe(
    'receipt',
  );
  expect(vi.getTimerCount()).toBe(0);
});
