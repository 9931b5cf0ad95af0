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
