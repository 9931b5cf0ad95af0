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

// Records handed from one copy to the other: a store that keeps objects (or, as the testing store,
// decodes with its own copy's classes) hands a cipher of copy b the records of copy a. The cipher
// reads such a record through its serialized form (the format every copy reads), so both copies
// advance one store's sessions. The core keys the stores hand out cross the same way (core's
// `from()`), so the stores are used as they are.

/** A party of copy `copy`: its store keeps that copy's records and keys. */
async function party(copy: Awaited<ReturnType<typeof load>>, name: string) {
  return copy.testing.createTestParty(name, 1);
}

/** `rounds` messages each way between alice and bob, each side's cipher taken from `copyFor(i)`. */
async function converse(
  alice: Awaited<ReturnType<Testing['createTestParty']>>,
  bob: Awaited<ReturnType<Testing['createTestParty']>>,
  copyFor: (i: number) => Awaited<ReturnType<typeof load>>,
  rounds: number,
) {
  for (let i = 0; i < rounds; i++) {
    const x = copyFor(i);
    const y = copyFor(i + 1);
    const aliceToBob = new x.ratchet.SessionCipher(alice.store, bob.address);
    const bobToAlice = new y.ratchet.SessionCipher(bob.store, alice.address);
    expect(text((await bobToAlice.decrypt(await aliceToBob.encrypt(utf8(`a${i}`)))).plaintext)).toBe(`a${i}`);
    expect(text((await aliceToBob.decrypt(await bobToAlice.encrypt(utf8(`b${i}`)))).plaintext)).toBe(`b${i}`);
  }
}

it("a session made by one copy is advanced by the other copy's cipher and back, both directions, SPQR epochs included", async () => {
  const a = await load();
  const b = await load();
  // Alice's store is copy a's, bob's copy b's: each copy's cipher meets the other copy's records.
  const alice = await party(a, 'alice');
  const bob = await party(b, 'bob');
  // The handshake by copy a over bob's copy-b records (pre-keys) and the reverse; the bundle object is
  // copy b's (read through its serialized form, as core's keys are: dual-copies-keys.test.ts).
  const bundle = await bob.bundle();
  await new a.ratchet.SessionCipher(alice.store, bob.address).initiate(bundle);
  await converse(alice, bob, (i) => (i % 2 === 0 ? a : b), 100);
  const record = await bob.store.getSession(alice.address);
  expect(record?.sessionVersion).toBe(4);
  // The braid moved on (epoch 1 at the start): SPQR states of both copies were advanced.
  expect(record?.currentState?.braid?.epoch ?? 0).toBeGreaterThan(1);
});

it("a PreKey message to a store of the other copy's pre-key records: one-time, signed and Kyber pre-keys", async () => {
  const a = await load();
  const b = await load();
  const alice = await party(b, 'alice');
  const bob = await party(a, 'bob'); // bob's pre-key records: copy a's
  const bundle = await bob.bundle(); // copy a's bundle object
  expect(bundle.preKey).toBeDefined();
  expect(bundle.kyberPreKey).toBeDefined();
  const aliceToBob = new b.ratchet.SessionCipher(alice.store, bob.address);
  await aliceToBob.initiate(bundle);
  const wire = await aliceToBob.encrypt(utf8('first'));
  expect(wire.type).toBe('prekey');
  const bobViaB = new b.ratchet.SessionCipher(bob.store, alice.address);
  expect(text((await bobViaB.decrypt(wire)).plaintext)).toBe('first');
  // The one-time pre-key was consumed.
  expect(await bob.store.getPreKey(bundle.preKey?.id as number)).toBeNull();
  // And copy b's pre-key manager runs over copy a's pre-key state and records.
  const manager = new b.ratchet.PreKeyManager(bob.store);
  const signed = await manager.currentSignedPreKey();
  expect(signed).toBeInstanceOf(b.ratchet.SignedPreKeyRecord);
  expect(signed?.id).toBe(bundle.signedPreKey.id);
  const lastResort = await manager.currentLastResortKyberPreKey();
  expect(lastResort === null || lastResort instanceof b.ratchet.KyberPreKeyRecord).toBe(true);
});

it('an SPQR state of the other copy: read through its serialized form; something else: a typed error', async () => {
  const a = await load();
  const { alice, bob } = await talking(a);
  const state = (await bob.store.getSession(alice.address))?.currentState?.braid;
  expect(state).toBeDefined();
  vi.resetModules();
  const codecB = await import('../src/spqr/codec.js');
  const bytes = state?.serialize() as Uint8Array;
  expect(codecB.serializeSpqrState(state as never)).toEqual(bytes);
  const wrong = (() => {
    try {
      codecB.serializeSpqrState({ serialize: () => bytes } as never);
    } catch (e) {
      return e as { code?: string; name?: string };
    }
  })();
  expect(a.core.E2eeError.is(wrong)).toBe(true);
  expect(wrong?.code).toBe('SPQR_STATE_DECODE');
});

it('a branded record that does not serialize to a record: a typed refusal, nothing written', async () => {
  const a = await load();
  const { alice, bob } = await talking(a);
  const kind = Symbol.for('@e2ee-kit/ratchet/record@1');
  const before = [...bob.store.snapshot()];
  for (const [serialize, code] of [
    [() => Uint8Array.of(0x01, 0x09), 'DECODE'], // a format version no copy wrote
    [() => 'not bytes', 'STORE'],
    [
      () => {
        throw new Error('broken');
      },
      'STORE',
    ],
  ] as const) {
    const getSession = async () => ({ [kind]: 'SessionRecord', serialize });
    const store = new Proxy(bob.store, {
      get: (target, name) => {
        if (name === 'getSession') return getSession;
        const v = Reflect.get(target, name);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const error = await new a.ratchet.SessionCipher(store, alice.address).encrypt(utf8('x')).catch((e) => e);
    expect(a.core.E2eeError.is(error)).toBe(true);
    expect((error as { code: string }).code).toBe(code);
    expect(String(error)).toContain('SessionRecord');
  }
  expect([...bob.store.snapshot()]).toEqual(before);
});

it("another copy's session record: the serialized bytes it handed over (root and chain keys) are overwritten once read", async () => {
  const a = await load();
  const { alice, bob } = await talking(a);
  const kind = Symbol.for('@e2ee-kit/ratchet/record@1');
  const stored = await bob.store.getSession(alice.address);
  const handed: Uint8Array[] = [];
  // What another copy's record is to this copy: a branded object whose serialize() gives a fresh array.
  const getSession = async () => ({
    [kind]: 'SessionRecord',
    serialize: () => {
      const bytes = stored?.serialize() as Uint8Array;
      handed.push(bytes);
      return bytes;
    },
  });
  const store = new Proxy(bob.store, {
    get: (target, name) => {
      if (name === 'getSession') return getSession;
      const v = Reflect.get(target, name);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const sent = await new a.ratchet.SessionCipher(store, alice.address).encrypt(utf8('still works'));
  expect(text((await alice.cipher(bob).decrypt(sent)).plaintext)).toBe('still works');
  expect(handed.length).toBeGreaterThan(0);
  for (const bytes of handed) {
    expect(bytes.length).toBeGreaterThan(100);
    expect(bytes.every((b) => b === 0)).toBe(true);
  }
});
