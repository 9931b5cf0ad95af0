/**
 * `platformProvider`: Web Crypto (`globalThis.crypto.subtle`) for what the runtime supports, detected
 * once at first use, and noble for the rest. Works in browsers, Node, Deno, Bun and workers; where
 * `crypto.subtle` is missing (React Native) every call goes to noble.
 *
 * Web Crypto calls are asynchronous and each needs an imported key, which costs more than the
 * primitive itself on small inputs. So symmetric operations switch to Web Crypto only from
 * `webCryptoMinBytes` upwards (bulk data); asymmetric operations (X25519, Ed25519) always use it when
 * available, because there it is many times faster than pure JavaScript. The bytes are identical
 * either way; tests force every path with `webCryptoMinBytes: 0`.
 *
 * The methods come in families (platform-hashes, platform-aes, platform-chacha, platform-curve25519),
 * each built from one shared context (platform-context.ts).
 */
import { platformAesCbc, platformAesGcm } from './platform-aes.js';
import { platformChacha } from './platform-chacha.js';
import {
  createPlatformContext,
  defaultPlatformContext,
  type PlatformContext,
  type PlatformProviderOptions,
  type PlatformSupport,
} from './platform-context.js';
import { platformCurve25519 } from './platform-curve25519.js';
import { platformHashes } from './platform-hashes.js';
import { webRandomBytes } from './random.js';
import type { CryptoProvider } from './types.js';

export type { PlatformProviderOptions, PlatformSupport } from './platform-context.js';

function platformProviderOf(ctx: PlatformContext): CryptoProvider & { support(): Promise<PlatformSupport> } {
  return Object.freeze({
    name: 'platform',
    randomBytes: webRandomBytes,
    async support(): Promise<PlatformSupport> {
      const { subtle: _s, ...rest } = await ctx.support();
      return rest;
    },
    ...platformHashes(ctx),
    ...platformAesCbc(ctx),
    ...platformAesGcm(ctx),
    ...platformChacha(ctx),
    ...platformCurve25519(ctx),
  });
}

export function createPlatformProvider(options: PlatformProviderOptions = {}): CryptoProvider & {
  support(): Promise<PlatformSupport>;
} {
  return platformProviderOf(createPlatformContext(options));
}

/** Web Crypto where the runtime has it (bulk symmetric data, X25519, Ed25519), noble otherwise. */
export const platformProvider = /* @__PURE__ */ platformProviderOf(defaultPlatformContext);
