// The providers' speed paths give exactly the bytes of the plain reference computations:
// - the reusable SHA-2 / HMAC / HKDF instances (provider/sha2-reuse.ts) against @noble/hashes' one-shot
//   functions, at every block boundary and key length that changes the code path;

import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { same } from './helpers/wycheproof.js';

const rnd = createDeterministicRandom('provider-fast-paths.test');

/** Lengths around the SHA-256 (64) and SHA-512 (128) block and padding boundaries. */
const LENGTHS = [0, 1, 31, 32, 33, 55, 56, 63, 64, 65, 111, 112, 119, 127, 128, 129, 191, 192, 257, 1000];

describe('reused hash instances give @noble/hashes one-shot bytes', () => {
  for (const { label, provider } of allProviders) {
    it(`SHA-256, SHA-512, sha512Sync over parts, HMAC-SHA256/512 at every boundary via ${label}`, async () => {
      for (const n of LENGTHS) {
        const data = rnd(n);
        expect(same(await provider.sha256(data), sha256(data)), `sha256 ${n}`).toBe(true);
        expect(same(await provider.sha512(data), sha512(data)), `sha512 ${n}`).toBe(true);
        const cut = n >> 1;
        const parts = [data.subarray(0, cut), new Uint8Array(0), data.subarray(cut)];
        expect(same(provider.sha512Sync(...parts), sha512(data)), `sha512Sync ${n}`).toBe(true);
        for (const k of [0, 1, 32, 63, 64, 65, 127, 128, 129, 300]) {
          const key = rnd(k);
          expect(
            same(await provider.hmacSha256(key, data), hmac(sha256, key, data)),
            `hmac256 k${k} d${n}`,
          ).toBe(true);
          expect(
            same(await provider.hmacSha512(key, data), hmac(sha512, key, data)),
            `hmac512 k${k} d${n}`,
          ).toBe(true);
        }
      }
    });

    it(`HKDF-SHA256 for every output length class, with and without salt, via ${label}`, async () => {
      const infos = [new Uint8Array(0), rnd(18), rnd(63), rnd(64), rnd(200)];
      const salts = [undefined, new Uint8Array(0), rnd(32), rnd(64), rnd(65)];
      for (const len of [1, 31, 32, 33, 42, 64, 80, 96, 97, 255 * 32]) {
        for (const [i, info] of infos.entries()) {
          const salt = salts[(len + i) % salts.length];
          const ikm = rnd((len * 7 + i) % 90);
          const ours = await provider.hkdfSha256(ikm, salt, info, len);
          expect(same(ours, hkdf(sha256, ikm, salt, info, len)), `hkdf len ${len} info ${info.length}`).toBe(
            true,
          );
        }
      }
    });
  }

  it('a call never sees state left by the previous one (interleaved hashes, MACs and KDFs)', async () => {
    const { provider } = allProviders[0]!;
    const key = rnd(32);
    const data = rnd(100);
    const expected = hmac(sha256, key, data);
    await provider.hkdfSha256(rnd(40), rnd(32), rnd(20), 200);
    provider.sha512Sync(rnd(500));
    expect(same(await provider.hmacSha256(key, data), expected)).toBe(true);
    await expect(provider.hmacSha256('x' as never, data)).rejects.toThrow(TypeError);
    expect(same(await provider.hmacSha256(key, data), expected)).toBe(true);
  });
});
