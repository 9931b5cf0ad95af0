/**
 * Every primitive e2ee-kit uses goes through one `CryptoProvider`. Implementations must produce
 * identical bytes for identical inputs; the differential test suite runs all vectors through each.
 *
 * Conventions: keys and nonces are raw bytes; AEAD output is `ciphertext ‖ 16-byte tag`; failures to
 * authenticate throw `VerificationError` (never return partial plaintext); wrong argument types or
 * lengths throw `TypeError` / `RangeError`.
 */
export interface CryptoProvider {
  /** Short name for logs and benchmarks: `noble`, `platform`, `node`. */
  readonly name: string;

  /** Cryptographically secure random bytes (replaceable with `withRandom`). */
  randomBytes(length: number): Uint8Array;

  sha256(data: Uint8Array): Promise<Uint8Array>;
  sha512(data: Uint8Array): Promise<Uint8Array>;
  /** Synchronous SHA-512 over the concatenation of `parts` (for tight loops such as safety numbers). */
  sha512Sync(...parts: Uint8Array[]): Uint8Array;
  /**
   * Optional iterated SHA-512: `h = SHA-512(first)`, then `rounds − 1` times `h = SHA-512(h ‖ suffix)`;
   * returns the last `h`. The same bytes as that loop over `sha512Sync` (which callers fall back to when
   * a provider lacks it), in a fraction of its per-call overhead: a safety number is two chains of 5,200
   * rounds. `rounds` is an integer from 1 to 2³² − 1 (else a `RangeError`).
   */
  sha512IterateSync?(first: Uint8Array, suffix: Uint8Array, rounds: number): Uint8Array;

  hmacSha256(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  hmacSha512(key: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional synchronous HMAC-SHA256 and HKDF-SHA256: the same bytes and the same argument checks as
   * `hmacSha256` / `hkdfSha256`, for long KDF chain walks (a forged ratchet message can ask for 50,000
   * steps), where a promise per step costs more than the hashing. Callers feature-detect them and fall
   * back to the asynchronous methods, so provider objects without them keep working.
   */
  hmacSha256Sync?(key: Uint8Array, data: Uint8Array): Uint8Array;
  hkdfSha256Sync?(
    ikm: Uint8Array,
    salt: Uint8Array | undefined,
    info: Uint8Array,
    length: number,
  ): Uint8Array;
  /** RFC 5869 HKDF-SHA256. An absent salt means 32 zero bytes. `length` ≤ 8160. */
  hkdfSha256(
    ikm: Uint8Array,
    salt: Uint8Array | undefined,
    info: Uint8Array,
    length: number,
  ): Promise<Uint8Array>;

  /** AES-256-CBC with PKCS#7 padding; `iv` is 16 bytes. */
  aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Promise<Uint8Array>;
  /** Throws `VerificationError` (code `BAD_PADDING`) for a wrong length or bad padding. */
  aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>;

  /**
   * AES-256-GCM, 16-byte tag appended. Nonce: 12 bytes recommended; any length of 8 bytes or more is
   * accepted (SP 800-38D's GHASH-derived counter); shorter is a `RangeError`. A sealed input whose tag
   * does not verify (including one shorter than 16 bytes) is a `VerificationError` (`AEAD_TAG_MISMATCH`).
   */
  aes256GcmEncrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;
  aes256GcmDecrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;

  /** RFC 8439 ChaCha20-Poly1305, 12-byte nonce, 16-byte tag appended. */
  chacha20Poly1305Encrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    plaintext: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;
  chacha20Poly1305Decrypt(
    key: Uint8Array,
    nonce: Uint8Array,
    sealed: Uint8Array,
    aad?: Uint8Array,
  ): Promise<Uint8Array>;

  /** Raw X25519 (RFC 7748) of a 32-byte scalar and 32-byte u-coordinate. Returns the 32-byte output, which may be all zero. */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Promise<Uint8Array>;
  /** X25519 public key (u-coordinate) for a 32-byte private scalar. */
  x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional: a fresh X25519 key pair from the runtime's own generator, used by `KeyPair.generate`
   * instead of `randomBytes(32)` plus a base-point multiplication (and the provider keeps the imported
   * key for the agreements that follow). `privateKey` is the clamped 32-byte scalar (RFC 7748
   * `decodeScalar25519`), `publicKey` its 32-byte u-coordinate. Resolves to `undefined` when the provider
   * cannot generate natively (callers then draw `randomBytes(32)`).
   *
   * The key material comes from the runtime's randomness, not from `randomBytes`: a provider whose
   * `randomBytes` was replaced must not offer it. `withRandom` removes it, and the built-in providers
   * answer `undefined` when called on an object whose `randomBytes` is not their own.
   */
  x25519GenerateKeyPair?(): Promise<{ privateKey: Uint8Array; publicKey: Uint8Array } | undefined>;

  /** RFC 8032 Ed25519 (strict: s < L, canonical encodings). */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
  ed25519Sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array>;
}
