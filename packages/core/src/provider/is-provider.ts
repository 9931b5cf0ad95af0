import type { CryptoProvider } from './types.js';

/** Duck-typed check (providers may come from another copy of core, or be the app's own). */
export function isCryptoProvider(value: unknown): value is CryptoProvider {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['name'] === 'string' &&
    typeof v['randomBytes'] === 'function' &&
    typeof v['hkdfSha256'] === 'function'
  );
}

/** A `TypeError` unless `value` is a `CryptoProvider` (importing this does not import the default provider). */
export function assertCryptoProvider(value: unknown): asserts value is CryptoProvider {
  if (!isCryptoProvider(value)) throw new TypeError('provider must be a CryptoProvider');
}
