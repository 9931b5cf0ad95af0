// A `GroupCipher` call made after an await inside `deliver`, for the (sender, distribution id) being
// decrypted, without `scope.run`: it cannot be told from another task's call (no async context in
// browsers), so it waits for the lock that decrypt holds while the decrypt waits for it. It waited
// for ever, and every later message of that sender in that group behind it. As in the ratchet, a call
// still waiting behind the same running `deliver` after a minute is refused with `REENTRANT_CALL`
// (nothing done), so the queue moves again; another task's call behind a slow `deliver` just waits.
import { type Address, utf8 } from '@e2ee-kit/core';
import { GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { deferred } from '../../../tools/deferred.js';

const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

// Timers are faked so that a deliver can "run" for minutes; every wait in these tests is a promise.
beforeEach(() => void vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] }));
afterEach(() => void vi.useRealTimers());

/** 'resolved', or the code of the error `p` rejects with; `settled` says whether it has yet. */
function watch(p: Promise<unknown>): { code: Promise<string | undefined>; settled: () => boolean } {
  let settled = false;
  const code = p.then(
    () => 'resolved',
    (e: { code?: string }) => e.code,
  );
  void code.then(() => {
    settled = true;
  });
  return { code, settled: () => settled };
}

async function group() {
  const id = generateDistributionId();
  const aliceKeys = new GroupCipher(new InMemorySenderKeyStore());
  const store = new InMemorySenderKeyStore();
  const receiver = new GroupCipher(store);
  await receiver.processDistributionMessage(alice, await aliceKeys.createDistributionMessage(alice, id));
  const m: Uint8Array[] = [];
  for (let i = 0; i < 3; i++) m.push(await aliceKeys.encrypt(alice, id, utf8(`m${i}`)));
  return { id, store, receiver, m };
}

it('an unmarked call on its own key after an await in deliver: refused after a minute, not a hang; nothing written', async () => {
  const { id, store, receiver, m } = await group();
  const before = store.rawRecord(alice, id);
  const calling = deferred();
  const outer = watch(
    receiver.decrypt(alice, m[0]!, {
      deliver: async () => {
        await Promise.resolve(); // the app's own write
        const again = receiver.decrypt(alice, m[1]!); // the common mistake: no scope.run
        calling.resolve();
        await again;
      },
    }),
  );
  await calling.promise;
  await vi.advanceTimersByTimeAsync(59_000);
  expect(outer.settled()).toBe(false);
  await vi.advanceTimersByTimeAsync(1_000);
  expect(outer.settled()).toBe(true);
  expect(await outer.code).toBe('REENTRANT_CALL');
  expect(store.rawRecord(alice, id)).toEqual(before);
  // Nothing stays locked: both messages decrypt, in order.
  expect(text((await receiver.decrypt(alice, m[0]!)).plaintext)).toBe('m0');
  expect(text((await receiver.decrypt(alice, m[1]!)).plaintext)).toBe('m1');
  expect(vi.getTimerCount()).toBe(0);
});

it("another task's decrypt behind a deliver that runs 59 s: it waits and is decrypted after, never refused", async () => {
  const { receiver, m } = await group();
  const gate = deferred();
  const entered = deferred();
  const order: string[] = [];
  const first = receiver.decrypt(alice, m[0]!, {
    deliver: async (message) => {
      entered.resolve();
      await gate.promise; // a slow store
      order.push(text(message.plaintext));
    },
  });
  await entered.promise;
  const second = watch(
    receiver.decrypt(alice, m[1]!, { deliver: (message) => void order.push(text(message.plaintext)) }),
  );
  await vi.advanceTimersByTimeAsync(59_000);
  expect(second.settled()).toBe(false);
  gate.resolve();
  await first;
  expect(await second.code).toBe('resolved');
  expect(order).toEqual(['m0', 'm1']);
  expect(vi.getTimerCount()).toBe(0);
});

it('a call that waited past a minute behind a deliver which then settled: it runs, not refused', async () => {
  // The backstop is for a deliver still running: once it has settled, the lock is about to be free.
  const { receiver, m } = await group();
  const gate = deferred();
  const entered = deferred();
  const first = receiver.decrypt(alice, m[0]!, {
    deliver: async () => {
      entered.resolve();
      await gate.promise;
    },
  });
  await entered.promise;
  const second = watch(receiver.decrypt(alice, m[1]!));
  await vi.advanceTimersByTimeAsync(30_000);
  gate.resolve();
  await first;
  expect(await second.code).toBe('resolved');
  await vi.advanceTimersByTimeAsync(60_000);
  expect(vi.getTimerCount()).toBe(0);
});

it("the backstop across two copies of the package: copy b's unmarked call behind copy a's deliver is refused after a minute", async () => {
  // One store, one lock for both copies (shared-state.ts): the running deliver is seen by both too.
  vi.resetModules();
  const a = await import('@e2ee-kit/sender-keys');
  const testing = await import('@e2ee-kit/sender-keys/testing');
  vi.resetModules();
  const b = await import('@e2ee-kit/sender-keys');
  expect(b.GroupCipher).not.toBe(a.GroupCipher);
  const id = generateDistributionId();
  const sender = new a.GroupCipher(new testing.InMemorySenderKeyStore());
  const store = new testing.InMemorySenderKeyStore();
  const [viaA, viaB] = [new a.GroupCipher(store), new b.GroupCipher(store)];
  await viaA.processDistributionMessage(alice, await sender.createDistributionMessage(alice, id));
  const m = [await sender.encrypt(alice, id, utf8('m0')), await sender.encrypt(alice, id, utf8('m1'))];
  const before = store.rawRecord(alice, id);
  const calling = deferred();
  const outer = watch(
    viaA.decrypt(alice, m[0]!, {
      deliver: async () => {
        await Promise.resolve();
        const again = viaB.decrypt(alice, m[1]!);
        calling.resolve();
        await again;
      },
    }),
  );
  await calling.promise;
  await vi.advanceTimersByTimeAsync(59_000);
  expect(outer.settled()).toBe(false);
  await vi.advanceTimersByTimeAsync(1_000);
  expect(outer.settled()).toBe(true);
  expect(await outer.code).toBe('REENTRANT_CALL');
  expect(store.rawRecord(alice, id)).toEqual(before);
  expect(text((await viaB.decrypt(alice, m[0]!)).plaintext)).toBe('m0');
  expect(vi.getTimerCount()).toBe(0);
  vi.resetModules();
});
