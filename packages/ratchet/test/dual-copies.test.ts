// Two copies of @e2ee-kit/ratchet in one app (the dual-package hazard: the app `import`s it, a
// dependency `require`s it, or a bundle holds two versions): each copy has its own module state. The
// ciphers of both copies over one store must still take turns, and a call from one copy's `deliver`
// into the other copy's cipher for the same address must still be refused rather than wait for a
// decrypt that waits for it. Here the second copy is a second module instance of the same sources
// (vi.resetModules: every module, core included, evaluated again), which is what loading the other
// build gives, and runs from sources as every test here does (the builds do not exist yet when the
// tests run).
import { afterEach, expect, it, vi } from 'vitest';
import { deferred } from '../../../tools/deferred.js';

type Ratchet = typeof import('@e2ee-kit/ratchet');
type Testing = typeof import('@e2ee-kit/ratchet/testing');
type Core = typeof import('@e2ee-kit/core');

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function load(): Promise<{ ratchet: Ratchet; testing: Testing; core: Core }> {
  vi.resetModules();
  return {
    ratchet: await import('@e2ee-kit/ratchet'),
    testing: await import('@e2ee-kit/ratchet/testing'),
    core: await import('@e2ee-kit/core'),
  };
}

afterEach(() => void vi.resetModules());

/** Alice and bob with a session both ways, made with copy `a`; bob's store is the one shared. */
async function talking(a: Awaited<ReturnType<typeof load>>) {
  const alice = await a.testing.createTestParty('alice', 1);
  const bob = await a.testing.createTestParty('bob', 1);
  const bobToAlice = bob.cipher(alice);
  await bobToAlice.initiate(await alice.bundle());
  const aliceToBob = alice.cipher(bob);
  await aliceToBob.decrypt(await bobToAlice.encrypt(utf8('hello')));
  return { alice, bob, aliceToBob };
}

it('two copies are two module instances', async () => {
  const a = await load();
  const b = await load();
  expect(b.ratchet.SessionCipher).not.toBe(a.ratchet.SessionCipher);
  expect(b.core.KeyedMutex).not.toBe(a.core.KeyedMutex);
});

it("the default lock: one copy's call waits for the other copy's decrypt of the same address", async () => {
  const a = await load();
  const b = await load();
  const { alice, bob, aliceToBob } = await talking(a);
  const wire = await aliceToBob.encrypt(utf8('ping'));
  const viaA = new a.ratchet.SessionCipher(bob.store, alice.address);
  // (A read: a record object of one copy is not usable by the other copy's ratchet code, so this
  // store's sessions can be read, not advanced, through copy b.)
  const viaB = new b.ratchet.SessionCipher(bob.store, alice.address);
  const gate = deferred();
  const entered = deferred();
  const order: string[] = [];
  const decrypting = viaA.decrypt(wire, {
    deliver: async () => {
      entered.resolve();
      await gate.promise;
      order.push('delivered');
    },
  });
  await entered.promise;
  const asking = viaB.hasSession().then((has) => void order.push(`has session: ${has}`));
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  expect(order).toEqual([]); // it waits: the decrypt holds this address
  gate.resolve();
  await Promise.all([decrypting, asking]);
  expect(order).toEqual(['delivered', 'has session: true']);
});

it("a call from one copy's deliver into the other copy's cipher for that address: REENTRANT_CALL", async () => {
  const a = await load();
  const b = await load();
  const { alice, bob, aliceToBob } = await talking(a);
  // Both with the app's own lock manager (one object), and both with the default lock.
  const shared = new a.core.KeyedMutex();
  for (const options of [{ lockManager: shared }, {}]) {
    const wire = await aliceToBob.encrypt(utf8('ping'));
    const viaA = new a.ratchet.SessionCipher(bob.store, alice.address, options);
    const viaB = new b.ratchet.SessionCipher(bob.store, alice.address, options);
    let inner: Promise<string | undefined> | undefined;
    const m = await viaA.decrypt(wire, {
      deliver: () => {
        // Not awaited, so that without the refusal this test fails instead of hanging.
        inner = viaB.hasSession().then(
          () => 'ran',
          (e: { code?: string }) => e.code,
        );
      },
    });
    expect(text(m.plaintext)).toBe('ping');
    expect(await inner).toBe('REENTRANT_CALL');
  }
});

it('loading a copy touches no global; the shared slot is made on first use, under a registered symbol', async () => {
  const before = new Set(Reflect.ownKeys(globalThis));
  const a = await load();
  expect(Reflect.ownKeys(globalThis).filter((k) => !before.has(k))).toEqual([]);
  const party = await a.testing.createTestParty('alice', 1);
  await new a.ratchet.SessionCipher(party.store, { name: 'bob', deviceId: 1 }).hasSession();
  expect(Reflect.ownKeys(globalThis)).toContain(Symbol.for('@e2ee-kit/ratchet/shared-state@1'));
});
