import { platformProvider } from './platform.js';
import type { CryptoProvider } from './types.js';

/**
 * The provider used when none is passed: `platformProvider`, which itself falls back to noble for
 * every algorithm the runtime's Web Crypto lacks (all of them on React Native).
 */
export const defaultProvider: CryptoProvider = platformProvider;

export function isCryptoProvider(value: unknown): value is CryptoProvider {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['name'] === 'string' &&
    typeof v['randomBytes'] === 'function' &&
    typeof v['hkdfSha256'] === 'function'
  );
}

/** For options objects: the given provider (validated) or the default. */
export function resolveProvider(provider: unknown): CryptoProvider {
  if (provider === undefined) return defaultProvider;
  if (!isCryptoProvider(provider)) throw new TypeError('provider must be a CryptoProvider');
  return provider;
}
