/**
 * A bounded, content-keyed cache of imported keys (`CryptoKey`, `KeyObject`, or derived public data) for
 * the platform and node providers.
 *
 * Why by content: protocol state is stored as bytes, so the same key arrives as a new `Uint8Array` on
 * every call (a ratchet deserializes its session record for each message). A cache keyed by the array
 * object missed every time and re-imported the key, which costs more than the X25519 operation itself
 * (OpenSSL 3's DER decoder: ~1.4 ms per private key in Node).
 *
 * How: a 32-bit FNV-1a hash of the bytes selects the entry; the entry keeps a copy of the bytes and is
 * served only after a constant-time comparison with them (a hash collision or a reused buffer gives a
 * fresh import, never a wrong key). One entry per hash value; least recently used entries are dropped
 * beyond `capacity`.
 *
 * Retention trade-off: up to `capacity` imported keys (with a copy of their bytes) stay in memory after
 * the caller has moved on, until newer keys push them out. A cache tied to the array's lifetime
 * (`WeakMap`) kept them only as long as the caller held the array, but for stored protocol state that
 * is no hit at all. JavaScript cannot reliably erase secrets anyway (the garbage collector copies
 * bytes; imported keys live in the runtime); `clear()` drops every entry.
 * The hash value may leak through `Map` timing; 32 bits of a non-cryptographic hash of a 256-bit key
 * do not help an attacker search for the key.
 */
import { constantTimeEqual, copyBytes } from '../bytes.js';

/** Entries per cache: one per recently used key. */
export const KEY_CACHE_CAPACITY = 64;

interface Entry<K> {
  readonly bytes: Uint8Array;
  readonly key: K;
}

/** 32-bit FNV-1a (exported for tests). */
export function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ (bytes[i] as number), 0x01000193);
  return h >>> 0;
}

export class ContentKeyCache<K> {
  readonly #map = new Map<number, Entry<K>>();
  readonly #capacity: number;

  constructor(capacity = KEY_CACHE_CAPACITY) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#map.size;
  }

  /** The cached value for exactly these bytes, or `undefined`. A hit becomes the most recently used. */
  get(bytes: Uint8Array): K | undefined {
    const h = fnv1a(bytes);
    const hit = this.#map.get(h);
    if (hit === undefined || !constantTimeEqual(hit.bytes, bytes)) return undefined;
    this.#map.delete(h);
    this.#map.set(h, hit);
    return hit.key;
  }

  /** Stores `key` for (a copy of) `bytes`, replacing an entry with the same hash, evicting the oldest. */
  set(bytes: Uint8Array, key: K): void {
    const h = fnv1a(bytes);
    this.#map.delete(h);
    this.#map.set(h, { bytes: copyBytes(bytes), key });
    if (this.#map.size > this.#capacity) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }

  /** `get`, else `make()` stored and returned. */
  getOrSet(bytes: Uint8Array, make: () => K): K {
    const hit = this.get(bytes);
    if (hit !== undefined) return hit;
    const key = make();
    this.set(bytes, key);
    return key;
  }

  /** `getOrSet` for an asynchronous import. Concurrent misses for the same bytes may import twice (harmless). */
  async getOrSetAsync(bytes: Uint8Array, make: () => Promise<K>): Promise<K> {
    const hit = this.get(bytes);
    if (hit !== undefined) return hit;
    const copy = copyBytes(bytes); // the caller may reuse its buffer while we wait
    try {
      const key = await make();
      this.set(copy, key);
      return key;
    } finally {
      copy.fill(0);
    }
  }

  clear(): void {
    for (const e of this.#map.values()) e.bytes.fill(0);
    this.#map.clear();
  }
}

/**
 * RFC 7748 `decodeScalar25519` clamping, in place. Natively generated private keys are cached and
 * returned in this form: it is the form `PrivateKey` stores (libsignal clamps too), so later calls
 * with the stored bytes hit the cache, and X25519 gives the same result for both forms.
 */
export function clampScalar(k: Uint8Array): Uint8Array {
  k[0] = (k[0] as number) & 248;
  k[31] = ((k[31] as number) & 127) | 64;
  return k;
}

/**
 * The common end of the providers' `x25519GenerateKeyPair`: checks the exported sizes, clamps the
 * scalar, caches the native key and its public key under the clamped bytes (the form `PrivateKey`
 * will hand back), and returns the pair (`undefined` for unexpected sizes: callers fall back).
 */
export function adoptGeneratedX25519<K>(
  d: Uint8Array,
  x: Uint8Array,
  key: K,
  keys: ContentKeyCache<K>,
  publicOf: ContentKeyCache<Uint8Array>,
): { privateKey: Uint8Array; publicKey: Uint8Array } | undefined {
  if (d.length !== 32 || x.length !== 32) return undefined;
  clampScalar(d);
  keys.set(d, key);
  publicOf.set(d, x);
  return { privateKey: d, publicKey: copyBytes(x) };
}
