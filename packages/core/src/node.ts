/**
 * `@e2ee-kit/core/node`: an opt-in provider on `node:crypto` for servers and Node apps that want the
 * last factor of speed. Key objects are created once per key-bytes object and cached.
 * Never imported by a main entry, so browsers and React Native never see `node:` modules.
 */
import * as nc from 'node:crypto';
// Public classes come through the package name so this entry shares them with the main entry.
import {
  assertBytes,
  type CryptoProvider,
  copyBytes,
  ErrorCode,
  fromBase64,
  nobleProvider,
  VerificationError,
} from '@e2ee-kit/core';
import {
  checkAead,
  checkCbc,
  checkGcm,
  checkIterate,
  checkKey32,
  checkLength,
  ed25519VerifyArgsOk,
} from './provider/checks.js';
import { pkcs8Ed25519, pkcs8X25519, spkiEd25519, spkiX25519 } from './provider/der.js';
import { adoptGeneratedX25519, ContentKeyCache, clampScalar } from './provider/key-cache.js';
import { type OneShotSha256, oneShotKdf } from './provider/one-shot-kdf.js';

/**
 * A Node `Buffer` result as a plain `Uint8Array` that owns its whole `ArrayBuffer`. Small Buffers
 * (`Buffer.concat`, `allocUnsafe`) are slices of Node's shared 8 KiB pool: a view of one would hand the
 * caller `.buffer` with unrelated process memory around the result, so those are copied and the pool
 * bytes wiped.
 */
function u8(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return new Uint8Array(b.buffer);
  const out = copyBytes(b);
  b.fill(0);
  return out;
}

const b64url = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');

// X25519 keys are imported as JWK: OpenSSL 3 decodes DER (pkcs8/spki) 10–20× slower than it takes the raw JWK members
// (about 1.7 ms vs 0.1 ms per private key on the ratchet benchmark machine), and a ratchet imports a fresh key on every
// DH step. DER stays as the fallback. Node reads only `d` of a private OKP JWK (`x` must be a string, it is not used).
function x25519PrivateKeyObject(raw: Uint8Array): nc.KeyObject {
  try {
    return nc.createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64url(raw), x: '' }, format: 'jwk' });
  } catch {
    return nc.createPrivateKey({ key: Buffer.from(pkcs8X25519(raw)), format: 'der', type: 'pkcs8' });
  }
}

function x25519PublicKeyObject(raw: Uint8Array): nc.KeyObject {
  try {
    return nc.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64url(raw) }, format: 'jwk' });
  } catch {
    return nc.createPublicKey({ key: Buffer.from(spkiX25519(raw)), format: 'der', type: 'spki' });
  }
}

/**
 * The public key (u-coordinate) of an imported private X25519 `KeyObject`. OpenSSL computes it while
 * importing the private key, so reading it back (a public `KeyObject` of the same key, exported as a
 * JWK) costs no scalar multiplication: about 4 µs, against 50 µs for another multiplication natively
 * and 750 µs in noble. `undefined` for an unexpected export (callers fall back).
 *
 * Not the Node 20 export freeze (see `x25519GenerateKeyPair`): the export locks the mutex of the key it
 * exports, and the freeze is a `KeyGenJob` destructor waiting for that mutex, so it needs a key shared
 * with a key-generation job. This key comes from `createPrivateKey` and no job ever held it;
 * tools/stress runs this path (500k generations + 200k ping-pong messages: no hang).
 */
function x25519PublicOfKeyObject(key: nc.KeyObject): Uint8Array | undefined {
  const jwk = nc.createPublicKey(key).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') return undefined;
  const x = fromBase64(jwk.x);
  return x.length === 32 ? x : undefined;
}

// `KeyObject`s by key content (provider/key-cache.ts: bounded, confirmed in constant time): protocol state
// arrives as fresh byte arrays on every call, and an import costs more than the operation.
const x25519Priv = new ContentKeyCache<nc.KeyObject>();
const x25519Pub = new ContentKeyCache<nc.KeyObject>();
/** Public keys of private keys this provider generated or derived. */
const x25519PublicOf = new ContentKeyCache<Uint8Array>();
const edPriv = new ContentKeyCache<nc.KeyObject>();
const edPub = new ContentKeyCache<nc.KeyObject>();

function nodeRandomBytes(length: number): Uint8Array {
  if (typeof length !== 'number' || !Number.isInteger(length))
    throw new TypeError('length must be an integer');
  if (length < 0 || length > 1 << 20) throw new RangeError('length out of range');
  return u8(nc.randomBytes(length));
}

function gcmLike(alg: 'aes-256-gcm' | 'chacha20-poly1305') {
  return {
    seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array): Uint8Array {
      const c = nc.createCipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
      if (aad !== undefined) c.setAAD(aad, { plaintextLength: plaintext.length });
      const head = c.update(plaintext);
      const tail = c.final();
      const tag = c.getAuthTag();
      const out = new Uint8Array(head.length + tail.length + 16);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(tag, head.length + tail.length);
      return out;
    },
    open(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array): Uint8Array {
      if (sealed.length < 16)
        throw new VerificationError('AEAD input is shorter than its tag', {
          code: ErrorCode.AeadTagMismatch,
        });
      const body = sealed.subarray(0, sealed.length - 16);
      try {
        const d = nc.createDecipheriv(alg as 'aes-256-gcm', key, nonce, { authTagLength: 16 });
        d.setAuthTag(sealed.subarray(sealed.length - 16));
        if (aad !== undefined) d.setAAD(aad, { plaintextLength: body.length });
        const head = d.update(body);
        const tail = d.final();
        return tail.length === 0 ? u8(head) : u8(Buffer.concat([head, tail]));
      } catch {
        throw new VerificationError('AEAD tag mismatch', { code: ErrorCode.AeadTagMismatch });
      }
    },
  };
}

// Hash digests are read as 'binary' (latin1) strings, one char per byte (exact for 0..255), copied into a
// plain Uint8Array: for one-block inputs the native Buffer allocation of `digest()` costs as much as the
// hashing. Keyed outputs (HMAC, HKDF) stay Buffers: a string copy of a key could not be wiped.
function fromBinary(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < out.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

// One-shot `crypto.hash` (Node ≥ 20.12) also skips the Hash object: 0.74 µs vs 1.6 µs (`createHash` +
// Buffer) per 97-byte SHA-512 on the benchmark machine — the safety-number loop. `createHash` where
// `crypto.hash` is missing.
const oneShotHash = (nc as { hash?: typeof nc.hash }).hash;
function digest(alg: 'sha256' | 'sha512', data: Uint8Array): Uint8Array {
  if (oneShotHash === undefined) return fromBinary(nc.createHash(alg).update(data).digest('binary'));
  return fromBinary(oneShotHash(alg, data, 'binary'));
}

// Short HMAC/HKDF inputs: RFC 2104/5869 composed from one-shot `crypto.hash` calls (provider/one-shot-kdf.ts),
// ~1 µs per chain-step HMAC against ~2 µs for a `createHmac` object.
const { hmacSha256Sync: nodeHmacSha256Sync, hkdfSha256Sync: nodeHkdfSha256Sync } = oneShotKdf({
  hash: oneShotHash as OneShotSha256 | undefined,
  hmacFallback: (key, data) => u8(nc.createHmac('sha256', key).update(data).digest()),
  hkdfFallback: nobleProvider.hkdfSha256Sync as NonNullable<typeof nobleProvider.hkdfSha256Sync>,
  assertBytes,
});

/** HKDF inputs (IKM + info bytes) up to this size take the one-shot path or noble's reused SHA-256 instances. */
const HKDF_NOBLE_MAX_INPUT = 512;

const gcm = gcmLike('aes-256-gcm');
const chacha = gcmLike('chacha20-poly1305');

/** `node:crypto` provider. Same bytes as `nobleProvider` and `platformProvider`. */
export const nodeProvider: CryptoProvider = Object.freeze({
  name: 'node',
  randomBytes: nodeRandomBytes,
  async sha256(data: Uint8Array) {
    assertBytes(data, 'data');
    return digest('sha256', data);
  },
  async sha512(data: Uint8Array) {
    assertBytes(data, 'data');
    return digest('sha512', data);
  },
  sha512Sync(...parts: Uint8Array[]) {
    for (const p of parts) assertBytes(p, 'part');
    if (parts.length === 1) return digest('sha512', parts[0] as Uint8Array);
    const h = nc.createHash('sha512');
    for (const p of parts) h.update(p);
    return u8(h.digest());
  },
  sha512IterateSync(first: Uint8Array, suffix: Uint8Array, rounds: number) {
    checkIterate(first, suffix, rounds);
    // Each round's digest (a 'binary' string, see `fromBinary`) is written straight into the next
    // round's input: no array per round.
    const hash =
      oneShotHash ??
      ((alg: 'sha512', data: Uint8Array, enc: 'binary') => nc.createHash(alg).update(data).digest(enc));
    const input = new Uint8Array(64 + suffix.length);
    input.set(suffix, 64);
    let d = hash('sha512', first, 'binary');
    for (let i = 1; i < rounds; i++) {
      for (let j = 0; j < 64; j++) input[j] = d.charCodeAt(j);
      d = hash('sha512', input, 'binary');
    }
    return fromBinary(d);
  },
  async hmacSha256(key: Uint8Array, data: Uint8Array) {
    return nodeHmacSha256Sync(key, data);
  },
  hmacSha256Sync: nodeHmacSha256Sync,
  hkdfSha256Sync: nodeHkdfSha256Sync,
  async hmacSha512(key: Uint8Array, data: Uint8Array) {
    assertBytes(key, 'key');
    assertBytes(data, 'data');
    return u8(nc.createHmac('sha512', key).update(data).digest());
  },
  async hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number) {
    assertBytes(ikm, 'ikm');
    if (salt !== undefined) assertBytes(salt, 'salt');
    assertBytes(info, 'info');
    checkLength(length, 255 * 32);
    if (length === 0) return new Uint8Array(0);
    // Short inputs (every protocol KDF: ≤ 96-byte IKM, ≤ 64-byte info): HMAC from one-shot `crypto.hash`
    // calls (node-kdf.ts; noble's reused instances beyond its limits), cheaper than n + 1 `createHmac`
    // objects and than noble's JavaScript compressions. Longer inputs: RFC 5869 composed from `createHmac` (faster
    // than `hkdfSync` for short outputs, measured in the ratchet benchmark, and no 1,024-byte cap on `info`).
    if (ikm.length + info.length <= HKDF_NOBLE_MAX_INPUT) return nodeHkdfSha256Sync(ikm, salt, info, length);
    const prk = nc
      .createHmac('sha256', salt ?? new Uint8Array(32))
      .update(ikm)
      .digest();
    const blocks = Math.ceil(length / 32);
    const out = new Uint8Array(blocks * 32);
    let t: Uint8Array = new Uint8Array(0);
    for (let i = 0; i < blocks; i++) {
      t = nc
        .createHmac('sha256', prk)
        .update(t)
        .update(info)
        .update(Uint8Array.of(i + 1))
        .digest();
      out.set(t, i * 32);
    }
    prk.fill(0);
    return blocks * 32 === length ? out : out.slice(0, length);
  },
  async aes256CbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array) {
    checkCbc(key, iv, plaintext);
    const c = nc.createCipheriv('aes-256-cbc', key, iv);
    return u8(Buffer.concat([c.update(plaintext), c.final()]));
  },
  async aes256CbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array) {
    checkCbc(key, iv, ciphertext);
    if (ciphertext.length === 0 || ciphertext.length % 16 !== 0) {
      throw new VerificationError('AES-CBC ciphertext has an invalid length', { code: ErrorCode.BadPadding });
    }
    try {
      const d = nc.createDecipheriv('aes-256-cbc', key, iv);
      return u8(Buffer.concat([d.update(ciphertext), d.final()]));
    } catch {
      throw new VerificationError('AES-CBC padding is invalid', { code: ErrorCode.BadPadding });
    }
  },
  async aes256GcmEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
    checkGcm(key, nonce, plaintext, aad);
    // OpenSSL refuses nonces over 256 bytes; noble handles every non-96-bit nonce so all providers agree.
    if (nonce.length !== 12) return nobleProvider.aes256GcmEncrypt(key, nonce, plaintext, aad);
    return gcm.seal(key, nonce, plaintext, aad);
  },
  async aes256GcmDecrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) {
    checkGcm(key, nonce, sealed, aad);
    if (nonce.length !== 12) return nobleProvider.aes256GcmDecrypt(key, nonce, sealed, aad);
    return gcm.open(key, nonce, sealed, aad);
  },
  async chacha20Poly1305Encrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, aad?: Uint8Array) {
    checkAead(key, nonce, plaintext, aad, 12);
    return chacha.seal(key, nonce, plaintext, aad);
  },
  async chacha20Poly1305Decrypt(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array, aad?: Uint8Array) {
    checkAead(key, nonce, sealed, aad, 12);
    return chacha.open(key, nonce, sealed, aad);
  },
  async x25519(privateKey: Uint8Array, publicKey: Uint8Array) {
    checkKey32(privateKey, 'privateKey');
    checkKey32(publicKey, 'publicKey');
    try {
      const priv = x25519Priv.getOrSet(privateKey, () => x25519PrivateKeyObject(privateKey));
      const pub = x25519Pub.getOrSet(publicKey, () => x25519PublicKeyObject(publicKey));
      return u8(nc.diffieHellman({ privateKey: priv, publicKey: pub }));
    } catch {
      // OpenSSL refuses low-order points (all-zero output); noble gives the RFC 7748 answer.
      return nobleProvider.x25519(privateKey, publicKey);
    }
  },
  async x25519PublicKey(privateKey: Uint8Array) {
    checkKey32(privateKey, 'privateKey');
    const known = x25519PublicOf.get(privateKey);
    if (known !== undefined) return copyBytes(known);
    // The imported key is kept: an agreement with this private key usually follows.
    let pub: Uint8Array | undefined;
    try {
      pub = x25519PublicOfKeyObject(
        x25519Priv.getOrSet(privateKey, () => x25519PrivateKeyObject(privateKey)),
      );
    } catch {
      pub = undefined;
    }
    pub ??= await nobleProvider.x25519PublicKey(privateKey);
    x25519PublicOf.set(privateKey, pub);
    return copyBytes(pub); // the cache keeps `pub`: the caller gets its own copy
  },
  /**
   * A fresh scalar from this provider's `randomBytes` (OpenSSL's generator, as in
   * `generateKeyPairSync`), clamped, imported once as the `KeyObject` cached for the agreements that
   * follow, and its public key read back from that import (`x25519PublicOfKeyObject`). One scalar
   * multiplication per key pair: generating with `generateKeyPairSync` and then importing the private
   * key made two. Only while `randomBytes` is this provider's own (see
   * `CryptoProvider.x25519GenerateKeyPair`).
   *
   * Never `generateKeyPairSync('x25519')` followed by `keyObject.export(...)`: in Node 20 a garbage
   * collection during the JWK export can run the destructor of an earlier `KeyGenJob`, which takes the
   * mutex the export holds, and the process freezes for good (about once per 20k–120k generations,
   * reproduced with plain Node). No `KeyGenJob` is involved here (no `generateKeyPairSync` at all);
   * 500k-generation runs of tools/stress did not hang.
   */
  async x25519GenerateKeyPair(this: unknown) {
    if ((this as { randomBytes?: unknown } | undefined)?.randomBytes !== nodeRandomBytes) return undefined;
    const d = clampScalar(nodeRandomBytes(32));
    try {
      const key = x25519PrivateKeyObject(d);
      const x = x25519PublicOfKeyObject(key);
      if (x !== undefined) return adoptGeneratedX25519(d, x, key, x25519Priv, x25519PublicOf);
    } catch {
      // fall through: the caller draws randomBytes(32) itself
    }
    d.fill(0);
    return undefined;
  },
  async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
    if (!ed25519VerifyArgsOk(publicKey, message, signature)) return false;
    try {
      const pub = edPub.getOrSet(publicKey, () =>
        nc.createPublicKey({ key: Buffer.from(spkiEd25519(publicKey)), format: 'der', type: 'spki' }),
      );
      return nc.verify(null, message, pub, signature);
    } catch {
      return false;
    }
  },
  async ed25519Sign(seed: Uint8Array, message: Uint8Array) {
    checkKey32(seed, 'seed');
    assertBytes(message, 'message');
    const priv = edPriv.getOrSet(seed, () =>
      nc.createPrivateKey({ key: Buffer.from(pkcs8Ed25519(seed)), format: 'der', type: 'pkcs8' }),
    );
    return u8(nc.sign(null, message, priv));
  },
  async ed25519PublicKey(seed: Uint8Array) {
    checkKey32(seed, 'seed');
    return nobleProvider.ed25519PublicKey(seed);
  },
});
