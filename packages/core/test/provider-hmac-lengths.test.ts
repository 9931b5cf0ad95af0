// HMAC-SHA256 of every built-in provider, sync and async, against @noble/hashes' own `hmac` at every
// message length 0–1100 and key lengths around the block size: the providers switch strategy by
// length (block-by-block layout for short inputs, the node provider's one-shot `crypto.hash`
// composition up to 960 bytes, streaming objects beyond), so each boundary is crossed here.
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const KEY_LENGTHS = [0, 1, 32, 63, 64, 65, 100];

for (const { label, provider } of providersWithoutAeadUse) {
  describe(`HMAC-SHA256 by length via ${label}`, () => {
    it('equals @noble/hashes for messages of 0–1100 bytes (sync and async)', async () => {
      for (const keyLength of KEY_LENGTHS) {
        const key = bytes(keyLength, keyLength + 7);
        for (let n = 0; n <= 1100; n += keyLength === 32 ? 1 : 37) {
          const data = bytes(n, n);
          const want = hmac(sha256, key, data);
          if (provider.hmacSha256Sync) expect(provider.hmacSha256Sync(key, data)).toEqual(want);
          expect(await provider.hmacSha256(key, data)).toEqual(want);
        }
      }
    });
  });
}
