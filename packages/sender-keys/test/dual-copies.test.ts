// Two copies of @e2ee-kit/sender-keys in one app (its ESM and CommonJS builds, or two versions in a
// bundle) over one store: a store that keeps objects, or decodes with its own copy's classes (as the
// testing store here), hands one copy's `GroupCipher` the other copy's records. Each copy reads such
// a record through its serialized form, so both advance one store's chains. The second copy is a
// second module instance of the same sources (vi.resetModules: core evaluated again too).
import { afterEach, expect, it, vi } from 'vitest';

type SenderKeys = typeof import('@e2ee-kit/sender-keys');
type Testing = typeof import('@e2ee-kit/sender-keys/testing');
type Core = typeof import('@e2ee-kit/core');

const D = '0c6d7e8f-1111-4222-8333-444455556666';
const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 1 };
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function load(): Promise<{ keys: SenderKeys; testing: Testing; core: Core }> {
  vi.resetModules();
  return {
    keys: await import('@e2ee-kit/sender-keys'),
    testing: await import('@e2ee-kit/sender-keys/testing'),
    core: await import('@e2ee-kit/core'),
  };
}

afterEach(() => void vi.resetModules());

it("one store's sender-key and key-holder records are advanced by both copies, sending and receiving", async () => {
  const a = await load();
  const b = await load();
  expect(b.keys.GroupCipher).not.toBe(a.keys.GroupCipher);
  // Alice's store is copy a's, bob's copy b's: each copy's cipher meets the other copy's records.
  const aliceStore = new a.testing.InMemorySenderKeyStore();
  const bobStore = new b.testing.InMemorySenderKeyStore();
  const copies = [a, b];
  const plan = await new a.keys.GroupCipher(aliceStore).prepareSend(alice, D, [bob]);
  expect(plan.needsDistribution).toEqual([bob]);
  await new a.keys.GroupCipher(bobStore).processDistributionMessage(
    alice,
    plan.distributionMessage.serialize(),
  );
  for (let i = 0; i < 6; i++) {
    const sending = new (copies[i % 2] as typeof a).keys.GroupCipher(aliceStore);
    const receiving = new (copies[(i + 1) % 2] as typeof a).keys.GroupCipher(bobStore);
    const wire = await sending.encrypt(alice, D, utf8(`m${i}`));
    expect(text((await receiving.decrypt(alice, wire)).plaintext)).toBe(`m${i}`);
  }
  // The key-holder records: recorded by copy b over copy a's record, read back by copy a.
  expect(await new b.keys.GroupCipher(aliceStore).markDelivered(alice, D, plan.chainId, [bob])).toBe(true);
  expect(await new a.keys.GroupCipher(aliceStore).keyHolders(alice, D)).toEqual([bob]);
  const again = await new b.keys.GroupCipher(aliceStore).prepareSend(alice, D, [bob]);
  expect(again.chainId).toBe(plan.chainId);
  expect(again.needsDistribution).toEqual([]);
});

it('a branded record that does not serialize to a record: a typed refusal, nothing written', async () => {
  const a = await load();
  const store = new a.testing.InMemorySenderKeyStore();
  const cipher = new a.keys.GroupCipher(store);
  await cipher.createDistributionMessage(alice, D);
  const before = [...store.snapshot()];
  const kind = Symbol.for('@e2ee-kit/sender-keys/record@1');
  for (const [serialize, code] of [
    [() => Uint8Array.of(0x00, 0x45, 0x32, 0x53, 0x4b, 0x7f), 'DECODE'], // a format version no copy wrote
    [() => 'not bytes', 'STORE'],
    [
      () => {
        throw new Error('broken');
      },
      'STORE',
    ],
  ] as const) {
    const forged = { [kind]: 'SenderKeyRecord', serialize };
    const over = new Proxy(store, {
      get: (target, name) => {
        if (name === 'loadSenderKey') return async () => forged;
        const v = Reflect.get(target, name);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const error = await new a.keys.GroupCipher(over).encrypt(alice, D, utf8('x')).catch((e) => e);
    expect(a.core.E2eeError.is(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
  }
  expect([...store.snapshot()]).toEqual(before);
});

it("another copy's sender-key record: the serialized bytes it handed over (chain and signing keys) are overwritten once read", async () => {
  const a = await load();
  const store = new a.testing.InMemorySenderKeyStore();
  const cipher = new a.keys.GroupCipher(store);
  const skdm = await cipher.createDistributionMessage(alice, D);
  const kind = Symbol.for('@e2ee-kit/sender-keys/record@1');
  const real = await store.loadSenderKey(alice, D);
  const handed: Uint8Array[] = [];
  const over = new Proxy(store, {
    get: (target, name) => {
      if (name === 'loadSenderKey')
        return async () => ({
          [kind]: 'SenderKeyRecord',
          serialize: () => {
            const bytes = real?.serialize() as Uint8Array;
            handed.push(bytes);
            return bytes;
          },
        });
      const v = Reflect.get(target, name);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const sent = await new a.keys.GroupCipher(over).encrypt(alice, D, utf8('still works'));
  const receiver = new a.keys.GroupCipher(new a.testing.InMemorySenderKeyStore());
  await receiver.processDistributionMessage(alice, skdm.serialize());
  expect(text((await receiver.decrypt(alice, sent)).plaintext)).toBe('still works');
  expect(handed.length).toBeGreaterThan(0);
  for (const bytes of handed) {
    expect(bytes.length).toBeGreaterThan(64);
    expect(bytes.every((b) => b === 0)).toBe(true);
  }
});
