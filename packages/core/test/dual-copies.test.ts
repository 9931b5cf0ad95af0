// Two copies of @e2ee-kit/core in one app (the dual-package hazard: the app `import`s it, a
// dependency `require`s it, or a bundle holds two versions): each copy has its own key classes. Every
// function that takes a key object takes the other copy's as its own (read through its serialized
// form), and a forged object that claims to be a key is refused as bad bytes are. The second copy is a
// second module instance of the same sources (vi.resetModules), which is what loading the other build
// gives.
import { afterEach, describe, expect, it, vi } from 'vitest';

type Core = typeof import('@e2ee-kit/core');
type Testing = typeof import('@e2ee-kit/core/testing');

async function load(): Promise<Core & { testing: Testing }> {
  vi.resetModules();
  const core = await import('@e2ee-kit/core');
  return { ...core, testing: await import('@e2ee-kit/core/testing') };
}

afterEach(() => void vi.resetModules());

const utf8 = (s: string) => new TextEncoder().encode(s);
const bob = { name: 'bob', deviceId: 1 };

/** The error `f` throws (or rejects with). */
async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal');
}

it('two copies are two sets of key classes', async () => {
  const a = await load();
  const b = await load();
  expect(b.PublicKey).not.toBe(a.PublicKey);
  const key = (await a.IdentityKeyPair.generate(a.nobleProvider)).publicKey;
  expect(key instanceof b.PublicKey).toBe(false);
});

describe("core's functions take the other copy's keys", () => {
  it('PublicKey.equals both ways, and from() gives this copy an equal key', async () => {
    const a = await load();
    const b = await load();
    const pa = (await a.IdentityKeyPair.generate(a.nobleProvider)).publicKey;
    const pb = b.PublicKey.deserialize(pa.serialize());
    const other = (await b.IdentityKeyPair.generate(b.nobleProvider)).publicKey;
    expect(pa.equals(pb)).toBe(true);
    expect(pb.equals(pa)).toBe(true);
    expect(pa.equals(other)).toBe(false);
    expect(other.equals(pa)).toBe(false);
    const own = b.PublicKey.from(pa);
    expect(own).toBeInstanceOf(b.PublicKey);
    expect(own.serialize()).toEqual(pa.serialize());
    // This copy's own key: the same object, nothing re-read.
    expect(b.PublicKey.from(pb)).toBe(pb);
  });

  it('PrivateKey.agree with the other copy’s PublicKey: the same secret as within one copy', async () => {
    const a = await load();
    const b = await load();
    const alice = await a.KeyPair.generate(a.nobleProvider);
    const bobPair = await b.KeyPair.generate(b.nobleProvider);
    // The expected value: bob's agreement with alice's key as copy a's own object (no crossing).
    const expected = await a.PrivateKey.deserialize(bobPair.privateKey.serialize()).agree(
      alice.publicKey,
      a.nobleProvider,
    );
    expect(await bobPair.privateKey.agree(alice.publicKey, b.nobleProvider)).toEqual(expected);
    expect(await alice.privateKey.agree(bobPair.publicKey, a.nobleProvider)).toEqual(expected);
  });

  it('xeddsaSign with the other copy’s PrivateKey, xeddsaVerify with its PublicKey', async () => {
    const a = await load();
    const b = await load();
    const pair = await a.IdentityKeyPair.generate(a.nobleProvider);
    const message = utf8('signed pre-key');
    const random = new Uint8Array(64).fill(7);
    // Deterministic with `random` given: copy a's signature of its own key is the expected one.
    const expected = a.xeddsaSign(pair.privateKey, message, a.nobleProvider, random);
    expect(b.xeddsaSign(pair.privateKey, message, b.nobleProvider, random)).toEqual(expected);
    expect(await b.xeddsaVerify(pair.publicKey, message, expected, b.nobleProvider)).toBe(true);
    expect(await b.xeddsaVerify(pair.publicKey, utf8('other'), expected, b.nobleProvider)).toBe(false);
    // The other copy's key is not consumed: it still signs in its own copy.
    expect(pair.privateKey.wiped).toBe(false);
    expect(a.xeddsaSign(pair.privateKey, message, a.nobleProvider, random)).toEqual(expected);
    pair.privateKey.wipe();
    expect(a.E2eeError.is(await caught(() => b.xeddsaSign(pair.privateKey, message, b.nobleProvider)))).toBe(
      true,
    );
  });

  it('a wiped KemSecretKey of the other copy is refused as a wiped PrivateKey is, before any read', async () => {
    const a = await load();
    const b = await load();
    const pair = a.generateKemKeyPair(a.nobleProvider);
    const { ciphertext } = b.kemEncapsulate(pair.publicKey, b.nobleProvider);
    pair.secretKey.wipe();
    for (const use of [
      () => b.KemSecretKey.from(pair.secretKey),
      () => b.kemDecapsulate(ciphertext, pair.secretKey),
    ]) {
      const e = await caught(use);
      expect(e).toBeInstanceOf(b.InvalidKeyError);
      expect(b.E2eeError.is(e, 'INVALID_KEY')).toBe(true);
    }
    // A branded object whose `wiped` is missing or throws: unreadable (DECODE), its bytes never asked for.
    let reads = 0;
    const serialize = () => {
      reads++;
      return new Uint8Array(3169).fill(8);
    };
    const none = { [Symbol.for('@e2ee-kit/core/KemSecretKey@1')]: true, serialize };
    const throwing = Object.defineProperty({ ...none }, 'wiped', {
      get: () => {
        throw new Error('c0ffee');
      },
    });
    for (const fake of [none, throwing]) {
      const e = await caught(() => b.KemSecretKey.from(fake));
      expect(b.E2eeError.is(e, 'DECODE')).toBe(true);
      expect(String(e)).not.toContain('c0ffee');
    }
    expect(reads).toBe(0);
  });

  it('kemEncapsulate / kemDecapsulate with the other copy’s KEM keys, and KemPublicKey.equals', async () => {
    const a = await load();
    const b = await load();
    for (const type of [a.KemType.Kyber1024, a.KemType.MlKem1024]) {
      const pair = a.generateKemKeyPair(a.nobleProvider, type);
      const random = new Uint8Array(32).fill(3);
      const expected = a.kemEncapsulate(pair.publicKey, a.nobleProvider, random);
      const enc = b.kemEncapsulate(pair.publicKey, b.nobleProvider, random);
      expect(enc.ciphertext).toEqual(expected.ciphertext);
      expect(enc.sharedSecret).toEqual(expected.sharedSecret);
      expect(b.kemDecapsulate(expected.ciphertext, pair.secretKey)).toEqual(expected.sharedSecret);
      // Still the other copy's working key afterwards.
      expect(a.kemDecapsulate(expected.ciphertext, pair.secretKey)).toEqual(expected.sharedSecret);
      const pb = b.KemPublicKey.deserialize(pair.publicKey.serialize());
      expect(pb.equals(pair.publicKey)).toBe(true);
      expect(pair.publicKey.equals(pb)).toBe(true);
      expect(b.KemSecretKey.from(pair.secretKey).serialize()).toEqual(pair.secretKey.serialize());
    }
  });

  it('KeyPair and IdentityKeyPair from the other copy’s keys and pairs', async () => {
    const a = await load();
    const b = await load();
    const pair = await a.IdentityKeyPair.generate(a.nobleProvider);
    const made = new b.KeyPair(pair.publicKey, pair.privateKey);
    expect(made.publicKey).toBeInstanceOf(b.PublicKey);
    expect(made.privateKey.serialize()).toEqual(pair.privateKey.serialize());
    const id = b.IdentityKeyPair.from(pair);
    expect(id).toBeInstanceOf(b.IdentityKeyPair);
    expect(id.serialize()).toEqual(pair.serialize());
    const plain = await a.KeyPair.generate(a.nobleProvider);
    const asB = b.KeyPair.from(plain);
    expect(asB).toBeInstanceOf(b.KeyPair);
    expect(asB.publicKey.serialize()).toEqual(plain.publicKey.serialize());
    // An identity pair stays one.
    expect(b.KeyPair.from(pair)).toBeInstanceOf(b.IdentityKeyPair);
  });

  it('the identity store: constructed with, and asked about, the other copy’s keys', async () => {
    const a = await load();
    const b = await load();
    const own = await a.IdentityKeyPair.generate(a.nobleProvider);
    const backend = new b.testing.MemoryBackend();
    const store = new b.KeyValueIdentityKeyStore({
      identityKeyPair: own,
      registrationId: 7,
      backend,
      policy: 'blockOnChange',
    });
    expect((await store.getIdentityKeyPair()).serialize()).toEqual(own.serialize());
    const k1 = (await a.IdentityKeyPair.generate(a.nobleProvider)).publicKey;
    const k2 = (await a.IdentityKeyPair.generate(a.nobleProvider)).publicKey;
    expect(await store.saveIdentity(bob, k1)).toEqual({ kind: 'new' });
    expect(await store.saveIdentity(bob, k1)).toEqual({ kind: 'unchanged' });
    expect(await store.isTrustedIdentity(bob, k1, 'sending')).toBe(true);
    // blockOnChange: a changed key is not trusted until approved.
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(false);
    await store.approve(bob, k2);
    expect(await store.isTrustedIdentity(bob, k2, 'sending')).toBe(true);
    const entry = await store.getIdentityEntry(bob);
    const change = await store.saveIdentity(bob, k2);
    expect(change.kind).toBe('replaced');
    expect((await store.getIdentity(bob))?.serialize()).toEqual(k2.serialize());
    await store.restoreIdentityEntry(bob, entry, k2);
    expect((await store.getIdentity(bob))?.serialize()).toEqual(k1.serialize());
  });
});

/** A forged object with the brand of `name` whose `serialize` is `serialize`. */
function forged(name: string, serialize: () => unknown, extra: object = {}): object {
  return { [Symbol.for(`@e2ee-kit/core/${name}@1`)]: true, serialize, ...extra };
}

describe('a branded object that is not a key: the refusal bad bytes get, nothing of it printed', () => {
  const SECRET = 'c0ffee'.repeat(10);
  const throwing = () => {
    throw new Error(`secret ${SECRET}`);
  };

  it('PublicKey: throwing, not bytes, wrong length, wrong type byte, a proxy', async () => {
    const b = await load();
    const good = (await b.IdentityKeyPair.generate(b.nobleProvider)).publicKey;
    const cases: [() => unknown, string][] = [
      [throwing, 'DECODE'],
      [() => 'not bytes', 'DECODE'],
      [() => new Uint8Array(32), 'DECODE'],
      [() => new Uint8Array(1 << 20), 'DECODE'],
      [() => Uint8Array.of(0x06, ...new Uint8Array(32)), 'INVALID_KEY'],
      [() => new Proxy(new Uint8Array(33), {}), 'DECODE'],
    ];
    for (const [serialize, code] of cases) {
      const fake = forged('PublicKey', serialize);
      for (const call of [
        () => b.PublicKey.from(fake),
        () => good.equals(fake as never),
        () => b.xeddsaVerify(fake as never, utf8('m'), new Uint8Array(64), b.nobleProvider),
      ]) {
        const e = await caught(call);
        expect(b.E2eeError.is(e, code as 'DECODE')).toBe(true);
        expect(String(e)).not.toContain(SECRET);
      }
    }
    // The refusal bytes from anywhere get.
    const wrongType = await caught(() => b.PublicKey.deserialize(Uint8Array.of(0x06, ...new Uint8Array(32))));
    expect((wrongType as { code: string }).code).toBe('INVALID_KEY');
  });

  it('a key whose serialize gives different bytes each call: read once, the key is that read', async () => {
    const b = await load();
    const keys = [await b.KeyPair.generate(b.nobleProvider), await b.KeyPair.generate(b.nobleProvider)];
    let calls = 0;
    const fake = forged('PublicKey', () => keys[calls++ % 2]?.publicKey.serialize());
    const own = b.PublicKey.from(fake);
    expect(calls).toBe(1);
    expect(own.equals(keys[0]?.publicKey as never)).toBe(true);
  });

  it('PrivateKey and IdentityKeyPair: no secret in the error, no cause, temporary bytes wiped', async () => {
    const b = await load();
    const pair = await b.IdentityKeyPair.generate(b.nobleProvider);
    for (const [name, serialize] of [
      ['PrivateKey', throwing],
      ['PrivateKey', () => new Uint8Array(31).fill(0xc0)],
      ['PrivateKey', () => [1, 2, 3]],
      ['IdentityKeyPair', throwing],
      ['IdentityKeyPair', () => new Uint8Array(1 << 20)],
      ['IdentityKeyPair', () => Uint8Array.of(0x0a, 0x02, 0x05)],
    ] as const) {
      const fake = forged(name, serialize, { wiped: false });
      const use =
        name === 'PrivateKey'
          ? () => b.xeddsaSign(fake as never, utf8('m'), b.nobleProvider)
          : () => b.IdentityKeyPair.from(fake);
      const e = await caught(use);
      expect(b.E2eeError.is(e, 'DECODE')).toBe(true);
      expect(String(e)).not.toContain(SECRET);
      expect((e as { cause?: unknown }).cause).toBeUndefined();
    }
    // A good serialization is read, and the temporary it was handed is overwritten.
    const handed = pair.privateKey.serialize();
    const key = b.PrivateKey.from(forged('PrivateKey', () => handed, { wiped: false }));
    expect(key.serialize()).toEqual(pair.privateKey.serialize());
    expect(handed).toEqual(new Uint8Array(32));
    const handedPair = pair.serialize();
    expect(b.IdentityKeyPair.from(forged('IdentityKeyPair', () => handedPair)).serialize()).toEqual(
      pair.serialize(),
    );
    expect(handedPair).toEqual(new Uint8Array(handedPair.length));
  });

  it('a PrivateKey that says it is wiped, has no wiped flag, or whose wiped getter throws: refused before any read', async () => {
    const b = await load();
    let reads = 0;
    const serialize = () => {
      reads++;
      return new Uint8Array(32).fill(1);
    };
    const wiped = await caught(() => b.PrivateKey.from(forged('PrivateKey', serialize, { wiped: true })));
    expect(b.E2eeError.is(wiped, 'INVALID_KEY')).toBe(true);
    const getter = forged('PrivateKey', serialize);
    Object.defineProperty(getter, 'wiped', {
      get: () => {
        throw new Error(SECRET);
      },
    });
    const e = await caught(() => b.PrivateKey.from(getter));
    expect(b.E2eeError.is(e, 'DECODE')).toBe(true);
    expect(String(e)).not.toContain(SECRET);
    // No `wiped` at all (not a PrivateKey of any copy): refused as unreadable, not as wiped.
    const none = await caught(() => b.PrivateKey.from(forged('PrivateKey', serialize)));
    expect(b.E2eeError.is(none, 'DECODE')).toBe(true);
    expect(reads).toBe(0);
  });

  it('KEM keys: wrong length or type, a KEM public key handed as a secret key', async () => {
    const b = await load();
    const pair = b.generateKemKeyPair(b.nobleProvider);
    const ct = b.kemEncapsulate(pair.publicKey, b.nobleProvider).ciphertext;
    const pub = forged('KemPublicKey', () => new Uint8Array(1569).fill(0x08).subarray(1));
    expect(
      b.E2eeError.is(await caught(() => b.kemEncapsulate(pub as never, b.nobleProvider)), 'DECODE'),
    ).toBe(true);
    const sec = forged('KemSecretKey', () => pair.publicKey.serialize(), { wiped: false });
    expect(b.E2eeError.is(await caught(() => b.kemDecapsulate(ct, sec as never)), 'DECODE')).toBe(true);
  });

  it('without the brand: the TypeError as before, for every class', async () => {
    const b = await load();
    const pair = await b.KeyPair.generate(b.nobleProvider);
    const plain = { serialize: () => pair.publicKey.serialize() };
    for (const f of [
      () => b.PublicKey.from(plain),
      () => pair.publicKey.equals(plain as never),
      () => pair.privateKey.agree(plain as never, b.nobleProvider),
      () => b.PrivateKey.from(plain),
      () => b.KeyPair.from(plain),
      () => b.IdentityKeyPair.from(pair),
      () => new b.KeyPair(plain as never, pair.privateKey),
      () => b.KemPublicKey.from(plain),
      () => b.KemSecretKey.from(plain),
    ]) {
      expect(await caught(f)).toBeInstanceOf(TypeError);
    }
  });
});
