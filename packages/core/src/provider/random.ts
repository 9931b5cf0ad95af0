import type { CryptoProvider } from './types.js';

const MAX_RANDOM = 1 << 20;

/** `globalThis.crypto.getRandomValues`, chunked at the Web Crypto limit of 65,536 bytes per call. */
export function webRandomBytes(length: number): Uint8Array {
  if (typeof length !== 'number' || !Number.isInteger(length))
    throw new TypeError('length must be an integer');
  if (length < 0 || length > MAX_RANDOM) throw new RangeError(`length must be between 0 and ${MAX_RANDOM}`);
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (!c || typeof c.getRandomValues !== 'function') {
    throw new TypeError(
      'no secure random source: globalThis.crypto.getRandomValues is missing (install a polyfill)',
    );
  }
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += 65536) c.getRandomValues(out.subarray(i, Math.min(length, i + 65536)));
  return out;
}

/**
 * Returns a provider that is `provider` in every respect except its randomness source. Native key
 * generation (`x25519GenerateKeyPair`) is removed, so every key is drawn from `randomBytes`.
 */
export function withRandom<P extends CryptoProvider>(
  provider: P,
  randomBytes: (length: number) => Uint8Array,
): P {
  if (typeof randomBytes !== 'function') throw new TypeError('randomBytes must be a function');
  return overrideProvider(provider, {
    randomBytes: (length: number) => {
      const out = randomBytes(length);
      if (!(out instanceof Uint8Array) || out.length !== length)
        throw new TypeError('randomBytes returned the wrong length');
      return out;
    },
    x25519GenerateKeyPair: undefined,
  });
}

/**
 * `provider` with some members replaced (`undefined` removes an optional one), frozen. Every other
 * method runs on `provider` itself, not on the wrapper: an app's provider may be a class whose methods
 * live on its prototype and read private fields, which only the instance that declared them can
 * (a spread would lose those methods; a plain `Object.create` would call them on the wrong object).
 */
export function overrideProvider<P extends CryptoProvider>(
  provider: P,
  overrides: { readonly [K in keyof CryptoProvider]?: CryptoProvider[K] | undefined },
): P {
  if (provider === null || typeof provider !== 'object' || typeof provider.randomBytes !== 'function')
    throw new TypeError('provider must be a CryptoProvider');
  const wrapped = Object.create(provider) as P;
  for (const [key, value] of Object.entries(overrides))
    Object.defineProperty(wrapped, key, { value, enumerable: true });
  for (let o: object | null = provider; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o))
    for (const key of Object.getOwnPropertyNames(o)) {
      const value = (provider as unknown as Record<string, unknown>)[key];
      if (key === 'constructor' || Object.hasOwn(wrapped, key)) continue;
      const inherited = typeof value === 'function' && o !== provider;
      Object.defineProperty(wrapped, key, {
        value: inherited ? value.bind(provider) : value,
        enumerable: true,
      });
    }
  return Object.freeze(wrapped);
}
