import {
  DecodeError,
  DJB_TYPE,
  E2eeError,
  ErrorCode,
  generateKemKeyPair,
  IdentityKeyPair,
  InvalidKeyError,
  KEM_CIPHERTEXT_LENGTH,
  KEM_PUBLIC_KEY_LENGTH,
  KEM_SECRET_KEY_LENGTH,
  KEM_SHARED_SECRET_LENGTH,
  KemPublicKey,
  KemSecretKey,
  KemType,
  KeyPair,
  kemDecapsulate,
  kemEncapsulate,
  nobleProvider,
  PrivateKey,
  ProtoWriter,
  PublicKey,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { deterministicProvider } from '@e2ee-kit/core/testing';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { caught, same } from './helpers/wycheproof.js';

describe('Curve25519 keys', () => {
  it('public keys serialize as 0x05 ‖ u and round-trip', async () => {
    const k = await PrivateKey.generate(nobleProvider).publicKey(nobleProvider);
    const bytes = k.serialize();
    expect(bytes.length).toBe(33);
    expect(bytes[0]).toBe(DJB_TYPE);
    expect(same(bytes.subarray(1), k.raw())).toBe(true);
    expect(PublicKey.deserialize(bytes).equals(k)).toBe(true);
    expect(PublicKey.fromRaw(k.raw()).equals(k)).toBe(true);
    // Returned bytes are copies: changing them does not change the key.
    bytes[5]! ^= 1;
    k.raw()[0]! ^= 1;
    expect(PublicKey.deserialize(k.serialize()).equals(k)).toBe(true);
  });

  it('public key decoding errors are typed', () => {
    const u = new Uint8Array(32).fill(9);
    expect(() => PublicKey.deserialize(new Uint8Array(0))).toThrow(DecodeError);
    expect(() => PublicKey.deserialize(Uint8Array.of(5, ...u, 0))).toThrow(DecodeError);
    const wrongType = caught(() => PublicKey.deserialize(Uint8Array.of(6, ...u)));
    expect(wrongType).toBeInstanceOf(DecodeError);
    expect(E2eeError.is(wrongType, ErrorCode.InvalidKey)).toBe(true);
    expect(() => PublicKey.fromRaw(u.subarray(1))).toThrow(RangeError);
    expect(() => PublicKey.deserialize('05' as never)).toThrow(TypeError);
  });

  it('private keys are clamped on import and generation (libsignal rule)', () => {
    const raw = new Uint8Array(32).fill(0xff);
    const k = PrivateKey.deserialize(raw);
    const s = k.serialize();
    expect(s[0]).toBe(0xf8);
    expect(s[31]).toBe(0x7f);
    expect(PrivateKey.deserialize(new Uint8Array(32)).serialize()[31]).toBe(0x40);
    expect(raw[0]).toBe(0xff); // input untouched
    for (let i = 0; i < 20; i++) {
      const g = PrivateKey.generate(nobleProvider).serialize();
      expect(g[0]! & 7).toBe(0);
      expect(g[31]! & 0xc0).toBe(0x40);
    }
    expect(() => PrivateKey.deserialize(new Uint8Array(31))).toThrow(DecodeError);
  });

  it('agreement is symmetric on every provider and wipe() clears the key', async () => {
    for (const { provider } of allProviders) {
      const a = await KeyPair.generate(provider);
      const b = await KeyPair.generate(provider);
      const ab = await a.privateKey.agree(b.publicKey, provider);
      const ba = await b.privateKey.agree(a.publicKey, provider);
      expect(same(ab, ba)).toBe(true);
      expect(ab.length).toBe(32);
    }
    const k = PrivateKey.generate(nobleProvider);
    const peer = await k.publicKey(nobleProvider);
    expect(k.wiped).toBe(false);
    k.wipe();
    expect(k.wiped).toBe(true);
    expect(k.serialize().every((x) => x === 0)).toBe(true);
    // A wiped key refuses to work instead of silently using the zero scalar.
    await expect(k.agree(peer, nobleProvider)).rejects.toBeInstanceOf(InvalidKeyError);
    await expect(k.publicKey(nobleProvider)).rejects.toBeInstanceOf(InvalidKeyError);
    expect(() => xeddsaSign(k, new Uint8Array(1), nobleProvider)).toThrow(InvalidKeyError);
  });

  it('repeated XEdDSA signatures with one key object (cached Edwards key) all verify, across providers', async () => {
    const k = PrivateKey.generate(nobleProvider);
    const pub = await k.publicKey(nobleProvider);
    const msg = new Uint8Array(10);
    for (const { provider } of allProviders) {
      for (let i = 0; i < 5; i++) {
        msg[0] = i;
        expect(await xeddsaVerify(pub, msg, xeddsaSign(k, msg, provider), provider)).toBe(true);
      }
    }
    // A second object with the same bytes signs identically for the same randomness.
    const z = new Uint8Array(64).fill(3);
    const twin = PrivateKey.deserialize(k.serialize());
    expect(same(xeddsaSign(twin, msg, nobleProvider, z), xeddsaSign(k, msg, nobleProvider, z))).toBe(true);
  });

  it('agree refuses an all-zero result (low-order point) with INVALID_KEY_AGREEMENT', async () => {
    const k = PrivateKey.generate(nobleProvider);
    for (const { provider } of allProviders) {
      for (const u of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
        const err = await k.agree(PublicKey.fromRaw(u), provider).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidKeyError);
        expect(E2eeError.is(err, ErrorCode.InvalidKeyAgreement)).toBe(true);
      }
    }
  });

  it('isCanonical: libsignal’s incoming base key check', async () => {
    const good = await PrivateKey.generate(nobleProvider).publicKey(nobleProvider);
    expect(good.isCanonical()).toBe(true);
    const top = good.raw();
    top[31]! |= 0x80;
    expect(PublicKey.fromRaw(top).isCanonical()).toBe(false);
    // p itself (2^255 - 19) is not a canonical u-coordinate.
    const p = new Uint8Array(32).fill(0xff);
    p[0] = 0xed;
    p[31] = 0x7f;
    expect(PublicKey.fromRaw(p).isCanonical()).toBe(false);
    // A small-order point (u = 1, order 4) is not torsion-free.
    expect(PublicKey.fromRaw(Uint8Array.of(1, ...new Uint8Array(31))).isCanonical()).toBe(false);
  });

  it('IdentityKeyPair serializes as libsignal’s protobuf {1: public, 2: private}', async () => {
    const pair = await IdentityKeyPair.generate(nobleProvider);
    const bytes = pair.serialize();
    expect(bytes.length).toBe(69);
    expect([...bytes.subarray(0, 3)]).toEqual([0x0a, 0x21, 0x05]);
    const back = IdentityKeyPair.deserialize(bytes);
    expect(back.publicKey.equals(pair.publicKey)).toBe(true);
    expect(same(back.privateKey.serialize(), pair.privateKey.serialize())).toBe(true);
    // Unknown fields are skipped; missing or malformed fields are DecodeErrors.
    const withExtra = new ProtoWriter()
      .bytes(1, pair.publicKey.serialize())
      .uint32(7, 99)
      .bytes(2, pair.privateKey.serialize())
      .finish();
    expect(IdentityKeyPair.deserialize(withExtra).publicKey.equals(pair.publicKey)).toBe(true);
    expect(() => IdentityKeyPair.deserialize(bytes.subarray(0, 40))).toThrow(DecodeError);
    expect(() =>
      IdentityKeyPair.deserialize(new ProtoWriter().bytes(1, pair.publicKey.serialize()).finish()),
    ).toThrow(DecodeError);
    expect(() =>
      IdentityKeyPair.deserialize(new ProtoWriter().uint32(1, 5).bytes(2, new Uint8Array(32)).finish()),
    ).toThrow(DecodeError);
  });
});

describe('KEM (Kyber-1024 0x08, ML-KEM-1024 0x0A)', () => {
  for (const type of [KemType.Kyber1024, KemType.MlKem1024]) {
    it(`round trip and serialization for type 0x0${type.toString(16)} on every provider`, () => {
      for (const { provider } of allProviders) {
        const kp = generateKemKeyPair(provider, type);
        expect(kp.publicKey.type).toBe(type);
        const pk = kp.publicKey.serialize();
        const sk = kp.secretKey.serialize();
        expect(pk.length).toBe(KEM_PUBLIC_KEY_LENGTH + 1);
        expect(sk.length).toBe(KEM_SECRET_KEY_LENGTH + 1);
        expect(pk[0]).toBe(type);
        expect(sk[0]).toBe(type);
        expect(KemPublicKey.deserialize(pk).equals(kp.publicKey)).toBe(true);
        const enc = kemEncapsulate(KemPublicKey.deserialize(pk), provider);
        expect(enc.ciphertext.length).toBe(KEM_CIPHERTEXT_LENGTH + 1);
        expect(enc.ciphertext[0]).toBe(type);
        expect(enc.sharedSecret.length).toBe(KEM_SHARED_SECRET_LENGTH);
        expect(same(kemDecapsulate(enc.ciphertext, KemSecretKey.deserialize(sk)), enc.sharedSecret)).toBe(
          true,
        );
        // A tampered ciphertext decapsulates (implicit rejection) to a different secret, never throws.
        const bad = enc.ciphertext.slice();
        bad[100]! ^= 1;
        expect(same(kemDecapsulate(bad, kp.secretKey), enc.sharedSecret)).toBe(false);
      }
    });
  }

  it('Kyber-1024 and ML-KEM-1024 are different KEMs on the same key material', () => {
    const seed = 'kyber-vs-mlkem';
    const kyber = generateKemKeyPair(deterministicProvider(nobleProvider, seed), KemType.Kyber1024);
    const mlkem = generateKemKeyPair(deterministicProvider(nobleProvider, seed), KemType.MlKem1024);
    // Same K-PKE key bytes, different type byte.
    expect(same(kyber.publicKey.rawView, mlkem.publicKey.rawView)).toBe(true);
    expect(kyber.publicKey.equals(mlkem.publicKey)).toBe(false);
    const r = new Uint8Array(32).fill(7);
    const k = kemEncapsulate(kyber.publicKey, nobleProvider, r);
    const m = kemEncapsulate(mlkem.publicKey, nobleProvider, r);
    // Kyber hashes the coins (m = H(r)) and the output (K = KDF(K̄ ‖ H(c))): nothing matches ML-KEM.
    expect(same(k.ciphertext.subarray(1), m.ciphertext.subarray(1))).toBe(false);
    expect(same(k.sharedSecret, m.sharedSecret)).toBe(false);
    // Type bytes must match the key: a Kyber ciphertext is refused by an ML-KEM key and vice versa.
    for (const [ct, key] of [
      [k.ciphertext, mlkem.secretKey],
      [m.ciphertext, kyber.secretKey],
    ] as const) {
      const e = caught(() => kemDecapsulate(ct, key));
      expect(e).toBeInstanceOf(DecodeError);
      expect(E2eeError.is(e, ErrorCode.InvalidKey)).toBe(true);
    }
    // Decapsulating the Kyber ciphertext as plain ML-KEM (same K-PKE bytes) does not give Kyber's secret.
    const asMlKem = kemDecapsulate(
      Uint8Array.of(KemType.MlKem1024, ...k.ciphertext.subarray(1)),
      mlkem.secretKey,
    );
    expect(same(asMlKem, k.sharedSecret)).toBe(false);
    // Explicit randomness makes encapsulation reproducible.
    expect(same(kemEncapsulate(kyber.publicKey, nobleProvider, r).sharedSecret, k.sharedSecret)).toBe(true);
  });

  it('malformed KEM bytes are DecodeErrors; unknown types are INVALID_KEY', () => {
    const kp = generateKemKeyPair(nobleProvider);
    const pk = kp.publicKey.serialize();
    for (const bad of [new Uint8Array(0), pk.subarray(0, 100), Uint8Array.of(...pk, 0)]) {
      expect(() => KemPublicKey.deserialize(bad)).toThrow(DecodeError);
    }
    for (const t of [0x07, 0x05, 0x09, 0x0b]) {
      const e = caught(() => KemPublicKey.deserialize(Uint8Array.of(t, ...pk.subarray(1))));
      expect(E2eeError.is(e, ErrorCode.InvalidKey)).toBe(true);
    }
    expect(() => KemSecretKey.deserialize(pk)).toThrow(DecodeError);
    expect(() => kemDecapsulate(new Uint8Array(10), kp.secretKey)).toThrow(DecodeError);
    expect(() => kemEncapsulate(pk as never, nobleProvider)).toThrow(TypeError);
    expect(() => kemEncapsulate(kp.publicKey, nobleProvider, new Uint8Array(31))).toThrow(RangeError);
    expect(() => generateKemKeyPair(nobleProvider, 7 as never)).toThrow(RangeError);
    expect(() => KemPublicKey.fromRaw(9 as never, pk.subarray(1))).toThrow(RangeError);
  });

  it('an encapsulation key failing the FIPS 203 modulus check is refused as INVALID_KEY', () => {
    const kp = generateKemKeyPair(nobleProvider, KemType.MlKem1024);
    const raw = kp.publicKey.serialize();
    // First 12-bit coefficient set to 4095 (>= q = 3329).
    raw[1] = 0xff;
    raw[2] = raw[2]! | 0x0f;
    const e = caught(() => kemEncapsulate(KemPublicKey.deserialize(raw), nobleProvider));
    expect(e).toBeInstanceOf(InvalidKeyError);
  });

  it('a wiped KEM secret key refuses to decapsulate (InvalidKeyError), as a wiped PrivateKey refuses to agree', () => {
    for (const type of [KemType.Kyber1024, KemType.MlKem1024]) {
      const kp = generateKemKeyPair(nobleProvider, type);
      const { ciphertext } = kemEncapsulate(kp.publicKey, nobleProvider);
      expect(kp.secretKey.wiped).toBe(false);
      kp.secretKey.wipe();
      expect(kp.secretKey.wiped).toBe(true);
      // Not an all-zero key's (implicit-rejection) secret: the key object is unusable.
      const e = caught(() => kemDecapsulate(ciphertext, kp.secretKey));
      expect(e).toBeInstanceOf(InvalidKeyError);
      expect((e as E2eeError).code).toBe(ErrorCode.InvalidKey);
    }
  });

  it('wipe() clears a KEM secret key', () => {
    const kp = generateKemKeyPair(nobleProvider);
    kp.secretKey.wipe();
    expect(
      kp.secretKey
        .serialize()
        .subarray(1)
        .every((b) => b === 0),
    ).toBe(true);
  });
});
