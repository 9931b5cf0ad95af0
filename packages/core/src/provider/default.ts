import { assertCryptoProvider } from './is-provider.js';
import { platformProvider } from './platform.js';
import type { CryptoProvider } from './types.js';

export { isCryptoProvider } from './is-provider.js';

/**
 * The provider used when none is passed: `platformProvider`, which itself falls back to noble for
 * every algorithm the runtime's Web Crypto lacks (all of them on React Native).
 */
export const defaultProvider: CryptoProvider = platformProvider;

/** For options objects: the given provider (validated) or the default. */
export function resolveProvider(provider: unknown): CryptoProvider {
  if (provider === undefined) return defaultProvider;
  assertCryptoProvider(provider);
  return provider;
}
