import { sha512Multi } from './noble-sha2.js';
import { sha512Iterate } from './sha512-iterate.js';

/**
 * The default provider's `sha512Sync`, importable alone: `defaultProvider.sha512Sync` is this same
 * noble function, but importing `defaultProvider` brings every primitive into a bundle. Code that
 * only hashes (safety numbers) uses this when no provider is passed, and `provider.sha512Sync`
 * otherwise.
 */
export function defaultSha512Sync(...parts: Uint8Array[]): Uint8Array {
  return sha512Multi(parts);
}

/** The default provider's `sha512IterateSync`, importable alone (see `defaultSha512Sync`). */
export const defaultSha512IterateSync: (first: Uint8Array, suffix: Uint8Array, rounds: number) => Uint8Array =
  sha512Iterate;
