/** `platformProvider`'s SHA-2, HMAC and HKDF: Web Crypto for large inputs, noble below (see platform.ts). */
import { assertBytes } from '../bytes.js';
import { checkLength } from './checks.js';
import { hkdfSha256, hmacSha256, hmacSha512, sha256, sha512, sha512Multi } from './noble-sha2.js';
import { buf, type PlatformContext } from './platform-context.js';

export function platformHashes({ support, big }: PlatformContext) {
  return {
    async sha256(data: Uint8Array) {
      assertBytes(data, 'data');
      const s = await support();
      if (s.sha && big(data.length)) return new Uint8Array(await s.subtle!.digest('SHA-256', buf(data)));
      return sha256(data);
    },
    async sha512(data: Uint8Array) {
      assertBytes(data, 'data');
      const s = await support();
      if (s.sha && big(data.length)) return new Uint8Array(await s.subtle!.digest('SHA-512', buf(data)));
      return sha512(data);
    },
    sha512Sync: (...parts: Uint8Array[]) => sha512Multi(parts),
    // Chain walks hash 1–64-byte inputs, below any size where Web Crypto's promises pay off.
    hmacSha256Sync: hmacSha256,
    hkdfSha256Sync: hkdfSha256,
    async hmacSha256(key: Uint8Array, data: Uint8Array) {
      assertBytes(key, 'key');
      assertBytes(data, 'data');
      const s = await support();
      if (s.hmac && big(data.length) && key.length > 0) {
        const k = await s.subtle!.importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-256' }, false, [
          'sign',
        ]);
        return new Uint8Array(await s.subtle!.sign('HMAC', k, buf(data)));
      }
      return hmacSha256(key, data);
    },
    async hmacSha512(key: Uint8Array, data: Uint8Array) {
      assertBytes(key, 'key');
      assertBytes(data, 'data');
      const s = await support();
      if (s.hmac && big(data.length) && key.length > 0) {
        const k = await s.subtle!.importKey('raw', buf(key), { name: 'HMAC', hash: 'SHA-512' }, false, [
          'sign',
        ]);
        return new Uint8Array(await s.subtle!.sign('HMAC', k, buf(data)));
      }
      return hmacSha512(key, data);
    },
    async hkdfSha256(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number) {
      assertBytes(ikm, 'ikm');
      if (salt !== undefined) assertBytes(salt, 'salt');
      assertBytes(info, 'info');
      checkLength(length, 255 * 32);
      const s = await support();
      // OpenSSL-backed Web Crypto (Node) caps HKDF info at 1024 bytes; longer info goes to noble.
      if (s.hkdf && big(ikm.length) && length > 0 && info.length <= 1024) {
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
  };
}
