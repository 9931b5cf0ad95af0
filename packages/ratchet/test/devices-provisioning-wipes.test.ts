// A provision message carries the account's identity private keys (and backup secrets): every
// temporary copy of them the library makes while decoding, encrypting or decrypting one is
// overwritten once used, on success and on each refusal. What is observed: every Uint8Array made
// while the call runs (constructed, sliced, viewed), and every array handed to or returned by the
// crypto provider; after the call none may still hold a secret, except the one copy the result owns.
import {
  type CryptoProvider,
  DecodeError,
  E2eeError,
  IdentityKeyPair,
  KeyPair,
  nobleProvider,
  PrivateKey,
  ProtoWriter,
  PublicKey,
} from '@e2ee-kit/core';
import { decryptProvisionEnvelope, encryptProvisionMessage, ProvisionMessage } from '@e2ee-kit/ratchet';
import { afterEach, describe, expect, it, vi } from 'vitest';

const provider = nobleProvider;
const ACI = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const PNI = 'PNI:e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const utf8 = (s: string) => new TextEncoder().encode(s);

afterEach(() => {
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

/**
 * Calls of `recordingProvider`'s methods under way. What a provider copies inside its own primitives
 * (noble's scalar decoding, say) is the provider's, not this library's: not counted.
 */
let insideProvider = 0;

/** Every Uint8Array made while `f` runs: `new Uint8Array(…)`, `Uint8Array.of/from`, `slice`, `subarray`. */
async function arraysMadeDuring(f: () => unknown): Promise<{ arrays: Uint8Array[]; error: unknown }> {
  const arrays: Uint8Array[] = [];
  const Original = Uint8Array;
  const recorder: typeof Uint8Array = new Proxy(Original, {
    construct(target, args, newTarget) {
      const a = Reflect.construct(target, args, newTarget === recorder ? target : newTarget) as Uint8Array;
      if (insideProvider === 0) arrays.push(a);
      return a;
    },
  });
  const { slice, subarray } = Original.prototype;
  const proto = Original.prototype as unknown as Record<string, unknown>;
  proto['slice'] = function (this: Uint8Array, ...args: [number?, number?]) {
    const a = slice.apply(this, args);
    if (insideProvider === 0) arrays.push(a);
    return a;
  };
  proto['subarray'] = function (this: Uint8Array, ...args: [number?, number?]) {
    const a = subarray.apply(this, args);
    if (insideProvider === 0) arrays.push(a);
    return a;
  };
  vi.stubGlobal('Uint8Array', recorder);
  let error: unknown;
  try {
    await f();
  } catch (err) {
    error = err;
  } finally {
    vi.unstubAllGlobals();
    proto['slice'] = slice;
    proto['subarray'] = subarray;
  }
  return { arrays, error };
}

/**
 * The arrays that are copies: not views of `owners`' memory (the caller's own bytes, the storage of
 * the keys the result owns, which `serialize()` copies out of through a view).
 */
function copiesAmong(arrays: Uint8Array[], ...owners: (Uint8Array | undefined)[]): Uint8Array[] {
  const theirs = new Set(owners.flatMap((o) => (o === undefined ? [] : [o.buffer])));
  return arrays.filter((a) => !theirs.has(a.buffer));
}

/** Whether `haystack` contains `needle` as consecutive bytes. */
function holds(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const holding = (arrays: Uint8Array[], secret: Uint8Array) => arrays.filter((a) => holds(a, secret)).length;

interface Secrets {
  aci: IdentityKeyPair;
  pni: IdentityKeyPair;
  profileKey: Uint8Array;
  mediaRootBackupKey: Uint8Array;
  ephemeralBackupKey: Uint8Array;
  accountEntropyPool: string;
}

async function secrets(): Promise<Secrets> {
  return {
    aci: await IdentityKeyPair.generate(provider),
    pni: await IdentityKeyPair.generate(provider),
    profileKey: new Uint8Array(32).map((_, i) => 0x40 + i),
    mediaRootBackupKey: new Uint8Array(32).map((_, i) => 0x80 + i),
    ephemeralBackupKey: new Uint8Array(32).map((_, i) => 0xc0 + i),
    accountEntropyPool: 'aep'.repeat(21) + 'x',
  };
}

/**
 * Provisioning.proto written field by field from the spec's numbers (1/2 ACI public/private, 6
 * profileKey, 8 aci, 10 pni, 11/12 PNI public/private, 14 ephemeralBackupKey, 15 accountEntropyPool,
 * 16 mediaRootBackupKey). `edit` changes the writer before or after the standard fields.
 */
function encode(
  s: Secrets,
  edit: { before?: (w: ProtoWriter) => void; after?: (w: ProtoWriter) => void; aci?: boolean } = {},
) {
  const w = new ProtoWriter();
  edit.before?.(w);
  w.bytes(1, s.aci.publicKey.serialize()).bytes(2, s.aci.privateKey.serialize());
  w.bytes(6, s.profileKey);
  if (edit.aci !== false) w.string(8, ACI);
  w.string(10, PNI).bytes(11, s.pni.publicKey.serialize()).bytes(12, s.pni.privateKey.serialize());
  w.bytes(14, s.ephemeralBackupKey).string(15, s.accountEntropyPool).bytes(16, s.mediaRootBackupKey);
  edit.after?.(w);
  return w.finish();
}

/** No array made during the call holds a private key or (the message refused) any other secret. */
function expectWiped(arrays: Uint8Array[], s: Secrets, kept: boolean) {
  expect(holding(arrays, s.aci.privateKey.serialize())).toBe(0);
  expect(holding(arrays, s.pni.privateKey.serialize())).toBe(0);
  // The message keeps the string; the UTF-8 bytes it was decoded from are a temporary.
  expect(holding(arrays, utf8(s.accountEntropyPool))).toBe(0);
  // A message that was made owns one copy of each byte field; a refused one owns none.
  for (const field of [s.profileKey, s.mediaRootBackupKey, s.ephemeralBackupKey])
    expect(holding(arrays, field)).toBe(kept ? 1 : 0);
}

describe('ProvisionMessage.deserialize leaves no copy of a secret behind', () => {
  it('a message with both identities and backup secrets: only the message holds them', async () => {
    const s = await secrets();
    const bytes = encode(s);
    const before = bytes.slice();
    let message: ProvisionMessage | undefined;
    const { arrays, error } = await arraysMadeDuring(() => {
      message = ProvisionMessage.deserialize(bytes);
    });
    expect(error).toBeUndefined();
    expect(message?.aciIdentityKeyPair.privateKey.serialize()).toEqual(s.aci.privateKey.serialize());
    expect(message?.pniIdentityKeyPair?.privateKey.serialize()).toEqual(s.pni.privateKey.serialize());
    expect(message?.accountEntropyPool).toBe(s.accountEntropyPool);
    expect(message?.mediaRootBackupKey).toEqual(s.mediaRootBackupKey);
    const kept = message?.pniIdentityKeyPair?.privateKey.rawView;
    expectWiped(copiesAmong(arrays, bytes, message?.aciIdentityKeyPair.privateKey.rawView, kept), s, true);
    expect(bytes).toEqual(before); // the caller's bytes are never written to
  });

  it('a repeated private-key field (the last one wins): the earlier key is wiped too', async () => {
    const s = await secrets();
    const earlier = await IdentityKeyPair.generate(provider);
    const bytes = encode(s, { before: (w) => w.bytes(2, earlier.privateKey.serialize()) });
    let message: ProvisionMessage | undefined;
    const { arrays, error } = await arraysMadeDuring(() => {
      message = ProvisionMessage.deserialize(bytes);
    });
    expect(error).toBeUndefined();
    expect(message?.aciIdentityKeyPair.privateKey.serialize()).toEqual(s.aci.privateKey.serialize());
    const copies = copiesAmong(
      arrays,
      bytes,
      message?.aciIdentityKeyPair.privateKey.rawView,
      message?.pniIdentityKeyPair?.privateKey.rawView,
    );
    expect(holding(copies, earlier.privateKey.serialize())).toBe(0);
    expectWiped(copies, s, true);
  });

  const refusals: [string, (s: Secrets) => Uint8Array][] = [
    ['no ACI string', (s) => encode(s, { aci: false })],
    ['a 31-byte media root backup key', (s) => encode(s, { after: (w) => w.bytes(16, new Uint8Array(31)) })],
    [
      'an aciBinary that disagrees with the ACI string',
      (s) => encode(s, { after: (w) => w.bytes(17, new Uint8Array(16)) }),
    ],
    [
      'a user agent over the cap, after the keys',
      (s) => encode(s, { after: (w) => w.string(5, 'u'.repeat(5000)) }),
    ],
    ['truncated after the keys', (s) => encode(s, { after: (w) => w.uint32(19, 0) }).subarray(0, -1)],
    [
      'a PNI key pair without its PNI',
      (s) => {
        const w = new ProtoWriter()
          .bytes(1, s.aci.publicKey.serialize())
          .bytes(2, s.aci.privateKey.serialize());
        w.bytes(6, s.profileKey)
          .string(8, ACI)
          .bytes(11, s.pni.publicKey.serialize())
          .bytes(12, s.pni.privateKey.serialize());
        return w
          .bytes(14, s.ephemeralBackupKey)
          .string(15, s.accountEntropyPool)
          .bytes(16, s.mediaRootBackupKey)
          .finish();
      },
    ],
  ];
  for (const [name, make] of refusals)
    it(`refused (${name}): DecodeError, every secret copy wiped, the decoded keys too`, async () => {
      const s = await secrets();
      const bytes = make(s);
      const keys: PrivateKey[] = [];
      const deserialize = PrivateKey.deserialize;
      vi.spyOn(PrivateKey, 'deserialize').mockImplementation((b: Uint8Array) => {
        const k = deserialize.call(PrivateKey, b);
        keys.push(k);
        return k;
      });
      const { arrays, error } = await arraysMadeDuring(() => ProvisionMessage.deserialize(bytes));
      expect(error).toBeInstanceOf(DecodeError);
      expectWiped(copiesAmong(arrays, bytes), s, false);
      // Key objects made before the refusal are dropped wiped, not holding the identity keys.
      for (const k of keys) expect(k.wiped).toBe(true);
    });
});

/** The provider with every array it is handed as a key or plaintext, or returns as a secret, recorded. */
function recordingProvider(): { provider: CryptoProvider; secrets: Uint8Array[]; ourKeys: Uint8Array[] } {
  const secrets: Uint8Array[] = [];
  const ourKeys: Uint8Array[] = [];
  const p: CryptoProvider = {
    ...nobleProvider,
    x25519PublicKey: (priv: Uint8Array) => nobleProvider.x25519PublicKey(priv),
    async x25519(priv: Uint8Array, pub: Uint8Array) {
      ourKeys.push(priv);
      const out = await nobleProvider.x25519(priv, pub);
      secrets.push(out);
      return out;
    },
    async hkdfSha256(...args: Parameters<CryptoProvider['hkdfSha256']>) {
      secrets.push(args[0]);
      const out = await nobleProvider.hkdfSha256(...args);
      secrets.push(out);
      return out;
    },
    async hmacSha256(key: Uint8Array, data: Uint8Array) {
      secrets.push(key);
      return nobleProvider.hmacSha256(key, data);
    },
    async aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) {
      secrets.push(key, plaintext);
      return nobleProvider.aes256CbcEncrypt(key, iv, plaintext);
    },
    async aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) {
      secrets.push(key);
      const out = await nobleProvider.aes256CbcDecrypt(key, iv, ciphertext);
      secrets.push(out);
      return out;
    },
  };
  // The async primitives counted in `insideProvider` while they run (their copies are not ours).
  const wrapped = new Set([
    'x25519',
    'x25519PublicKey',
    'hkdfSha256',
    'hmacSha256',
    'aes256CbcEncrypt',
    'aes256CbcDecrypt',
  ]);
  const counted = Object.fromEntries(
    Object.entries(p).map(([name, f]) => [
      name,
      typeof f !== 'function' || !wrapped.has(name)
        ? f
        : async (...args: unknown[]) => {
            insideProvider++;
            try {
              return await f(...args);
            } finally {
              insideProvider--;
            }
          },
    ]),
  ) as unknown as CryptoProvider;
  return { provider: counted, secrets, ourKeys };
}

const zero = (a: Uint8Array) => a.every((b) => b === 0);

async function sample(): Promise<{ message: ProvisionMessage; identity: IdentityKeyPair }> {
  const identity = await IdentityKeyPair.generate(provider);
  return { identity, message: ProvisionMessage.from({ aciIdentityKeyPair: identity, aci: ACI }) };
}

describe('the provisioning cipher overwrites its temporary secrets', () => {
  it('encrypt: shared secret, derived keys, the plaintext and the ephemeral private key, all zero after', async () => {
    const { message, identity } = await sample();
    const link = await KeyPair.generate(provider); // the new device's QR-code key
    const rec = recordingProvider();
    const { arrays, error } = await arraysMadeDuring(() =>
      encryptProvisionMessage(link.publicKey, message, { provider: rec.provider }),
    );
    expect(error).toBeUndefined();
    expect(rec.secrets.length).toBeGreaterThanOrEqual(5);
    for (const a of [...rec.secrets, ...rec.ourKeys]) expect(zero(a)).toBe(true);
    // Serializing the message made copies of its private key: none left behind.
    expect(holding(copiesAmong(arrays, identity.privateKey.rawView), identity.privateKey.serialize())).toBe(
      0,
    );
  });

  it('encrypt to a low-order key (the agreement refused): the ephemeral private key is wiped', async () => {
    const { message } = await sample();
    const lowOrder = PublicKey.fromRaw(new Uint8Array(32)); // u = 0: X25519 gives the all-zero secret
    const rec = recordingProvider();
    const e = await encryptProvisionMessage(lowOrder, message, { provider: rec.provider }).catch((x) => x);
    expect(E2eeError.is(e, 'INVALID_KEY_AGREEMENT')).toBe(true);
    expect(rec.ourKeys.length).toBe(1);
    for (const a of [...rec.secrets, ...rec.ourKeys]) expect(zero(a)).toBe(true);
  });

  it('decrypt: shared secret, derived keys and the plaintext zero after; only the message holds the key', async () => {
    const { message, identity } = await sample();
    const link = await KeyPair.generate(provider); // the new device's QR-code key
    const envelope = await encryptProvisionMessage(link.publicKey, message, { provider });
    const rec = recordingProvider();
    let got: ProvisionMessage | undefined;
    const { arrays, error } = await arraysMadeDuring(async () => {
      got = await decryptProvisionEnvelope(envelope, link.privateKey, { provider: rec.provider });
    });
    expect(error).toBeUndefined();
    expect(got?.aciIdentityKeyPair.privateKey.serialize()).toEqual(identity.privateKey.serialize());
    expect(rec.secrets.length).toBeGreaterThanOrEqual(5);
    for (const a of rec.secrets) expect(zero(a)).toBe(true);
    const own = got?.aciIdentityKeyPair.privateKey.rawView;
    expect(holding(copiesAmong(arrays, envelope, own), identity.privateKey.serialize())).toBe(0);
  });

  it('decrypt refused after decoding (the identity key pair does not match): the decoded keys are wiped', async () => {
    const identity = await IdentityKeyPair.generate(provider);
    const other = await IdentityKeyPair.generate(provider);
    // The public half of another pair: encrypted with the cipher itself, since `from` would not check.
    const mismatched = ProvisionMessage.from({
      aciIdentityKeyPair: new IdentityKeyPair(other.publicKey, identity.privateKey),
      aci: ACI,
    });
    const link = await KeyPair.generate(provider); // the new device's QR-code key
    const envelope = await encryptProvisionMessage(link.publicKey, mismatched, { provider });
    const keys: PrivateKey[] = [];
    const deserialize = PrivateKey.deserialize;
    vi.spyOn(PrivateKey, 'deserialize').mockImplementation((b: Uint8Array) => {
      const k = deserialize.call(PrivateKey, b);
      keys.push(k);
      return k;
    });
    const rec = recordingProvider();
    const e = await decryptProvisionEnvelope(envelope, link.privateKey, { provider: rec.provider }).catch(
      (x) => x,
    );
    expect(E2eeError.is(e, 'INVALID_KEY')).toBe(true);
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.wiped).toBe(true);
    for (const a of rec.secrets) expect(zero(a)).toBe(true);
  });
});
