/**
 * KEM keys as libsignal serializes them: one type byte, then the key or ciphertext.
 *
 * - `0x08` Kyber-1024 (round-3 CRYSTALS-Kyber, what libsignal generates and accepts). @noble/post-quantum
 *   ships only FIPS-203 ML-KEM, and the two differ only in hashing, so Kyber is composed from it
 *   (spec `libsignal-pairwise.md` §1.3): encapsulate with `m = SHA3-256(random32)` as ML-KEM's explicit
 *   message, then `K = SHAKE256(K̄ ‖ SHA3-256(ct), 32)`; decapsulate with ML-KEM and apply the same final
 *   SHAKE256 (this also reproduces libcrux's implicit-rejection value).
 * - `0x0A` ML-KEM-1024 (FIPS 203), unchanged.
 * Key and ciphertext layouts are identical (same K-PKE), so an ML-KEM key pair is a Kyber key pair.
 */
import { sha3_256, shake256 } from '@noble/hashes/sha3.js';
import { ml_kem1024 } from '@noble/post-quantum/ml-kem.js';
import { assertBytes, concatBytes, constantTimeEqual, copyBytes } from './bytes.js';
import { DecodeError, ErrorCode, InvalidKeyError } from './errors.js';
import { brandClass, hasBrand, keyBrand, readOtherCopy } from './other-copy.js';
import type { CryptoProvider } from './provider/types.js';
import { SecretBytes } from './redact.js';

export const KemType = { Kyber1024: 0x08, MlKem1024: 0x0a } as const;
export type KemType = (typeof KemType)[keyof typeof KemType];

export const KEM_PUBLIC_KEY_LENGTH = 1568;
export const KEM_SECRET_KEY_LENGTH = 3168;
export const KEM_CIPHERTEXT_LENGTH = 1568;
export const KEM_SHARED_SECRET_LENGTH = 32;

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
/** Module-private token: the constructors are private in TypeScript and refuse JavaScript callers too. */
const INTERNAL = Symbol('internal');
// One brand per class (see other-copy.ts): a key of another copy of this package is recognised by it.
const KEM_PUBLIC_KEY = keyBrand('KemPublicKey');
const KEM_SECRET_KEY = keyBrand('KemSecretKey');

function parseTyped(
  bytes: Uint8Array,
  bodyLength: number,
  what: string,
  secret = false,
): { type: KemType; body: Uint8Array } {
  assertBytes(bytes, what);
  if (bytes.length === 0) throw new DecodeError(`${what} is empty`);
  const type = bytes[0];
  if (type !== KemType.Kyber1024 && type !== KemType.MlKem1024) {
    throw new DecodeError(`unknown ${what} type`, { code: ErrorCode.InvalidKey });
  }
  if (bytes.length !== bodyLength + 1) throw new DecodeError(`${what} has the wrong length`);
  return { type, body: secret ? SecretBytes.copyOf(bytes, 1) : copyBytes(bytes, 1) };
}

export class KemPublicKey {
  readonly type: KemType;
  readonly #key: Uint8Array;

  private constructor(token: typeof INTERNAL, type: KemType, key: Uint8Array) {
    if (token !== INTERNAL) throw new TypeError('use the static deserialize or generateKemKeyPair');
    this.type = type;
    this.#key = key;
  }

  /**
   * `value` as this copy's `KemPublicKey`: `value` itself when it is one; a `KemPublicKey` of another
   * copy of this package (an app that loads two) re-read from its `serialize()`, validated as
   * `deserialize` validates bytes (`DecodeError` if that is not a key); anything else a `TypeError`.
   */
  static from(value: unknown, name = 'key'): KemPublicKey {
    if (value instanceof KemPublicKey) return value;
    if (!hasBrand(value, KEM_PUBLIC_KEY)) throw new TypeError(`${name} must be a KemPublicKey`);
    return readOtherCopy(value, 'KemPublicKey', KemPublicKey.deserialize);
  }

  static deserialize(bytes: Uint8Array): KemPublicKey {
    const { type, body } = parseTyped(bytes, KEM_PUBLIC_KEY_LENGTH, 'KEM public key');
    return new KemPublicKey(INTERNAL, type, body);
  }

  static fromRaw(type: KemType, raw: Uint8Array): KemPublicKey {
    assertBytes(raw, 'KEM public key', KEM_PUBLIC_KEY_LENGTH);
    if (type !== KemType.Kyber1024 && type !== KemType.MlKem1024) throw new RangeError('unknown KEM type');
    return new KemPublicKey(INTERNAL, type, copyBytes(raw));
  }

  /** Type byte ‖ 1568-byte key: 1569 bytes (this is what libsignal signs for a Kyber pre-key). */
  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(this.type), this.#key);
  }

  get rawView(): Uint8Array {
    return this.#key;
  }

  equals(other: KemPublicKey): boolean {
    const key = KemPublicKey.from(other, 'other');
    return key.type === this.type && constantTimeEqual(this.#key, key.#key);
  }

  toString(): string {
    return '[KemPublicKey]';
  }
  toJSON(): string {
    return '[KemPublicKey]';
  }
  [INSPECT](): string {
    return '[KemPublicKey]';
  }
}

export class KemSecretKey {
  readonly type: KemType;
  readonly #key: Uint8Array;
  #wiped = false;

  private constructor(token: typeof INTERNAL, type: KemType, key: Uint8Array) {
    if (token !== INTERNAL) throw new TypeError('use the static deserialize or generateKemKeyPair');
    this.type = type;
    this.#key = key;
  }

  /**
   * `value` as this copy's `KemSecretKey`: `value` itself when it is one; a `KemSecretKey` of another
   * copy of this package re-read from its `serialize()` (the temporary bytes overwritten once read;
   * never printed), `InvalidKeyError` if that key was wiped, `DecodeError` if what it gives is not a
   * key; anything else a `TypeError`. The key returned for another copy's is a copy: a caller that
   * keeps it wipes it itself.
   */
  static from(value: unknown, name = 'key'): KemSecretKey {
    if (value instanceof KemSecretKey) return value;
    if (!hasBrand(value, KEM_SECRET_KEY)) throw new TypeError(`${name} must be a KemSecretKey`);
    let wiped: unknown;
    try {
      wiped = (value as { wiped?: unknown }).wiped;
    } catch {
      wiped = undefined;
    }
    // A wiped key serializes as its type byte and zeros, which parse: refuse it as this copy does.
    if (wiped === true) throw new InvalidKeyError('KEM secret key has been wiped');
    if (wiped !== false) throw new DecodeError('a KemSecretKey of another copy could not be read');
    return readOtherCopy(value, 'KemSecretKey', KemSecretKey.deserialize, { secret: true });
  }

  static deserialize(bytes: Uint8Array): KemSecretKey {
    const { type, body } = parseTyped(bytes, KEM_SECRET_KEY_LENGTH, 'KEM secret key', true);
    return new KemSecretKey(INTERNAL, type, body);
  }

  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(this.type), this.#key);
  }

  get rawView(): Uint8Array {
    return this.#key;
  }

  /** True once `wipe()` was called: the key then refuses to decapsulate. */
  get wiped(): boolean {
    return this.#wiped;
  }

  /** Overwrites the key bytes. The object is unusable afterwards (`InvalidKeyError`), as a `PrivateKey`. */
  wipe(): void {
    this.#key.fill(0);
    this.#wiped = true;
  }

  toString(): string {
    return '[KemSecretKey]';
  }
  toJSON(): string {
    return '[KemSecretKey]';
  }
  [INSPECT](): string {
    return '[KemSecretKey]';
  }
}

brandClass(KemPublicKey, KEM_PUBLIC_KEY);
brandClass(KemSecretKey, KEM_SECRET_KEY);

export interface KemKeyPair {
  readonly publicKey: KemPublicKey;
  readonly secretKey: KemSecretKey;
}

/** A fresh KEM key pair (Kyber-1024 by default, as libsignal's `KEMKeyPair.generate()`). */
export function generateKemKeyPair(provider: CryptoProvider, type: KemType = KemType.Kyber1024): KemKeyPair {
  if (type !== KemType.Kyber1024 && type !== KemType.MlKem1024) throw new RangeError('unknown KEM type');
  const seed = provider.randomBytes(64);
  const { publicKey, secretKey } = ml_kem1024.keygen(seed);
  seed.fill(0);
  const typed = concatBytes(Uint8Array.of(type), secretKey);
  secretKey.fill(0);
  const pair = {
    publicKey: KemPublicKey.fromRaw(type, publicKey),
    secretKey: KemSecretKey.deserialize(typed),
  };
  typed.fill(0);
  return pair;
}

export interface KemEncapsulation {
  /** Type byte ‖ 1568-byte ciphertext (1569 bytes), as carried on libsignal's wire. */
  readonly ciphertext: Uint8Array;
  readonly sharedSecret: Uint8Array;
}

/** Encapsulates to `publicKey`. `random` (32 bytes) is drawn from the provider unless given. */
export function kemEncapsulate(
  key: KemPublicKey,
  provider: CryptoProvider,
  random?: Uint8Array,
): KemEncapsulation {
  const publicKey = KemPublicKey.from(key, 'publicKey');
  const r = random ?? provider.randomBytes(32);
  assertBytes(r, 'random', 32);
  let enc: { cipherText: Uint8Array; sharedSecret: Uint8Array };
  try {
    enc = ml_kem1024.encapsulate(publicKey.rawView, publicKey.type === KemType.Kyber1024 ? sha3_256(r) : r);
  } catch {
    throw new InvalidKeyError('KEM public key is invalid');
  }
  const sharedSecret =
    publicKey.type === KemType.Kyber1024 ? kyberFinalize(enc.sharedSecret, enc.cipherText) : enc.sharedSecret;
  return { ciphertext: concatBytes(Uint8Array.of(publicKey.type), enc.cipherText), sharedSecret };
}

/** Decapsulates a typed ciphertext. A ciphertext of the wrong type or length is a `DecodeError`. */
export function kemDecapsulate(ciphertext: Uint8Array, key: KemSecretKey): Uint8Array {
  const secretKey = KemSecretKey.from(key, 'secretKey');
  try {
    // All zeros still decapsulate (to the implicit-rejection secret): a wiped key must not.
    if (secretKey.wiped) throw new InvalidKeyError('KEM secret key has been wiped');
    const { type, body } = parseTyped(ciphertext, KEM_CIPHERTEXT_LENGTH, 'KEM ciphertext');
    if (type !== secretKey.type)
      throw new DecodeError('KEM ciphertext type does not match the key', { code: ErrorCode.InvalidKey });
    let k: Uint8Array;
    try {
      k = ml_kem1024.decapsulate(body, secretKey.rawView);
    } catch {
      throw new InvalidKeyError('KEM secret key is invalid');
    }
    return type === KemType.Kyber1024 ? kyberFinalize(k, body) : k;
  } finally {
    // Another copy's key was read into a temporary of ours: nothing keeps it, so it is wiped now.
    if (secretKey !== key) secretKey.wipe();
  }
}

function kyberFinalize(kBar: Uint8Array, ct: Uint8Array): Uint8Array {
  return shake256(concatBytes(kBar, sha3_256(ct)), { dkLen: 32 });
}
