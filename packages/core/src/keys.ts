/**
 * Curve25519 keys with libsignal's serialization: a public key is `0x05 ‖ u` (33 bytes), a private key
 * is 32 raw bytes, clamped on import and on generation. Key objects never print their bytes.
 */
import { ed25519 } from '@noble/curves/ed25519.js';
import { bytesToNumberLE, numberToBytesLE } from '@noble/curves/utils.js';
import { assertBytes, constantTimeEqual, copyBytes, toHex } from './bytes.js';
import { DecodeError, ErrorCode, InvalidKeyError } from './errors.js';
import { brandClass, hasBrand, keyBrand, readOtherCopy } from './other-copy.js';
import { ProtoReader, ProtoWriter, WireType } from './protobuf.js';
import type { CryptoProvider } from './provider/types.js';
import { SecretBytes } from './redact.js';

export const DJB_TYPE = 0x05;
export const PUBLIC_KEY_LENGTH = 33;
export const PRIVATE_KEY_LENGTH = 32;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/** Module-private token: the constructors are private in TypeScript and refuse JavaScript callers too. */
const INTERNAL = Symbol('internal');
const P = 2n ** 255n - 19n;
const LOW_255_BITS = (1n << 255n) - 1n;
// One brand per class (see other-copy.ts): a key of another copy of this package is recognised by it.
const PUBLIC_KEY = keyBrand('PublicKey');
const PRIVATE_KEY = keyBrand('PrivateKey');
const KEY_PAIR = keyBrand('KeyPair');
const IDENTITY_KEY_PAIR = keyBrand('IdentityKeyPair');
/** A serialized identity key pair is 69 bytes; a longer one from another copy is refused unread. */
const MAX_IDENTITY_KEY_PAIR_LENGTH = 256;

export class PublicKey {
  readonly #u: Uint8Array;

  private constructor(token: typeof INTERNAL, u: Uint8Array) {
    if (token !== INTERNAL) throw new TypeError('use PublicKey.deserialize or PublicKey.fromRaw');
    this.#u = u;
  }

  /**
   * `value` as this copy's `PublicKey`: `value` itself when it is one; a `PublicKey` of another copy
   * of this package (an app that loads two) re-read from its `serialize()`, validated as
   * `deserialize` validates bytes (`DecodeError` if that is not a key); anything else a `TypeError`.
   * Every function here that takes a `PublicKey` goes through it.
   */
  static from(value: unknown, name = 'key'): PublicKey {
    if (value instanceof PublicKey) return value;
    if (!hasBrand(value, PUBLIC_KEY)) throw new TypeError(`${name} must be a PublicKey`);
    return readOtherCopy(value, 'PublicKey', PublicKey.deserialize);
  }

  /** From the 32-byte Montgomery u-coordinate. */
  static fromRaw(u: Uint8Array): PublicKey {
    assertBytes(u, 'public key', 32);
    return new PublicKey(INTERNAL, copyBytes(u));
  }

  /** From libsignal's 33-byte form (`0x05 ‖ u`). Anything else is a `DecodeError`. */
  static deserialize(bytes: Uint8Array): PublicKey {
    assertBytes(bytes, 'public key');
    if (bytes.length !== PUBLIC_KEY_LENGTH) throw new DecodeError('public key must be 33 bytes');
    if (bytes[0] !== DJB_TYPE)
      throw new DecodeError('unknown public key type', { code: ErrorCode.InvalidKey });
    return new PublicKey(INTERNAL, copyBytes(bytes, 1));
  }

  /** The 33-byte libsignal serialization. */
  serialize(): Uint8Array {
    const out = new Uint8Array(PUBLIC_KEY_LENGTH);
    out[0] = DJB_TYPE;
    out.set(this.#u, 1);
    return out;
  }

  /** The 32-byte u-coordinate (a copy). */
  raw(): Uint8Array {
    return copyBytes(this.#u);
  }

  /** Internal, not copied: for providers that cache per key-bytes object. */
  get rawView(): Uint8Array {
    return this.#u;
  }

  equals(other: PublicKey): boolean {
    return constantTimeEqual(this.#u, PublicKey.from(other, 'other').#u);
  }

  /**
   * libsignal's check for an incoming base key (v0.81+): u < p with the top bit clear, and the point
   * is torsion-free (no small-order component). Remembered per u (see `canonicalCache`).
   */
  isCanonical(): boolean {
    const id = toHex(this.#u);
    let ok = canonicalCache.get(id);
    if (ok !== undefined) {
      canonicalCache.delete(id); // re-inserted below: the most recently used entry is dropped last
    } else {
      ok = uIsCanonical(this.#u);
      if (canonicalCache.size >= CANONICAL_CACHE_SIZE)
        canonicalCache.delete(canonicalCache.keys().next().value as string);
    }
    canonicalCache.set(id, ok);
    return ok;
  }

  toString(): string {
    return '[PublicKey]';
  }
  toJSON(): string {
    return '[PublicKey]';
  }
  [INSPECT](): string {
    return '[PublicKey]';
  }
}

export class PrivateKey {
  readonly #k: Uint8Array;
  #wiped = false;

  private constructor(token: typeof INTERNAL, k: Uint8Array) {
    if (token !== INTERNAL) throw new TypeError('use PrivateKey.deserialize or PrivateKey.generate');
    this.#k = k;
  }

  /**
   * `value` as this copy's `PrivateKey`: `value` itself when it is one; a `PrivateKey` of another copy
   * of this package re-read from its `serialize()` (the temporary bytes overwritten once read; never
   * printed), `InvalidKeyError` if that key was wiped, `DecodeError` if what it gives is not 32 bytes;
   * anything else a `TypeError`. The key returned for another copy's is a copy: wiping one does not
   * wipe the other, so a caller that keeps it wipes it itself (`KeyPair` keeps it; see the README).
   */
  static from(value: unknown, name = 'key'): PrivateKey {
    if (value instanceof PrivateKey) return value;
    if (!hasBrand(value, PRIVATE_KEY)) throw new TypeError(`${name} must be a PrivateKey`);
    let wiped: unknown;
    try {
      wiped = (value as { wiped?: unknown }).wiped;
    } catch {
      wiped = undefined;
    }
    // A wiped key serializes as zeros, which clamp to a valid scalar: refuse it as this copy does.
    if (wiped === true) throw new InvalidKeyError('private key has been wiped');
    if (wiped !== false) throw new DecodeError('a PrivateKey of another copy could not be read');
    return readOtherCopy(value, 'PrivateKey', PrivateKey.deserialize, { secret: true });
  }

  /** Imports 32 bytes and clamps them, as libsignal does on every deserialize. */
  static deserialize(bytes: Uint8Array): PrivateKey {
    assertBytes(bytes, 'private key');
    if (bytes.length !== PRIVATE_KEY_LENGTH) throw new DecodeError('private key must be 32 bytes');
    return new PrivateKey(INTERNAL, clamp(SecretBytes.copyOf(bytes)));
  }

  static generate(provider: CryptoProvider): PrivateKey {
    const random = provider.randomBytes(32);
    assertBytes(random, 'random', 32);
    // A copy, clamped: a replaced `randomBytes` (withRandom) may hand out a view of its own buffer.
    return new PrivateKey(INTERNAL, clamp(SecretBytes.copyOf(random)));
  }

  serialize(): Uint8Array {
    return copyBytes(this.#k);
  }

  /** Internal, not copied: the clamped scalar bytes (they print as `[secret 32 bytes]`). Do not modify. */
  get rawView(): Uint8Array {
    return this.#k;
  }

  /** True once `wipe()` was called: the key then refuses every operation. */
  get wiped(): boolean {
    return this.#wiped;
  }

  async publicKey(provider: CryptoProvider): Promise<PublicKey> {
    this.#assertLive();
    return PublicKey.fromRaw(await provider.x25519PublicKey(this.#k));
  }

  /** X25519 with libsignal's rule: an all-zero shared secret is refused. */
  async agree(their: PublicKey, provider: CryptoProvider): Promise<Uint8Array> {
    const key = PublicKey.from(their, 'their key');
    this.#assertLive();
    const out = await provider.x25519(this.#k, key.rawView);
    let acc = 0;
    for (let i = 0; i < out.length; i++) acc |= out[i] as number;
    if (acc === 0)
      throw new InvalidKeyError('key agreement produced an all-zero secret', {
        code: ErrorCode.InvalidKeyAgreement,
      });
    return out;
  }

  /** Overwrites the key bytes. The object is unusable afterwards (`InvalidKeyError`). */
  wipe(): void {
    this.#k.fill(0);
    this.#wiped = true;
  }

  #assertLive(): void {
    if (this.#wiped) throw new InvalidKeyError('private key has been wiped');
  }

  toString(): string {
    return '[PrivateKey]';
  }
  toJSON(): string {
    return '[PrivateKey]';
  }
  [INSPECT](): string {
    return '[PrivateKey]';
  }
}

function clamp(k: Uint8Array): Uint8Array {
  k[0] = (k[0] as number) & 248;
  k[31] = ((k[31] as number) & 127) | 64;
  return k;
}

export class KeyPair {
  readonly publicKey: PublicKey;
  readonly privateKey: PrivateKey;

  /** Keys of another copy of this package are taken as this copy's (`PublicKey.from`, `PrivateKey.from`). */
  constructor(publicKey: PublicKey, privateKey: PrivateKey) {
    this.publicKey = PublicKey.from(publicKey, 'publicKey');
    this.privateKey = PrivateKey.from(privateKey, 'privateKey');
  }

  /**
   * `value` as this copy's `KeyPair`: `value` itself when it is one; a key pair of another copy of
   * this package rebuilt from its two keys (an `IdentityKeyPair` as `IdentityKeyPair.from` does);
   * anything else a `TypeError`.
   */
  static from(value: unknown, name = 'keyPair'): KeyPair {
    if (value instanceof KeyPair) return value;
    if (hasBrand(value, IDENTITY_KEY_PAIR)) return IdentityKeyPair.from(value, name);
    if (!hasBrand(value, KEY_PAIR)) throw new TypeError(`${name} must be a KeyPair`);
    let keys: { publicKey: unknown; privateKey: unknown };
    try {
      const { publicKey, privateKey } = value as { publicKey: unknown; privateKey: unknown };
      keys = { publicKey, privateKey };
    } catch {
      throw new DecodeError('a KeyPair of another copy could not be read');
    }
    // Not branded keys: the pair is not what it says it is, refused as a bad key is.
    if (!hasBrand(keys.publicKey, PUBLIC_KEY) || !hasBrand(keys.privateKey, PRIVATE_KEY))
      throw new DecodeError('a KeyPair of another copy could not be read');
    return new KeyPair(keys.publicKey as PublicKey, keys.privateKey as PrivateKey);
  }

  /**
   * A fresh key pair: the provider's native generator when it offers one (`x25519GenerateKeyPair`),
   * else `randomBytes(32)` clamped and its public key. Either way the private key is clamped as
   * libsignal clamps it.
   */
  static async generate(provider: CryptoProvider): Promise<KeyPair> {
    const native =
      typeof provider?.x25519GenerateKeyPair === 'function'
        ? await provider.x25519GenerateKeyPair()
        : undefined;
    if (native !== undefined) {
      if (native === null || typeof native !== 'object')
        throw new TypeError('x25519GenerateKeyPair must resolve to a key pair');
      assertBytes(native.privateKey, 'generated private key', PRIVATE_KEY_LENGTH);
      return new KeyPair(PublicKey.fromRaw(native.publicKey), PrivateKey.deserialize(native.privateKey));
    }
    const privateKey = PrivateKey.generate(provider);
    return new KeyPair(await privateKey.publicKey(provider), privateKey);
  }

  static async fromPrivateKey(privateKey: PrivateKey, provider: CryptoProvider): Promise<KeyPair> {
    return new KeyPair(await privateKey.publicKey(provider), privateKey);
  }

  toString(): string {
    return '[KeyPair]';
  }
  toJSON(): string {
    return '[KeyPair]';
  }
  [INSPECT](): string {
    return '[KeyPair]';
  }
}

/** libsignal's `IdentityKeyPair`: protobuf `{ 1: public (33 B), 2: private (32 B) }`. */
export class IdentityKeyPair extends KeyPair {
  /**
   * `value` as this copy's `IdentityKeyPair`: `value` itself when it is one; an identity key pair of
   * another copy of this package re-read from its `serialize()` as `deserialize` reads bytes (the
   * temporary bytes, which hold the private key, overwritten once read); anything else a `TypeError`.
   * As with `PrivateKey.from`, the pair returned for another copy's holds a copy of its private key.
   */
  static override from(value: unknown, name = 'identityKeyPair'): IdentityKeyPair {
    if (value instanceof IdentityKeyPair) return value;
    if (!hasBrand(value, IDENTITY_KEY_PAIR)) throw new TypeError(`${name} must be an IdentityKeyPair`);
    return readOtherCopy(value, 'IdentityKeyPair', readIdentityKeyPair, { secret: true });
  }

  static override async generate(provider: CryptoProvider): Promise<IdentityKeyPair> {
    const kp = await KeyPair.generate(provider);
    return new IdentityKeyPair(kp.publicKey, kp.privateKey);
  }

  serialize(): Uint8Array {
    return new ProtoWriter()
      .bytes(1, this.publicKey.serialize())
      .bytes(2, this.privateKey.serialize())
      .finish();
  }

  static deserialize(bytes: Uint8Array): IdentityKeyPair {
    const r = new ProtoReader(bytes);
    let pub: Uint8Array | undefined;
    let priv: Uint8Array | undefined;
    try {
      for (let h = r.next(); h; h = r.next()) {
        if (h.field === 1) {
          r.expect(h, WireType.LengthDelimited);
          pub = r.bytes();
        } else if (h.field === 2) {
          r.expect(h, WireType.LengthDelimited);
          priv?.fill(0);
          priv = r.bytes();
        } else r.skip(h.wireType);
      }
      if (!pub || !priv) throw new DecodeError('identity key pair is missing a field');
      return new IdentityKeyPair(PublicKey.deserialize(pub), PrivateKey.deserialize(priv));
    } finally {
      // The reader's copy of the private key: the key object holds its own (clamped) copy.
      priv?.fill(0);
    }
  }
}

brandClass(PublicKey, PUBLIC_KEY);
brandClass(PrivateKey, PRIVATE_KEY);
brandClass(KeyPair, KEY_PAIR);
brandClass(IdentityKeyPair, IDENTITY_KEY_PAIR);

function readIdentityKeyPair(bytes: Uint8Array): IdentityKeyPair {
  if (bytes.length > MAX_IDENTITY_KEY_PAIR_LENGTH) throw new DecodeError('identity key pair is too long');
  return IdentityKeyPair.deserialize(bytes);
}

/**
 * `isCanonical` results by u (hex). The torsion check is a 253-bit scalar multiplication of a public
 * point (about 0.8 ms in JavaScript) whose answer depends on the 32 bytes alone, so a PreKey message
 * that comes again (a retried or replayed delivery, a decrypt that failed after the check) is not
 * charged twice. Public data, bounded, least recently used dropped first.
 */
const CANONICAL_CACHE_SIZE = 256;
const canonicalCache = new Map<string, boolean>();

function uIsCanonical(u: Uint8Array): boolean {
  if (((u[31] as number) & 0x80) !== 0) return false;
  if (bytesToNumberLE(u) >= P) return false;
  const point = montgomeryToEdwards(u, 0);
  return point !== undefined && point.isTorsionFree();
}

/** Montgomery u → Edwards point with the given sign bit, as curve25519-dalek's `to_edwards`. */
export function montgomeryToEdwards(u: Uint8Array, sign: number) {
  const Fp = ed25519.Point.Fp;
  // dalek reads 255 bits and does not reduce first: u and u + p map to the same point.
  const un = Fp.create(bytesToNumberLE(u) & LOW_255_BITS);
  if (un === P - 1n) return undefined;
  const y = Fp.mul(Fp.sub(un, 1n), Fp.inv(Fp.add(un, 1n)));
  const yBytes = numberToBytesLE(y, 32);
  yBytes[31] = ((yBytes[31] as number) & 0x7f) | ((sign & 1) << 7);
  try {
    return ed25519.Point.fromBytes(yBytes, true);
  } catch {
    return undefined;
  }
}
