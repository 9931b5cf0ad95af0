/**
 * The provider the ratchet uses when an app passes none: core's `defaultProviderWithoutAead`, i.e.
 * `platformProvider` without the AEADs (the sessions, pre-keys and provisioning use AES-CBC and HMAC,
 * never AES-GCM or ChaCha20-Poly1305), so an app's bundle keeps none of that cipher code. Core's
 * `resolveProvider` would bring `platformProvider`, and every cipher with it. The resend cache
 * (AES-GCM) keeps core's default.
 */
import { type CryptoProvider, defaultProviderWithoutAead, isCryptoProvider } from '@e2ee-kit/core';

/** The given provider (validated as core's `resolveProvider` does) or the ratchet's default. */
export function resolveRatchetProvider(provider: unknown): CryptoProvider {
  if (provider === undefined) return defaultProviderWithoutAead;
  if (!isCryptoProvider(provider)) throw new TypeError('provider must be a CryptoProvider');
  return provider;
}
