// A store without `transaction` whose k-th write takes effect and then throws (a commit whose
// acknowledgement was lost, a network KV whose response never came). The operation fails, so, for
// every k, every record that existed must be byte-identical to before and the same call must then
// succeed; a decrypt's landed write must not use up the message (redelivered, it decrypts).
// Found by crash-schedules.prop.test.ts (`land` faults): a decrypt whose write landed and threw left
// its message key consumed, and the redelivered message was refused as a duplicate: lost.
import { type Address, E2eeError, ErrorCode, StoreError, toHex, utf8 } from '@e2ee-kit/core';
import { GroupCipher, type SenderKeyStore } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

const D = '1a4d0000-0000-4000-8000-0000000000a1';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const bob: Address = Object.freeze({ name: 'bob', deviceId: 1 });
const carol: Address = Object.freeze({ name: 'carol', deviceId: 1 });
const snap = (s: InMemorySenderKeyStore) =>
  [...s.snapshot()]
    .map(([k, v]) => `${k}=${toHex(v)}`)
    .sort()
    .join('\n');

/** `inner` without `transaction` (with or without key-holder methods); `arm(k)`: its k-th write from now lands, then throws. */
function landing(inner: InMemorySenderKeyStore, holders: boolean) {
  let countdown = 0;
  const landThenThrow =
    <A extends unknown[]>(write: (...args: A) => Promise<void>) =>
    async (...args: A) => {
      await write(...args);
      if (countdown > 0 && --countdown === 0)
        throw new Error('the store wrote, then lost the acknowledgement');
    };
  const store: SenderKeyStore = {
    loadSenderKey: inner.loadSenderKey.bind(inner),
    storeSenderKey: landThenThrow(inner.storeSenderKey.bind(inner)),
    ...(holders
      ? {
          loadKeyHolders: inner.loadKeyHolders.bind(inner),
          storeKeyHolders: landThenThrow(inner.storeKeyHolders.bind(inner)),
        }
      : {}),
  };
  const arm = (k: number) => {
    countdown = k;
  };
  return { store, arm };
}

interface Case {
  inner: InMemorySenderKeyStore;
  arm: (k: number) => void;
  run: () => Promise<unknown>;
}

/** For k = 1, 2, … until the operation meets no fault: the k-th write lands and throws, nothing changed, the retry works. */
async function everyK(make: () => Promise<Case>, maxK = 5): Promise<number> {
  for (let k = 1; k <= maxK; k++) {
    const c = await make();
    const before = snap(c.inner);
    c.arm(k);
    const error = await c.run().then(
      () => undefined,
      (err: unknown) => err,
    );
    c.arm(0);
    if (error === undefined) return k - 1;
    expect(E2eeError.is(error, ErrorCode.Store), `write ${k}: ${String(error)}`).toBe(true);
    expect(snap(c.inner), `records after write ${k} landed and threw`).toBe(before);
    await c.run(); // the retry succeeds
  }
  throw new Error(`the operation did not finish within ${maxK} writes`);
}

describe.each([
  ['with key-holder methods', true],
  ['holders inside the record', false],
])('GroupCipher over a store whose k-th write lands, then throws (%s)', (_, holders) => {
  /** A sender whose chain bob and carol hold, and a receiver (bob) of it. */
  async function group() {
    const inner = new InMemorySenderKeyStore();
    const { store, arm } = landing(inner, holders);
    const sender = new GroupCipher(store);
    const plan = await sender.prepareSend(alice, D, [bob, carol]);
    await sender.markDelivered(alice, D, plan.chainId, [bob, carol]);
    const receiverBytes = new InMemorySenderKeyStore();
    const r = landing(receiverBytes, holders);
    const receiver = new GroupCipher(r.store);
    await receiver.processDistributionMessage(alice, plan.distributionMessage);
    return { inner, arm, sender, receiverBytes, receiverArm: r.arm, receiver };
  }

  it('decrypt: the redelivered message decrypts', async () => {
    const g = await group();
    const wire = await g.sender.encrypt(alice, D, utf8('not lost'));
    const before = snap(g.receiverBytes);
    g.receiverArm(1);
    expect(await g.receiver.decrypt(alice, wire).catch((e: unknown) => e)).toBeInstanceOf(StoreError);
    expect(snap(g.receiverBytes)).toBe(before);
    const again = await g.receiver.decrypt(alice, wire);
    expect(new TextDecoder().decode(again.plaintext)).toBe('not lost');
  });

  it('processDistributionMessage of a new chain', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      const skdm = await g.sender.rotate(alice, D);
      return {
        inner: g.receiverBytes,
        arm: g.receiverArm,
        run: () => g.receiver.processDistributionMessage(alice, skdm),
      };
    });
    expect(writes).toBe(1);
  });

  it('encrypt', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      return { inner: g.inner, arm: g.arm, run: () => g.sender.encrypt(alice, D, utf8('hi')) };
    });
    expect(writes).toBe(1);
  });

  it('prepareSend after a member removal (the new chain, then who was handed it)', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      return { inner: g.inner, arm: g.arm, run: () => g.sender.prepareSend(alice, D, [bob]) };
    });
    expect(writes).toBe(2);
  });

  it('prepareSend to a new member (who was handed the chain)', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      return { inner: g.inner, arm: g.arm, run: () => g.sender.prepareSend(alice, D, [bob, carol, alice]) };
    });
    expect(writes).toBe(1);
  });

  it('markDelivered', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      const plan = await g.sender.prepareSend(alice, D, [bob, carol, alice]);
      return {
        inner: g.inner,
        arm: g.arm,
        run: () => g.sender.markDelivered(alice, D, plan.chainId, [alice]),
      };
    });
    expect(writes).toBe(1);
  });

  it('markNeedsDistribution', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      return { inner: g.inner, arm: g.arm, run: () => g.sender.markNeedsDistribution(alice, D, [bob]) };
    });
    expect(writes).toBe(1);
  });

  it('rotate', async () => {
    const writes = await everyK(async () => {
      const g = await group();
      return { inner: g.inner, arm: g.arm, run: () => g.sender.rotate(alice, D) };
    });
    expect(writes).toBe(1);
  });
});
