// Issue 11.1: every byte-taking entry of core, on every provider, with plain arrays, offset views and
// pooled Node Buffers: the caller's bytes (and the bytes around them) stay as they were, results match
// the plain-array call, and overwriting the caller's buffer afterwards changes nothing we returned.
import {
  concatBytes,
  constantTimeEqual,
  copyBytes,
  decodeVarint,
  fromUtf8,
  generateKemKeyPair,
  IdentityKeyPair,
  KemPublicKey,
  KemSecretKey,
  KemType,
  kemDecapsulate,
  kemEncapsulate,
  nobleProvider,
  PrivateKey,
  ProtoReader,
  PublicKey,
  toBase64,
  toHex,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { MemoryBackend } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf, shapes } from '../../../tools/caller-bytes.js';
import { allProviders } from '../../../tools/providers.js';

const hex = (s: string) => Uint8Array.from(Buffer.from(s, 'hex'));
// RFC 7748 §6.1.
const ALICE_PRIV = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
const ALICE_PUB = hex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
const BOB_PUB = hex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
const SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
/**
 * A form of ALICE_PRIV no earlier call used: X25519 ignores the low 3 bits and the top bit (RFC 7748
 * clamping), so each form gives the same answers, yet misses the providers' content-keyed key caches
 * (a cache hit would skip the import path that once wiped the caller's bytes).
 */
let variant = 0;
function freshAlicePriv(): Uint8Array {
  const v = variant++;
  if (v >= 16) throw new Error('test setup: out of ALICE_PRIV variants');
  const k = ALICE_PRIV.slice();
  k[0] = ((k[0] as number) & 0xf8) | (v & 7);
  k[31] = ((k[31] as number) & 0x7f) | ((v & 8) << 4);
  return k;
}

const key32 = Uint8Array.from({ length: 32 }, (_, i) => (i * 7 + 3) & 0xff);
const nonce12 = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
const iv16 = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 - i);
const data = Uint8Array.from({ length: 77 }, (_, i) => (i * 13) & 0xff);
const aad = Uint8Array.from({ length: 9 }, (_, i) => 0x40 + i);
const bulk = Uint8Array.from({ length: 5000 }, (_, i) => (i * 31) & 0xff); // past the Web Crypto threshold

describe.each(allProviders)('provider $label: caller bytes', ({ provider }) => {
  it.each(shapes)('x25519 with a $name private key: RFC 7748 answer, caller key intact', async ({ make }) => {
    // A key the cache has not seen (the import path), then the same again (the cache hit).
    const priv = freshAlicePriv();
    for (let i = 0; i < 2; i++) {
      await checkCallerBytes(make, [priv, BOB_PUB], (priv, pub) => provider.x25519(priv, pub), hexOf, SHARED);
    }
    await checkCallerBytes(
      make,
      [ALICE_PRIV],
      (priv) => provider.x25519PublicKey(priv),
      hexOf,
      hexOf(ALICE_PUB),
    );
  });

  it.each(foreignShapes)('every primitive accepts a $name and leaves it alone', async ({ make }) => {
    const p = provider;
    const cases: Array<[string, Uint8Array[], (...a: Uint8Array[]) => Promise<unknown> | unknown]> = [
      ['sha256', [data], (d) => p.sha256(d)],
      ['sha256 bulk', [bulk], (d) => p.sha256(d)],
      ['sha512', [data], (d) => p.sha512(d)],
      ['sha512Sync', [data, aad], (a, b) => p.sha512Sync(a, b)],
      ['sha512IterateSync', [data, aad], (a, b) => p.sha512IterateSync?.(a, b, 3)],
      ['hmacSha256', [key32, data], (k, d) => p.hmacSha256(k, d)],
      ['hmacSha256 bulk', [key32, bulk], (k, d) => p.hmacSha256(k, d)],
      ['hmacSha512', [key32, data], (k, d) => p.hmacSha512(k, d)],
      ['hkdfSha256', [key32, iv16, aad], (k, s, i) => p.hkdfSha256(k, s, i, 80)],
      ['hkdfSha256 bulk', [bulk, iv16, aad], (k, s, i) => p.hkdfSha256(k, s, i, 80)],
      ['aes256CbcEncrypt', [key32, iv16, bulk], (k, iv, d) => p.aes256CbcEncrypt(k, iv, d)],
      ['aes256GcmEncrypt', [key32, nonce12, bulk, aad], (k, n, d, a) => p.aes256GcmEncrypt(k, n, d, a)],
      [
        'chacha20Poly1305Encrypt',
        [key32, nonce12, data, aad],
        (k, n, d, a) => p.chacha20Poly1305Encrypt(k, n, d, a),
      ],
      ['ed25519Sign', [key32, data], (s, m) => p.ed25519Sign(s, m)],
      ['ed25519PublicKey', [key32], (s) => p.ed25519PublicKey(s)],
    ];
    for (const [name, inputs, call] of cases) {
      const expected = hexOf(await call(...inputs.map((x) => x.slice())));
      await checkCallerBytes(make, inputs, call, hexOf, expected).catch((e: Error) => {
        throw new Error(`${name}: ${e.message}`);
      });
    }
    // Decryption and verification with the caller's ciphertexts and signatures.
    const cbc = await p.aes256CbcEncrypt(key32, iv16, bulk);
    await checkCallerBytes(
      make,
      [key32, iv16, cbc],
      (k, iv, c) => p.aes256CbcDecrypt(k, iv, c),
      hexOf,
      hexOf(bulk),
    );
    const gcm = await p.aes256GcmEncrypt(key32, nonce12, bulk, aad);
    const gcmOpen = (k: Uint8Array, n: Uint8Array, c: Uint8Array, a: Uint8Array) =>
      p.aes256GcmDecrypt(k, n, c, a);
    await checkCallerBytes(make, [key32, nonce12, gcm, aad], gcmOpen, hexOf, hexOf(bulk));
    const cc = await p.chacha20Poly1305Encrypt(key32, nonce12, data, aad);
    const ccOpen = (k: Uint8Array, n: Uint8Array, c: Uint8Array, a: Uint8Array) =>
      p.chacha20Poly1305Decrypt(k, n, c, a);
    await checkCallerBytes(make, [key32, nonce12, cc, aad], ccOpen, hexOf, hexOf(data));
    const edPub = await p.ed25519PublicKey(key32);
    const sig = await p.ed25519Sign(key32, data);
    await checkCallerBytes(
      make,
      [edPub, data, sig],
      (k, m, s) => p.ed25519Verify(k, m, s),
      (ok) => ok,
      true,
    );
  });

  it.each(foreignShapes)('keys, XEdDSA and KEM built from a $name keep no view of it', async ({ make }) => {
    const priv = await checkCallerBytes(
      make,
      [ALICE_PRIV],
      (b) => PrivateKey.deserialize(b),
      (k) => hexOf(k.serialize()),
    );
    const pub = await checkCallerBytes(
      make,
      [concatBytes(Uint8Array.of(5), BOB_PUB)],
      (b) => PublicKey.deserialize(b),
      (k) => hexOf(k.serialize()),
    );
    await checkCallerBytes(
      make,
      [BOB_PUB],
      (b) => PublicKey.fromRaw(b),
      (k) => hexOf(k.raw()),
      hexOf(BOB_PUB),
    );
    expect(toHex(await priv.agree(pub, provider))).toBe(SHARED);
    const identity = new IdentityKeyPair(PublicKey.fromRaw(ALICE_PUB), priv).serialize();
    await checkCallerBytes(
      make,
      [identity],
      (b) => IdentityKeyPair.deserialize(b),
      (k) => hexOf(k.serialize()),
      hexOf(identity),
    );
    // XEdDSA: the message, the random and the signature may all be the caller's Buffers.
    const random = new Uint8Array(64).fill(9);
    const sig = xeddsaSign(priv, data, provider, random.slice());
    await checkCallerBytes(
      make,
      [data, random],
      (m, z) => xeddsaSign(priv, m, provider, z),
      hexOf,
      hexOf(sig),
    );
    const alicePub = PublicKey.fromRaw(ALICE_PUB);
    await checkCallerBytes(
      make,
      [data, sig],
      (m, s) => xeddsaVerify(alicePub, m, s, provider),
      (ok) => ok,
      true,
    );
    // KEM keys, encapsulation with a given random, decapsulation of the caller's ciphertext.
    const kp = generateKemKeyPair(nobleProvider, KemType.Kyber1024);
    const pubBytes = kp.publicKey.serialize();
    const secBytes = kp.secretKey.serialize();
    const kpub = await checkCallerBytes(
      make,
      [pubBytes],
      (b) => KemPublicKey.deserialize(b),
      (k) => hexOf(k.serialize()),
      hexOf(pubBytes),
    );
    await checkCallerBytes(
      make,
      [pubBytes.subarray(1)],
      (b) => KemPublicKey.fromRaw(KemType.Kyber1024, b),
      (k) => hexOf(k.serialize()),
      hexOf(pubBytes),
    );
    const ksec = await checkCallerBytes(
      make,
      [secBytes],
      (b) => KemSecretKey.deserialize(b),
      (k) => hexOf(k.serialize()),
      hexOf(secBytes),
    );
    const r = new Uint8Array(32).fill(4);
    const enc = kemEncapsulate(kpub, provider, r.slice());
    await checkCallerBytes(
      make,
      [r],
      (z) => kemEncapsulate(kpub, provider, z),
      (e) => hexOf([e.ciphertext, e.sharedSecret]),
    );
    await checkCallerBytes(
      make,
      [enc.ciphertext],
      (c) => kemDecapsulate(c, ksec),
      hexOf,
      hexOf(enc.sharedSecret),
    );
  });
});

describe('byte helpers and codecs: caller bytes', () => {
  it.each(foreignShapes)('read a $name without writing to it or keeping a view', async ({ make }) => {
    const text = new TextEncoder().encode('grüße');
    await checkCallerBytes(
      make,
      [data],
      (d) => toHex(d),
      (s) => s,
      Buffer.from(data).toString('hex'),
    );
    await checkCallerBytes(
      make,
      [data],
      (d) => toBase64(d),
      (s) => s,
      Buffer.from(data).toString('base64'),
    );
    await checkCallerBytes(
      make,
      [text],
      (d) => fromUtf8(d),
      (s) => s,
      'grüße',
    );
    await checkCallerBytes(
      make,
      [data, data.slice()],
      (a, b) => constantTimeEqual(a, b),
      (x) => x,
      true,
    );
    await checkCallerBytes(
      make,
      [data, aad],
      (a, b) => concatBytes(a, b),
      hexOf,
      hexOf(Buffer.concat([data, aad])),
    );
    await checkCallerBytes(make, [data], (d) => copyBytes(d, 3, 40), hexOf, hexOf(data.slice(3, 40)));
    await checkCallerBytes(
      make,
      [Uint8Array.of(0xac, 0x02)],
      (b) => decodeVarint(b),
      (v) => v,
      { value: 300, next: 2 },
    );
    // A protobuf field read from the caller's buffer is a copy (field 1, 5 bytes).
    const msg = Uint8Array.of(0x0a, 5, 1, 2, 3, 4, 5);
    await checkCallerBytes(
      make,
      [msg],
      (b) => {
        const r = new ProtoReader(b);
        r.next();
        return r.bytes();
      },
      hexOf,
      '0102030405',
    );
    // The testing backend stores a copy.
    const backend = new MemoryBackend();
    await checkCallerBytes(
      make,
      [data],
      async (d) => {
        await backend.set('k', d);
        return backend;
      },
      async (b) => hexOf(await b.get('k')),
      hexOf(data),
    );
  });

  it('copyBytes always returns a plain Uint8Array that owns its whole buffer', () => {
    const pooled = Buffer.from('0123456789');
    for (const c of [copyBytes(pooled), copyBytes(pooled, 2, 5), copyBytes(new Uint8Array(0))]) {
      expect(Object.getPrototypeOf(c)).toBe(Uint8Array.prototype);
      expect(c.byteOffset).toBe(0);
      expect(c.buffer.byteLength).toBe(c.length);
    }
    expect(Buffer.from(copyBytes(pooled, 2, 5)).toString()).toBe('234');
    expect(() => copyBytes(pooled, 5, 2)).toThrow(RangeError);
    expect(() => copyBytes(pooled, 0, 11)).toThrow(RangeError);
    expect(() => copyBytes('x' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
