/** `platformProvider`'s SHA-2, HMAC and HKDF: Web Crypto for large inputs, noble below (see platform.ts). */
import { assertBytes } from '../bytes.js';
import { checkLength } from './checks.js';
import { hkdfSha256, hmacSha256, hmacSha512, sha256, sha512, sha512Multi } from './noble-sha2.js';
import { buf, owning, type PlatformContext } from './platform-context.js';
import { sha512Iterate } from './sha512-iterate.js';

export function platformHashes({ support, big }: PlatformContext) {
  const digest = (name: 'SHA-256' | 'SHA-512', noble: (data: Uint8Array) => Uint8Array) =>
    owning(async (data: Uint8Array): Promise<Uint8Array> => {
      assertBytes(data, 'data');
      // Small inputs go to noble without waiting for the support probe (a promise turn per call).
      if (!big(data.length)) return noble(data);
      const s = await support();
      if (s.sha) return new Uint8Array(await s.subtle!.digest(name, buf(data)));
      return noble(data);
    });
  const hmac = (hash: 'SHA-256' | 'SHA-512', noble: (key: Uint8Array, data: Uint8Array) => Uint8Array) =>
    owning(async (key: Uint8Array, data: Uint8Array): Promise<Uint8Array> => {
      assertBytes(key, 'key');
      assertBytes(data, 'data');
      if (!big(data.length) || key.length === 0) return noble(key, data);
      const s = await support();
      if (s.hmac) {
        const k = await s.subtle!.importKey('raw', buf(key), { name: 'HMAC', hash }, false, ['sign']);
        return new Uint8Array(await s.subtle!.sign('HMAC', k, buf(data)));
      }
      return noble(key, data);
    });
  return {
    sha256: digest('SHA-256', sha256),
    sha512: digest('SHA-512', sha512),
    sha512Sync: (...parts: Uint8Array[]) => sha512Multi(parts),
    // Web Crypto's digest is asynchronous: a promise per round would cost more than the round.
    sha512IterateSync: sha512Iterate,
    // Chain walks hash 1–64-byte inputs, below any size where Web Crypto's promises pay off.
    hmacSha256Sync: hmacSha256,
    hkdfSha256Sync: hkdfSha256,
    hmacSha256: hmac('SHA-256', hmacSha256),
    hmacSha512: hmac('SHA-512', hmacSha512),
    hkdfSha256: owning(
      async (ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number) => {
        assertBytes(ikm, 'ikm');
        if (salt !== undefined) assertBytes(salt, 'salt');
        assertBytes(info, 'info');
        checkLength(length, 255 * 32);
        // OpenSSL-backed Web Crypto (Node) caps HKDF info at 1024 bytes; longer info goes to noble.
        if (!big(ikm.length) || length === 0 || info.length > 1024)
          return hkdfSha256(ikm, salt, info, length);
        const s = await support();
        if (s.hkdf) {
          const k = await s.subtle!.importKey('raw', buf(ikm), 'HKDF', false, ['deriveBits']);
          const bits = await s.subtle!.deriveBits(
            { name: 'HKDF', hash: 'SHA-256', salt: buf(salt ?? new Uint8Array(32)), info: buf(info) },
            k,
            length * 8,
          );
          return new Uint8Array(bits);
        }
        return hkdfSha256(ikm, salt, info, length);
      },
    ),
  };
}
