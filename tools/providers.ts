// Test-only: every crypto provider, for differential tests ("run the vectors through each").
import {
  type CryptoProvider,
  createPlatformProvider,
  defaultProviderWithoutAead,
  nobleProvider,
  platformProvider,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';

/** noble, platform (default thresholds), platform with every operation forced to Web Crypto, node. */
export const allProviders: ReadonlyArray<{ label: string; provider: CryptoProvider }> = [
  { label: 'noble', provider: nobleProvider },
  { label: 'platform', provider: platformProvider },
  { label: 'platform(webcrypto-all)', provider: createPlatformProvider({ webCryptoMinBytes: 0 }) },
  { label: 'node', provider: nodeProvider },
];

/**
 * Every provider plus `defaultProviderWithoutAead` (the ratchet's default: `platformProvider` whose
 * AES-GCM and ChaCha20-Poly1305 throw), for tests whose code calls no AEAD.
 */
export const providersWithoutAeadUse: ReadonlyArray<{ label: string; provider: CryptoProvider }> = [
  ...allProviders,
  { label: 'platform without AEAD', provider: defaultProviderWithoutAead },
];

/**
 * An app's provider written as a class: methods on the prototype, state in a private field (only the
 * instance itself can read it), delegating to `nobleProvider`. For wrappers that must keep such
 * providers working (`withRandom`, `withWasmSha512`).
 */
export class ClassProvider {
  readonly name = 'app';
  readonly #base = nobleProvider;
  randomBytes(length: number): Uint8Array {
    return this.#base.randomBytes(length);
  }
  sha256(data: Uint8Array): Promise<Uint8Array> {
    return this.#base.sha256(data);
  }
  sha512Sync(...parts: Uint8Array[]): Uint8Array {
    return this.#base.sha512Sync(...parts);
  }
  hkdfSha256(
    ikm: Uint8Array,
    salt: Uint8Array | undefined,
    info: Uint8Array,
    length: number,
  ): Promise<Uint8Array> {
    return this.#base.hkdfSha256(ikm, salt, info, length);
  }
}
