import { sha512Multi } from './noble-sha2.js';

/**
 * The default provider's `sha512Sync`, importable alone: `defaultProvider.sha512Sync` is this same
 * noble function, but importing `defaultProvider` brings every primitive into a bundle. Code that
 * only hashes (safety numbers) uses this when no provider is passed, and `provider.sha512Sync`
 * otherwise.
 */
export function defaultSha512Sync(...parts: Uint8Array[]): Uint8Array {
  return sha512Multi(parts);
}
