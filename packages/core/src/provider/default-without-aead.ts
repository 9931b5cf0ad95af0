/**
 * `defaultProviderWithoutAead`: the default provider (`platformProvider`) for protocols that use no
 * AEAD. Every method is `platformProvider`'s own, over the same Web Crypto detection and key caches,
 * except AES-256-GCM and ChaCha20-Poly1305, which throw `UnsupportedError`. What it is for: the Signal
 * protocol's messages use AES-256-CBC and HMAC, so a package whose code never calls an AEAD takes this
 * as its default, and an app's bundle then keeps none of the AEAD code (~9 kB minified). An app that
 * passes its own provider is not affected.
 */
import { UnsupportedError } from '../errors.js';
import { platformAesCbc } from './platform-aes.js';
import { defaultPlatformContext, type PlatformContext } from './platform-context.js';
import { platformCurve25519 } from './platform-curve25519.js';
import { platformHashes } from './platform-hashes.js';
import { webRandomBytes } from './random.js';
import type { CryptoProvider } from './types.js';

const noAead = (algorithm: string) => async (): Promise<Uint8Array> => {
  throw new UnsupportedError(`${algorithm} is not in this provider: pass platformProvider or nobleProvider`);
};

function withoutAead(ctx: PlatformContext): CryptoProvider {
  return Object.freeze({
    name: 'platform',
    randomBytes: webRandomBytes,
    ...platformHashes(ctx),
    ...platformAesCbc(ctx),
    aes256GcmEncrypt: noAead('AES-256-GCM'),
    aes256GcmDecrypt: noAead('AES-256-GCM'),
    chacha20Poly1305Encrypt: noAead('ChaCha20-Poly1305'),
    chacha20Poly1305Decrypt: noAead('ChaCha20-Poly1305'),
    ...platformCurve25519(ctx),
  });
}

export const defaultProviderWithoutAead: CryptoProvider = /* @__PURE__ */ withoutAead(defaultPlatformContext);
