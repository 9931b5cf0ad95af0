/**
 * What every family of `platformProvider` methods shares: Web Crypto support, detected once at first
 * use, the size from which symmetric operations go to Web Crypto, and the caches of imported keys.
 * Each family (platform-hashes, platform-aes, platform-chacha, platform-curve25519) is built from a
 * context, so a provider can be assembled from the families it needs and a bundle keeps only those.
 */
import { copyBytes, toBase64 } from '../bytes.js';
import { pkcs8X25519 } from './der.js';
import { ContentKeyCache } from './key-cache.js';
import { ed25519PublicKey, x25519PublicKey } from './noble-curve25519.js';

export interface PlatformProviderOptions {
  /** Symmetric inputs shorter than this go to noble (default 4096). `0` sends everything to Web Crypto. */
  webCryptoMinBytes?: number;
  /** Injected `SubtleCrypto` (tests); defaults to `globalThis.crypto.subtle`. */
  subtle?: SubtleCrypto;
}

export interface Support {
  subtle: SubtleCrypto | undefined;
  sha: boolean;
  hmac: boolean;
  hkdf: boolean;
  aesCbc: boolean;
  aesGcm: boolean;
  chacha: boolean;
  x25519: boolean;
  ed25519: boolean;
}

/** Public so benchmarks and tests can print what the runtime offers. */
export interface PlatformSupport extends Omit<Support, 'subtle'> {}

export type BufSrc = Uint8Array<ArrayBuffer>;
/**
 * Bytes as Web Crypto takes them. Its BufferSource refuses a view of a SharedArrayBuffer (TypeError),
 * which noble and node:crypto take: such a view is copied, so every provider answers alike. Any other
 * array is passed as it is (Web Crypto copies its input at the call).
 */
export const buf = (b: Uint8Array): BufSrc => (b.buffer instanceof ArrayBuffer ? b : copyBytes(b)) as BufSrc;

/**
 * `f` with a copy of each byte argument taken at the call. Every platform method awaits (the support
 * probe, a key import) before it hands its inputs to Web Crypto or noble, and a caller may refill a
 * pooled Buffer or transfer its ArrayBuffer as soon as the call returned its promise: without the
 * copies the answer was for those later bytes (an empty array once transferred).
 */
export function owning<F extends (...args: never[]) => Promise<unknown>>(f: F): F {
  return function (this: unknown, ...args: unknown[]) {
    // A view of a detached buffer cannot change any more (and cannot be copied: copyBytes refuses
    // it): it goes through as it is, for the family's checks to refuse like every other provider's.
    const copies = args.map((a) => {
      if (!(a instanceof Uint8Array)) return a;
      try {
        return copyBytes(a);
      } catch {
        return a;
      }
    });
    return f.apply(this, copies as never);
  } as unknown as F;
}

/** Every method of a family through `owning`. */
export const owningAll = <T extends Record<string, (...args: never[]) => Promise<unknown>>>(family: T): T =>
  Object.fromEntries(Object.entries(family).map(([name, f]) => [name, owning(f)])) as T;

export const base64url = (b: Uint8Array): string =>
  toBase64(b).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export interface PlatformContext {
  /** What the runtime's Web Crypto supports (probed once, on first call). */
  support(): Promise<Support>;
  /** Whether a symmetric input of `n` bytes is large enough for Web Crypto. */
  big(n: number): boolean;
  /** Imported X25519 keys by content (see key-cache.ts: bounded, confirmed in constant time). */
  readonly x25519Priv: ContentKeyCache<CryptoKey>;
  readonly x25519Pub: ContentKeyCache<CryptoKey>;
  /**
   * Public keys of private keys this provider generated or derived: with `x` known, a private key is
   * imported as a JWK (Web Crypto checks `x` against `d`), ~15× cheaper than PKCS#8 in Node.
   */
  readonly publicOf: ContentKeyCache<Uint8Array>;
  readonly edPub: ContentKeyCache<CryptoKey>;
  readonly edPriv: ContentKeyCache<CryptoKey>;
}

async function probe(subtle: SubtleCrypto | undefined): Promise<Support> {
  const none: Support = {
    subtle,
    sha: false,
    hmac: false,
    hkdf: false,
    aesCbc: false,
    aesGcm: false,
    chacha: false,
    x25519: false,
    ed25519: false,
  };
  if (!subtle) return none;
  const ok = async (f: () => Promise<unknown>) => {
    try {
      await f();
      return true;
    } catch {
      return false;
    }
  };
  const k32 = new Uint8Array(32).fill(7);
  const [sha, hmac, hkdf, aesCbc, aesGcm, chacha, x25519, ed25519] = await Promise.all([
    ok(() => subtle.digest('SHA-512', new Uint8Array(1))),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
      await subtle.sign('HMAC', k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'HKDF', false, ['deriveBits']);
      await subtle.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: k32, info: k32 }, k, 256);
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'AES-CBC', false, ['encrypt']);
      await subtle.encrypt({ name: 'AES-CBC', iv: new Uint8Array(16) }, k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'AES-GCM', false, ['encrypt']);
      await subtle.encrypt({ name: 'AES-GCM', iv: new Uint8Array(12) }, k, new Uint8Array(1));
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', k32, 'ChaCha20-Poly1305', false, ['encrypt']);
      await subtle.encrypt(
        { name: 'ChaCha20-Poly1305', iv: new Uint8Array(12) } as AlgorithmIdentifier,
        k,
        new Uint8Array(1),
      );
    }),
    ok(async () => {
      const k = await subtle.importKey('pkcs8', buf(pkcs8X25519(k32)), { name: 'X25519' }, false, [
        'deriveBits',
      ]);
      const p = await subtle.importKey('raw', buf(x25519PublicKey(k32)), { name: 'X25519' }, false, []);
      await subtle.deriveBits({ name: 'X25519', public: p } as EcdhKeyDeriveParams, k, 256);
    }),
    ok(async () => {
      const k = await subtle.importKey('raw', buf(ed25519PublicKey(k32)), { name: 'Ed25519' }, false, [
        'verify',
      ]);
      await subtle.verify({ name: 'Ed25519' }, k, new Uint8Array(64), new Uint8Array(1));
    }),
  ]);
  return { subtle, sha, hmac, hkdf, aesCbc, aesGcm, chacha, x25519, ed25519 };
}

export function createPlatformContext(options: PlatformProviderOptions = {}): PlatformContext {
  const minBytes = options.webCryptoMinBytes ?? 4096;
  if (!Number.isInteger(minBytes) || minBytes < 0)
    throw new RangeError('webCryptoMinBytes must be a non-negative integer');
  let detected: Promise<Support> | undefined;
  return {
    support(): Promise<Support> {
      if (!detected) {
        const subtle = options.subtle ?? (globalThis as { crypto?: Crypto }).crypto?.subtle;
        detected = probe(subtle);
      }
      return detected;
    },
    big: (n: number) => n >= minBytes,
    // Protocol state arrives as fresh byte arrays on every call, and an import costs more than the
    // operation: imported keys are kept by content.
    x25519Priv: new ContentKeyCache<CryptoKey>(),
    x25519Pub: new ContentKeyCache<CryptoKey>(),
    publicOf: new ContentKeyCache<Uint8Array>(),
    edPub: new ContentKeyCache<CryptoKey>(),
    edPriv: new ContentKeyCache<CryptoKey>(),
  };
}

/**
 * The context of the default providers (`platformProvider`, `defaultProviderWithoutAead`): one
 * detection and one set of key caches, whichever of them a call goes through.
 */
export const defaultPlatformContext: PlatformContext = /* @__PURE__ */ createPlatformContext();
