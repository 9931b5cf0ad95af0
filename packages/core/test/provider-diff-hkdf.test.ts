// Differential property test: HKDF-SHA256 of every built-in provider (async `hkdfSha256` and the
// optional `hkdfSha256Sync`) against @noble/hashes' `hkdf` and node:crypto's `hkdfSync`, used
// directly. The strategies switch by length: sha256-blocks.ts for salts ≤ 64 bytes, IKM ≤ 1015 and
// info ≤ 982 bytes (T(n−1) ‖ info ‖ n within 1015); node's one-shot composition for IKM ≤ 960 and info
// ≤ 927; node's async method only while IKM + info ≤ 512; Web Crypto (platform(webcrypto-all)) only
// for info ≤ 1024. Output lengths cover the empty output, partial and whole blocks and 255 · 32;
// 255 · 32 + 1 is refused alike everywhere.
import { hkdfSync } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { SHORT_MESSAGE } from '../src/provider/one-shot-kdf.js';
import { SHORT_INPUT } from '../src/provider/sha256-blocks.js';
import { arrange, expectBytes, type Kind, kinds, lengthNear } from './helpers/diff-inputs.js';
import { thrown } from './helpers/wycheproof.js';

const MAX = 255 * 32;
const OUTPUTS = [0, 1, 31, 32, 33, 64, 80, 96, MAX, MAX + 1];
// Expansion messages are T(n−1) ‖ info ‖ n: the fast paths take info up to their limit less 33 bytes.
const INFO_EDGES = [0, 1, 31, 32, 64, 448, 512, SHORT_MESSAGE - 33, SHORT_INPUT - 33, 1024];
const IKM_EDGES = [0, 1, 32, 64, 448, 512, SHORT_MESSAGE, SHORT_INPUT];
/** undefined, empty, short, one hash, one block, more than a block. */
const SALTS = [-1, 0, 1, 16, 32, 63, 64, 65, 100];

function reference(ikm: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array, length: number) {
  const want = hkdf(sha256, ikm, salt, info, length);
  // node's hkdfSync caps info at 1024 bytes and refuses an empty output: check it where it applies.
  if (info.length <= 1024 && length > 0) {
    const node = hkdfSync('sha256', ikm, salt ?? new Uint8Array(32), info, length);
    expectBytes(new Uint8Array(node), want);
  }
  return want;
}

const refusal = (e: unknown) => (e instanceof Error ? [e.constructor.name, e instanceof RangeError] : e);

describe('HKDF-SHA256 fast paths give the reference bytes', () => {
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`via ${label}: any salt, IKM 0–1100, info 0–1100, every output length class, sync and async`, async () => {
      await fc.assert(
        fc.asyncProperty(
          lengthNear(IKM_EDGES, 1100),
          fc.constantFrom(...SALTS),
          lengthNear(INFO_EDGES, 1100),
          fc.constantFrom(...OUTPUTS),
          fc.integer({ min: 0, max: 0xffff_ffff }),
          kinds,
          async (ikmLength, saltLength, infoLength, length, seed, kind: Kind) => {
            const ikm = arrange(ikmLength, seed, kind);
            const salt = saltLength < 0 ? undefined : arrange(saltLength, seed ^ 0x33, kind);
            const info = arrange(infoLength, seed ^ 0x77, kind);
            const args = [ikm.bytes, salt?.bytes, info.bytes, length] as const;
            if (length > MAX) {
              // The contract's refusal of a too-long output: a RangeError, from every entry point.
              const e = await thrown(() => provider.hkdfSha256(...args));
              expect(refusal(e)).toEqual(['RangeError', true]);
              if (provider.hkdfSha256Sync) {
                const s = await thrown(() => provider.hkdfSha256Sync?.(...args));
                expect(refusal(s)).toEqual(['RangeError', true]);
              }
            } else {
              const want = reference(ikm.bytes, salt?.bytes, info.bytes, length);
              if (provider.hkdfSha256Sync) expectBytes(provider.hkdfSha256Sync(...args), want);
              expectBytes(await provider.hkdfSha256(...args), want);
            }
            ikm.unchanged();
            salt?.unchanged();
            info.unchanged();
          },
        ),
        { numRuns: 80 },
      );
    });

    it(`via ${label}: info and IKM at and around every limit, each salt kind`, async () => {
      const lengths = (edges: number[]) => edges.flatMap((n) => [n - 1, n, n + 1]).filter((n) => n >= 0);
      for (const infoLength of lengths(INFO_EDGES))
        for (const ikmLength of [0, 32, 480, 513, 961, 1016]) {
          const saltLength = SALTS[(infoLength + ikmLength) % SALTS.length] as number;
          const ikm = arrange(ikmLength, ikmLength + 1, 'plain').bytes;
          const salt = saltLength < 0 ? undefined : arrange(saltLength, 3, 'view').bytes;
          const info = arrange(infoLength, infoLength + 2, 'pooled').bytes;
          const want = reference(ikm, salt, info, 80);
          const what = `ikm ${ikmLength} salt ${saltLength} info ${infoLength}`;
          if (provider.hkdfSha256Sync) expectBytes(provider.hkdfSha256Sync(ikm, salt, info, 80), want, what);
          expectBytes(await provider.hkdfSha256(ikm, salt, info, 80), want, what);
        }
    });
  }
});
