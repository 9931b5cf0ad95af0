// A `GroupCipher` call made from inside `decrypt`'s `deliver` for the same (sender, distribution id):
// `deliver` runs under that key's lock, so the call waited for the decrypt, which waited for
// `deliver` — for ever, with every later message of that sender in that group stuck behind it. It is
// refused at once with `REENTRANT_CALL` (nothing done); made after an await, it is refused when made
// inside the `scope.run` handed to `deliver`. Calls for other keys, and calls once `deliver` has
// settled, just run.
import { type Address, utf8 } from '@e2ee-kit/core';
import { E2eeError, GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const bob: Address = Object.freeze({ name: 'bob', deviceId: 1 });
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Settles `p` within `turns` macrotask turns (an in-memory store needs a few), else 'pending'. */
async function within<T>(p: Promise<T>, turns = 50): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let out: { value: T } | { error: unknown } | 'pending' = 'pending';
  p.then(
    (value) => {
      out = { value };
    },
    (error: unknown) => {
      out = { error };
    },
  );
  for (let i = 0; i < turns && out === 'pending'; i++) await new Promise((r) => setTimeout(r, 0));
  return out;
}

async function group() {
  const id = generateDistributionId();
  const aliceKeys = new GroupCipher(new InMemorySenderKeyStore());
  const bobKeys = new GroupCipher(new InMemorySenderKeyStore());
  const store = new InMemorySenderKeyStore();
  const receiver = new GroupCipher(store);
  await receiver.processDistributionMessage(alice, await aliceKeys.createDistributionMessage(alice, id));
  await receiver.processDistributionMessage(bob, await bobKeys.createDistributionMessage(bob, id));
  const m = [];
  for (let i = 0; i < 3; i++) m.push(await aliceKeys.encrypt(alice, id, utf8(`m${i}`)));
  return { id, store, receiver, m, fromBob: await bobKeys.encrypt(bob, id, utf8('bob')) };
}

const isReentrant = (r: unknown) =>
  typeof r === 'object' && r !== null && 'error' in r && E2eeError.is(r.error, 'REENTRANT_CALL');

describe('a call from deliver for the key being decrypted', () => {
  it('made synchronously: refused at once for every operation on that key, never a hang', async () => {
    const { id, store, receiver, m } = await group();
    const answers: unknown[] = [];
    const before = store.rawRecord(alice, id);
    const outer = receiver.decrypt(alice, m[0]!, {
      deliver: async () => {
        const calls: Array<Promise<unknown>> = [
          receiver.decrypt(alice, m[1]!),
          receiver.tryDecrypt(alice, m[1]!),
        ];
        answers.push(...(await Promise.all(calls.map((c) => within(c)))));
      },
    });
    const done = await within(outer, 1000);
    expect(answers.map(isReentrant)).toEqual([true, true]);
    // deliver caught both refusals: the outer decrypt committed, and the next message still decrypts.
    expect(done !== 'pending' && 'value' in done && text(done.value.plaintext)).toBe('m0');
    expect(store.rawRecord(alice, id)).not.toEqual(before);
    expect(text((await receiver.decrypt(alice, m[1]!)).plaintext)).toBe('m1');
  });

  it('the sender-side calls on that key too, and a refusal passed on by deliver writes nothing', async () => {
    const { id, store, receiver, m } = await group();
    const before = store.rawRecord(alice, id);
    const seen: boolean[] = [];
    const outer = receiver.decrypt(alice, m[0]!, {
      deliver: async () => {
        const calls: Array<Promise<unknown>> = [
          receiver.encrypt(alice, id, utf8('x')),
          receiver.createDistributionMessage(alice, id),
          receiver.prepareSend(alice, id, [bob]),
          receiver.markDelivered(alice, id, 1, [bob]),
          receiver.markNeedsDistribution(alice, id, [bob]),
          receiver.rotate(alice, id),
          receiver.keyHolders(alice, id),
        ];
        seen.push(...(await Promise.all(calls.map((c) => within(c)))).map(isReentrant));
        await calls[0]; // passed on
      },
    });
    const done = await within(outer, 1000);
    expect(seen).toEqual([true, true, true, true, true, true, true]);
    expect(done !== 'pending' && 'error' in done && E2eeError.is(done.error, 'REENTRANT_CALL')).toBe(true);
    expect(store.rawRecord(alice, id)).toEqual(before);
    expect(text((await receiver.decrypt(alice, m[0]!)).plaintext)).toBe('m0');
  });

  it('made after an await inside scope.run: refused; another key from deliver just runs', async () => {
    const { receiver, m, fromBob } = await group();
    let inScope: unknown;
    let otherKey: unknown;
    const outer = receiver.decrypt(alice, m[0]!, {
      deliver: async (_message, _tx, scope) => {
        otherKey = await within(receiver.decrypt(bob, fromBob));
        await Promise.resolve();
        inScope = await within(scope.run(() => receiver.decrypt(alice, m[1]!)));
      },
    });
    await within(outer, 1000);
    expect(otherKey !== 'pending' && otherKey !== undefined && 'value' in (otherKey as object)).toBe(true);
    expect(isReentrant(inScope)).toBe(true);
    // Once deliver has settled, the same call just runs.
    expect(text((await receiver.decrypt(alice, m[1]!)).plaintext)).toBe('m1');
  });
});
