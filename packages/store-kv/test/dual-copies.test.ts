// Two copies of the packages in one app (the dual-package hazard: the app `import`s them, a
// dependency `require`s them, or a bundle holds two versions): the identity key pair an app made with
// one copy of core, given to the other copy's `KvStore.open`. The second copy is a second module
// instance of the same sources (vi.resetModules: every module evaluated again).
import { afterEach, expect, it, vi } from 'vitest';

type Core = typeof import('@e2ee-kit/core');
type Ratchet = typeof import('@e2ee-kit/ratchet');
type StoreKv = typeof import('@e2ee-kit/store-kv');
type Testing = typeof import('@e2ee-kit/store-kv/testing');

async function load(): Promise<{ core: Core; ratchet: Ratchet; kv: StoreKv; testing: Testing }> {
  vi.resetModules();
  return {
    core: await import('@e2ee-kit/core'),
    ratchet: await import('@e2ee-kit/ratchet'),
    kv: await import('@e2ee-kit/store-kv'),
    testing: await import('@e2ee-kit/store-kv/testing'),
  };
}

afterEach(() => void vi.resetModules());

it("KvStore.open keeps the other copy's IdentityKeyPair as its identity", async () => {
  const a = await load();
  const b = await load();
  const pair = await a.core.IdentityKeyPair.generate(a.core.nobleProvider);
  const backend = new b.testing.MemoryKvBackend();
  const identity = { identityKeyPair: pair, registrationId: 5 };
  const store = await b.kv.KvStore.open(backend, { ratchet: b.ratchet, identity });
  expect((await store.protocol.getIdentityKeyPair()).serialize()).toEqual(pair.serialize());
  // Reopened from the rows: the same identity.
  const again = await b.kv.KvStore.open(backend, { ratchet: b.ratchet });
  expect((await again.protocol.getIdentityKeyPair()).serialize()).toEqual(pair.serialize());
  expect(pair.privateKey.wiped).toBe(false);
});

it('a forged branded pair: DecodeError and nothing written; unbranded: TypeError', async () => {
  const b = await load();
  const backend = new b.testing.MemoryKvBackend();
  const forged = {
    [Symbol.for('@e2ee-kit/core/IdentityKeyPair@1')]: true,
    serialize: () => new Uint8Array(3),
  };
  for (const [identityKeyPair, check] of [
    [forged, (e: unknown) => b.core.E2eeError.is(e, 'DECODE')],
    [{ serialize: () => new Uint8Array(69) }, (e: unknown) => e instanceof TypeError],
  ] as const) {
    const e = await b.kv.KvStore.open(backend, {
      ratchet: b.ratchet,
      identity: { identityKeyPair: identityKeyPair as never, registrationId: 5 },
    }).catch((err: unknown) => err);
    expect(check(e)).toBe(true);
  }
  expect(backend.snapshot().size).toBe(0); // nothing was written
});
