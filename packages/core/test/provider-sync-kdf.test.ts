// The optional synchronous HMAC-SHA256 / HKDF-SHA256 (`hmacSha256Sync`, `hkdfSha256Sync`) of every
// built-in provider: Wycheproof vectors, and the same bytes and refusals as the async methods for any
// input (plain arrays, pooled Buffers, offset views), with the caller's bytes left untouched.
import type { CryptoProvider } from '@e2ee-kit/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, type WycheproofTest } from './helpers/wycheproof.js';

interface MacGroup {
  readonly tagSize: number;
  readonly tests: ReadonlyArray<WycheproofTest & { key: string; msg: string; tag: string }>;
}
interface HkdfGroup {
  readonly tests: ReadonlyArray<
    WycheproofTest & { ikm: string; salt: string; info: string; size: number; okm: string }
  >;
}

function sync(p: CryptoProvider) {
  const { hmacSha256Sync: hmac, hkdfSha256Sync: hkdf } = p;
  if (!hmac || !hkdf) throw new Error(`${p.name} lacks the sync KDFs`);
  return { hmac: hmac.bind(p), hkdf: hkdf.bind(p) };
}

/** A copy of `b` placed at an odd offset inside a larger buffer (or a pooled Buffer). */
function view(b: Uint8Array, kind: number): Uint8Array {
  if (kind === 1) return Buffer.from(b);
  if (kind === 2) {
    const big = new Uint8Array(b.length + 7).fill(0xa5);
    big.set(b, 3);
    return big.subarray(3, 3 + b.length);
  }
  return b.slice();
}

for (const { label, provider } of providersWithoutAeadUse) {
  describe(`sync KDFs via ${label}`, () => {
    it('HMAC-SHA256 matches wycheproof hmac_sha256_test.json', () => {
      const { hmac } = sync(provider);
      const file = loadWycheproof<MacGroup>('hmac_sha256_test.json');
      const t = new Tally();
      for (const g of file.testGroups) {
        for (const v of g.tests) {
          const full = hmac(hex(v.key), hex(v.msg));
          const tag = hex(v.tag);
          const matches =
            full.length === 32 && tag.length === g.tagSize / 8 && same(full.subarray(0, tag.length), tag);
          if (matches !== (v.result === 'valid')) t.fail(v.tcId, `${v.result} but matched=${matches}`);
          t.add(v.result);
        }
      }
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
    });

    it('HKDF-SHA256 matches wycheproof hkdf_sha256_test.json', () => {
      const { hkdf } = sync(provider);
      const file = loadWycheproof<HkdfGroup>('hkdf_sha256_test.json');
      const t = new Tally();
      for (const g of file.testGroups) {
        for (const v of g.tests) {
          if (v.result === 'valid') {
            if (!same(hkdf(hex(v.ikm), hex(v.salt), hex(v.info), v.size), hex(v.okm))) t.fail(v.tcId, 'okm');
          } else {
            expect(() => hkdf(hex(v.ikm), hex(v.salt), hex(v.info), v.size)).toThrow(RangeError);
          }
          t.add(v.result);
        }
      }
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
    });

    it('gives the async methods’ bytes for any input and leaves the caller’s bytes alone', async () => {
      const { hmac, hkdf } = sync(provider);
      const bytes = (max: number) => fc.uint8Array({ maxLength: max });
      await fc.assert(
        fc.asyncProperty(
          bytes(140),
          bytes(300),
          fc.option(bytes(80), { nil: undefined }),
          bytes(120),
          fc.integer({ min: 1, max: 200 }),
          fc.integer({ min: 0, max: 2 }),
          async (key, data, salt, info, length, kind) => {
            const [k, d, i] = [view(key, kind), view(data, kind), view(info, kind)];
            const s = salt && view(salt, kind);
            expect(hmac(k, d)).toEqual(await provider.hmacSha256(key, data));
            expect(hkdf(d, s, i, length)).toEqual(await provider.hkdfSha256(data, salt, info, length));
            expect(same(k, key) && same(d, data) && same(i, info)).toBe(true);
            if (salt) expect(same(s as Uint8Array, salt)).toBe(true);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('refuses what the async methods refuse', async () => {
      const { hmac, hkdf } = sync(provider);
      for (const length of [-1, 8161, 1.5, Number.NaN]) {
        const e = await provider
          .hkdfSha256(new Uint8Array(32), undefined, new Uint8Array(0), length)
          .catch((x) => x);
        expect(() => hkdf(new Uint8Array(32), undefined, new Uint8Array(0), length)).toThrow(e.constructor);
      }
      expect(hkdf(new Uint8Array(32), undefined, new Uint8Array(0), 0)).toEqual(new Uint8Array(0));
      for (const bad of ['key', null, [1, 2]]) {
        expect(() => hmac(bad as unknown as Uint8Array, new Uint8Array(1))).toThrow(TypeError);
        expect(() => hmac(new Uint8Array(1), bad as unknown as Uint8Array)).toThrow(TypeError);
        expect(() => hkdf(bad as unknown as Uint8Array, undefined, new Uint8Array(1), 32)).toThrow(TypeError);
      }
    });
  });
}

describe('one-shot KDF composition (node provider internals)', () => {
  it('takes the fallbacks where the runtime has no one-shot hash, with the same bytes', async () => {
    const { createHmac, hash } = await import('node:crypto');
    const { assertBytes, nobleProvider } = await import('@e2ee-kit/core');
    const { oneShotKdf } = await import('../src/provider/one-shot-kdf.js');
    let fallbacks = 0;
    const deps = {
      hmacFallback: (k: Uint8Array, d: Uint8Array) => {
        fallbacks++;
        return new Uint8Array(createHmac('sha256', k).update(d).digest());
      },
      hkdfFallback: (i: Uint8Array, s: Uint8Array | undefined, info: Uint8Array, n: number) => {
        fallbacks++;
        return (nobleProvider.hkdfSha256Sync as NonNullable<typeof nobleProvider.hkdfSha256Sync>)(
          i,
          s,
          info,
          n,
        );
      },
      assertBytes,
    };
    const fast = oneShotKdf({ ...deps, hash: hash as never });
    const slow = oneShotKdf({ ...deps, hash: undefined });
    const key = new Uint8Array(32).fill(7);
    const info = new Uint8Array(35).fill(1);
    fallbacks = 0;
    const a = [fast.hmacSha256Sync(key, Uint8Array.of(2)), fast.hkdfSha256Sync(key, undefined, info, 80)];
    expect(fallbacks).toBe(0);
    const b = [slow.hmacSha256Sync(key, Uint8Array.of(2)), slow.hkdfSha256Sync(key, undefined, info, 80)];
    expect(fallbacks).toBe(2);
    expect(b).toEqual(a);
  });

  // The README's bounds for node's one-shot HMAC (keys ≤ 64 bytes, messages ≤ 960 bytes) and for
  // the HKDF composed on it (IKM ≤ 960 bytes): `createHmac` / noble beyond, same bytes either way.
  it('takes the one-shot path for keys ≤ 64 and messages ≤ 960 bytes, the fallbacks beyond', async () => {
    const { createHmac, hash } = await import('node:crypto');
    const { assertBytes, nobleProvider } = await import('@e2ee-kit/core');
    const { oneShotKdf } = await import('../src/provider/one-shot-kdf.js');
    let fallbacks = 0;
    const noble = nobleProvider.hkdfSha256Sync as NonNullable<typeof nobleProvider.hkdfSha256Sync>;
    const kdf = oneShotKdf({
      hash: hash as never,
      hmacFallback: (k, d) => {
        fallbacks++;
        return new Uint8Array(createHmac('sha256', k).update(d).digest());
      },
      hkdfFallback: (i, s, info, n) => {
        fallbacks++;
        return noble(i, s, info, n);
      },
      assertBytes,
    });
    const took = (f: () => Uint8Array): boolean => {
      fallbacks = 0;
      f();
      return fallbacks === 0;
    };
    const bytes = (n: number) => new Uint8Array(n).fill(5);
    expect(took(() => kdf.hmacSha256Sync(bytes(64), bytes(960)))).toBe(true);
    expect(took(() => kdf.hmacSha256Sync(bytes(65), bytes(1)))).toBe(false);
    expect(took(() => kdf.hmacSha256Sync(bytes(32), bytes(961)))).toBe(false);
    expect(took(() => kdf.hkdfSha256Sync(bytes(960), undefined, bytes(16), 80))).toBe(true);
    expect(took(() => kdf.hkdfSha256Sync(bytes(961), undefined, bytes(16), 80))).toBe(false);
  });
});
