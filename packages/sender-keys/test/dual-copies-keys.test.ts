// Two copies of the packages in one app (see dual-copies.test.ts): a signing key made by one copy of
// core handed to the other copy's `SenderKeyDistributionMessage.create`. The second copy is a second
// module instance of the same sources (vi.resetModules: core evaluated again too).
import { afterEach, expect, it, vi } from 'vitest';

type SenderKeys = typeof import('@e2ee-kit/sender-keys');
type Core = typeof import('@e2ee-kit/core');

const D = '0c6d7e8f-1111-4222-8333-444455556666';

async function load(): Promise<{ keys: SenderKeys; core: Core }> {
  vi.resetModules();
  return { keys: await import('@e2ee-kit/sender-keys'), core: await import('@e2ee-kit/core') };
}

afterEach(() => void vi.resetModules());

const fields = { distributionId: D, chainId: 7, iteration: 3, chainKey: new Uint8Array(32).fill(5) };

it("SenderKeyDistributionMessage.create takes the other copy's PublicKey", async () => {
  const a = await load();
  const b = await load();
  const key = (await a.core.KeyPair.generate(a.core.nobleProvider)).publicKey;
  const made = b.keys.SenderKeyDistributionMessage.create({ ...fields, signingKey: key });
  // Expected: the same message with copy b's own key of those bytes.
  const own = b.core.PublicKey.deserialize(key.serialize());
  expect(made.serialize()).toEqual(
    b.keys.SenderKeyDistributionMessage.create({ ...fields, signingKey: own }).serialize(),
  );
  expect(made.signingKey).toBeInstanceOf(b.core.PublicKey);
});

it('a forged branded signing key: DecodeError as for bad key bytes; unbranded: TypeError', async () => {
  const b = await load();
  const forged = { [Symbol.for('@e2ee-kit/core/PublicKey@1')]: true, serialize: () => new Uint8Array(32) };
  const refuse = (signingKey: unknown) => {
    try {
      b.keys.SenderKeyDistributionMessage.create({ ...fields, signingKey: signingKey as never });
    } catch (e) {
      return e;
    }
  };
  expect(b.core.E2eeError.is(refuse(forged), 'DECODE')).toBe(true);
  expect(refuse({ serialize: () => new Uint8Array(33) })).toBeInstanceOf(TypeError);
});
