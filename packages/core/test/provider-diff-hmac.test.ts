// Differential property test: HMAC-SHA256 of every built-in provider (async `hmacSha256` and the
// optional `hmacSha256Sync`) against @noble/hashes' `hmac` and node:crypto's `createHmac`, used
// directly. The providers switch strategy by length — sha256-blocks.ts for keys ≤ 64 bytes and
// messages ≤ 1015 bytes (16 blocks less 9 bytes of padding), node's one-shot `crypto.hash`
// composition (one-shot-kdf.ts) for messages ≤ 960 bytes, reused noble instances / `createHmac`
// beyond, Web Crypto from `webCryptoMinBytes` (0 in `platform(webcrypto-all)`) except for empty keys —
// so the generated lengths concentrate on those boundaries and on the SHA-256 padding boundaries
// (55/56, 63/64, 119/120 bytes of message after the 64-byte key pad). Inputs arrive as plain arrays,
// views at odd offsets and pooled Node Buffers; the caller's bytes (and their neighbours) stay as they were.
import { createHmac } from 'node:crypto';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { SHORT_MESSAGE } from '../src/provider/one-shot-kdf.js';
import { SHORT_INPUT } from '../src/provider/sha256-blocks.js';
import { arrange, expectBytes, type Kind, kinds, lengthNear } from './helpers/diff-inputs.js';

const ONE_SHOT_MAX = SHORT_MESSAGE;
const MESSAGE_EDGES = [0, 1, 55, 56, 63, 64, 119, 120, 127, 128, 183, 184, ONE_SHOT_MAX, SHORT_INPUT, 1024];
const KEY_EDGES = [0, 1, 31, 32, 33, 63, 64, 65, 128, 200];

const reference = (key: Uint8Array, data: Uint8Array): Uint8Array => {
  const want = hmac(sha256, key, data);
  // Two independent references, so that a shared mistake in one cannot hide a provider's.
  expectBytes(new Uint8Array(createHmac('sha256', key).update(data).digest()), want);
  return want;
};

describe('HMAC-SHA256 fast paths give the reference bytes', () => {
  it('knows the limits it tests around', () => {
    expect(SHORT_INPUT).toBe(1015);
    expect(SHORT_MESSAGE).toBe(960);
  });

  for (const { label, provider } of providersWithoutAeadUse) {
    it(`via ${label}: any key 0–200 and message 0–2100 bytes, any input kind, sync and async`, async () => {
      await fc.assert(
        fc.asyncProperty(
          lengthNear(KEY_EDGES, 200),
          lengthNear(MESSAGE_EDGES, 2100),
          fc.integer({ min: 0, max: 0xffff_ffff }),
          kinds,
          kinds,
          async (keyLength, dataLength, seed, keyKind: Kind, dataKind: Kind) => {
            const key = arrange(keyLength, seed, keyKind);
            const data = arrange(dataLength, seed ^ 0x5a5a5a5a, dataKind);
            const want = reference(key.bytes, data.bytes);
            if (provider.hmacSha256Sync) expectBytes(provider.hmacSha256Sync(key.bytes, data.bytes), want);
            expectBytes(await provider.hmacSha256(key.bytes, data.bytes), want);
            key.unchanged();
            data.unchanged();
          },
        ),
        { numRuns: 120 },
      );
    });

    it(`via ${label}: every edge length pair`, async () => {
      for (const k of KEY_EDGES)
        for (const m of MESSAGE_EDGES.flatMap((n) => [n - 1, n, n + 1]).filter((n) => n >= 0)) {
          const key = arrange(k, k * 7919 + m, 'plain').bytes;
          const data = arrange(m, m * 104729 + k, 'view').bytes;
          const want = reference(key, data);
          if (provider.hmacSha256Sync)
            expectBytes(provider.hmacSha256Sync(key, data), want, `sync k${k} m${m}`);
          expectBytes(await provider.hmacSha256(key, data), want, `async k${k} m${m}`);
        }
    });
  }
});
