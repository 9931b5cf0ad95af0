// Two copies of the packages in one app (see dual-copies.test.ts): here the objects that cross are
// core's keys and this package's bundles and retry receipts, handed as objects from one copy to the
// other's entry points, with no translation in between. The second copy is a second module instance
// of the same sources (vi.resetModules: every module, core included, evaluated again).
import { afterEach, describe, expect, it, vi } from 'vitest';

type Ratchet = typeof import('@e2ee-kit/ratchet');
type Testing = typeof import('@e2ee-kit/ratchet/testing');
type Core = typeof import('@e2ee-kit/core');
interface Copy {
  ratchet: Ratchet;
  testing: Testing;
  core: Core;
}

async function load(): Promise<Copy> {
  vi.resetModules();
  return {
    ratchet: await import('@e2ee-kit/ratchet'),
    testing: await import('@e2ee-kit/ratchet/testing'),
    core: await import('@e2ee-kit/core'),
  };
}

afterEach(() => void vi.resetModules());

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function caught(f: () => unknown): Promise<{ code?: string; name?: string } & object> {
  try {
    await f();
  } catch (e) {
    return e as object;
  }
  throw new Error('expected a refusal');
}

describe('a session between parties of two copies', () => {
  it("initiated with the other copy's bundle object, then advanced by both copies' ciphers over both stores", async () => {
    const a = await load();
    const b = await load();
    const alice = await a.testing.createTestParty('alice', 1); // copy a's store and keys
    const bob = await b.testing.createTestParty('bob', 1); // copy b's
    const bundle = await bob.bundle(); // a copy-b PreKeyBundle holding copy-b keys
    expect(bundle).not.toBeInstanceOf(a.ratchet.PreKeyBundle);
    // Copy b's cipher over alice's copy-a store: copy-a identity keys from the store, copy-b bundle.
    await new b.ratchet.SessionCipher(alice.store, bob.address).initiate(bundle);
    for (let i = 0; i < 6; i++) {
      const [x, y] = i % 2 === 0 ? [a, b] : [b, a];
      const aliceToBob = new x.ratchet.SessionCipher(alice.store, bob.address);
      const bobToAlice = new y.ratchet.SessionCipher(bob.store, alice.address);
      expect(text((await bobToAlice.decrypt(await aliceToBob.encrypt(utf8(`a${i}`)))).plaintext)).toBe(
        `a${i}`,
      );
      expect(text((await aliceToBob.decrypt(await bobToAlice.encrypt(utf8(`b${i}`)))).plaintext)).toBe(
        `b${i}`,
      );
    }
    // Each store holds the other's identity key, saved through the other copy's objects.
    const aliceId = (await alice.store.getIdentityKeyPair()).publicKey;
    const bobId = (await bob.store.getIdentityKeyPair()).publicKey;
    expect((await bob.store.getIdentity(alice.address))?.equals(aliceId)).toBe(true);
    expect((await alice.store.getIdentity(bob.address))?.equals(bobId)).toBe(true);
    // archive's ifRatchetKey: a key of the other copy names the current state as its own would.
    const cipher = new a.ratchet.SessionCipher(bob.store, alice.address);
    const record = await bob.store.getSession(alice.address);
    const ratchetKey = record?.currentState?.senderChain?.ratchetKey as Uint8Array;
    const other = (await b.core.KeyPair.generate(b.core.nobleProvider)).publicKey;
    expect(await cipher.archive({ ifRatchetKey: other })).toBe(false);
    expect(await cipher.archive({ ifRatchetKey: b.core.PublicKey.deserialize(ratchetKey) })).toBe(true);
  });

  it("PreKeyBundle.from with the other copy's key objects; a pre-key message made from it opens", async () => {
    const a = await load();
    const b = await load();
    const alice = await a.testing.createTestParty('alice', 1);
    const bob = await b.testing.createTestParty('bob', 1);
    const parts = await bob.bundle();
    const bundle = a.ratchet.PreKeyBundle.from({
      registrationId: parts.registrationId,
      deviceId: parts.deviceId,
      identityKey: parts.identityKey,
      signedPreKeyId: parts.signedPreKey.id,
      signedPreKey: parts.signedPreKey.publicKey,
      signedPreKeySignature: parts.signedPreKey.signature,
      preKeyId: parts.preKey?.id,
      preKey: parts.preKey?.publicKey,
      kyberPreKeyId: parts.kyberPreKey?.id,
      kyberPreKey: parts.kyberPreKey?.publicKey,
      kyberPreKeySignature: parts.kyberPreKey?.signature,
    });
    expect(bundle.serialize()).toEqual(parts.serialize());
    const aliceToBob = alice.cipher(bob.address);
    await aliceToBob.initiate(bundle);
    const wire = await aliceToBob.encrypt(utf8('first'));
    expect(text((await bob.cipher(alice.address).decrypt(wire)).plaintext)).toBe('first');
  });
});

describe("pre-keys made with the other copy's keys", () => {
  it('generateSignedPreKey / generateKyberPreKey sign with the other copy’s IdentityKeyPair', async () => {
    const a = await load();
    const b = await load();
    const pair = await a.core.IdentityKeyPair.generate(a.core.nobleProvider);
    const signed = await b.ratchet.generateSignedPreKey(pair, 5, { timestamp: 1 });
    const kyber = await b.ratchet.generateKyberPreKey(pair, 6, { timestamp: 1, lastResort: true });
    const verify = (message: Uint8Array, sig: Uint8Array) =>
      a.core.xeddsaVerify(pair.publicKey, message, sig, a.core.nobleProvider);
    expect(await verify(signed.publicKey.serialize(), signed.signature)).toBe(true);
    expect(await verify(kyber.publicKey.serialize(), kyber.signature)).toBe(true);
    // The caller's pair is untouched (only copy b's temporary of it was wiped).
    expect(pair.privateKey.wiped).toBe(false);
  });

  it('PreKeyRecord, SignedPreKeyRecord and KyberPreKeyRecord take the other copy’s key pairs', async () => {
    const a = await load();
    const b = await load();
    const ec = await a.core.KeyPair.generate(a.core.nobleProvider);
    const kem = a.core.generateKemKeyPair(a.core.nobleProvider);
    const sig = new Uint8Array(64).fill(9);
    // Expected: the same records made by the copy the keys belong to.
    const cases = [
      [new b.ratchet.PreKeyRecord(1, ec), new a.ratchet.PreKeyRecord(1, ec)],
      [new b.ratchet.SignedPreKeyRecord(2, 10, ec, sig), new a.ratchet.SignedPreKeyRecord(2, 10, ec, sig)],
      [new b.ratchet.KyberPreKeyRecord(3, 10, kem, sig), new a.ratchet.KyberPreKeyRecord(3, 10, kem, sig)],
    ] as const;
    for (const [made, expected] of cases) expect(made.serialize()).toEqual(expected.serialize());
  });
});

describe('devices: link and provisioning across copies', () => {
  it('formatLinkDeviceUri, encryptProvisionMessage and ProvisionMessage.from take the other copy’s keys', async () => {
    const a = await load();
    const b = await load();
    const request = await a.ratchet.DeviceLinkRequest.create({ address: 'addr' });
    const own = b.core.PublicKey.deserialize(request.publicKey.serialize());
    expect(b.ratchet.formatLinkDeviceUri('addr', request.publicKey)).toBe(
      b.ratchet.formatLinkDeviceUri('addr', own),
    );
    const aci = await a.core.IdentityKeyPair.generate(a.core.nobleProvider);
    const pni = await a.core.IdentityKeyPair.generate(a.core.nobleProvider);
    const message = b.ratchet.ProvisionMessage.from({
      aciIdentityKeyPair: aci,
      aci: 'aci-1',
      pni: 'pni-1',
      pniIdentityKeyPair: pni,
    });
    expect(message.aciIdentityKeyPair.serialize()).toEqual(aci.serialize());
    const envelope = await b.ratchet.encryptProvisionMessage(request.publicKey, message);
    const opened = await request.open(envelope);
    expect(opened.aciIdentityKeyPair.serialize()).toEqual(aci.serialize());
    expect(opened.pniIdentityKeyPair?.serialize()).toEqual(pni.serialize());
  });
});

it("DeviceFanout.approveIdentity takes the other copy's PublicKey", async () => {
  const a = await load();
  const b = await load();
  const alice = await a.testing.createTestParty('alice', 1);
  const fanout = new a.ratchet.DeviceFanout(alice.store, {
    self: alice.address,
    deviceLists: new a.ratchet.InMemoryDeviceListStore(),
    fetchBundles: async () => [],
  });
  const key = (await b.core.IdentityKeyPair.generate(b.core.nobleProvider)).publicKey;
  await fanout.approveIdentity('bob', key);
  expect((await alice.store.getIdentity({ name: 'bob', deviceId: 1 }))?.serialize()).toEqual(key.serialize());
});

describe('healing across copies', () => {
  it("planRetryResponse and PlaintextContent.from take the other copy's DecryptionErrorMessage", async () => {
    const a = await load();
    const b = await load();
    const dem = a.ratchet.DecryptionErrorMessage.forOriginal(utf8('x'), 7, 1000, 2);
    expect(b.ratchet.PlaintextContent.from(dem).serialize()).toEqual(
      a.ratchet.PlaintextContent.from(dem).serialize(),
    );
    const plan = b.ratchet.planRetryResponse({
      request: dem,
      localDeviceId: 2,
      currentRatchetKey: undefined,
      hasCachedMessage: true,
      decision: { allowed: true },
    } as never);
    expect(plan).toEqual({
      archiveSession: false,
      action: 'resend',
      reshareSenderKey: true,
      reason: 'answered',
    });
  });

  it("HealingCipher: a fetchBundle resolving to the other copy's bundle starts the session", async () => {
    const a = await load();
    const b = await load();
    const alice = await a.testing.createTestParty('alice', 1);
    const bob = await b.testing.createTestParty('bob', 1);
    const healer = new a.ratchet.HealingCipher({
      store: alice.store,
      localAddress: alice.address,
      resendCache: await a.ratchet.ResendCache.create({
        key: new Uint8Array(32).fill(1),
        store: new a.testing.InMemoryResendStore(),
      }),
      fetchBundle: async () => bob.bundle(),
      sendRetryRequest: async () => {},
      resend: async () => {},
    });
    const wire = await healer.encrypt(bob.address, utf8('via a fetched bundle'), 1);
    expect(text((await bob.cipher(alice.address).decrypt(wire)).plaintext)).toBe('via a fetched bundle');
  });
});

describe('a branded object that is not what it claims: the refusal bad bytes get, nothing written', () => {
  it('a forged PreKeyBundle or DecryptionErrorMessage', async () => {
    const a = await load();
    const alice = await a.testing.createTestParty('alice', 1);
    const before = [...alice.store.snapshot()];
    const brand = (name: string) => Symbol.for(`@e2ee-kit/ratchet/${name}@1`);
    const serializers: (() => unknown)[] = [
      () => {
        throw new Error('broken');
      },
      () => 'not bytes',
      () => Uint8Array.of(0x06, 0x01, 0xff),
      () => new Uint8Array(1 << 20),
    ];
    for (const serialize of serializers) {
      const bundle = { [brand('PreKeyBundle')]: true, serialize };
      const e = await caught(() => alice.cipher({ name: 'bob', deviceId: 1 }).initiate(bundle as never));
      expect(a.core.E2eeError.is(e, 'DECODE')).toBe(true);
      const dem = { [brand('DecryptionErrorMessage')]: true, serialize };
      expect(
        a.core.E2eeError.is(await caught(() => a.ratchet.PlaintextContent.from(dem as never)), 'DECODE'),
      ).toBe(true);
    }
    // Without the brand: the TypeError as before.
    expect(
      await caught(() => alice.cipher({ name: 'bob', deviceId: 1 }).initiate({} as never)),
    ).toBeInstanceOf(TypeError);
    expect([...alice.store.snapshot()]).toEqual(before);
  });
});
