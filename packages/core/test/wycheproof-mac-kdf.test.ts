// Wycheproof HMAC-SHA256, HMAC-SHA512 and HKDF-SHA256 through every provider.
import type { CryptoProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, thrown, type WycheproofTest } from './helpers/wycheproof.js';

interface MacGroup {
  readonly keySize: number;
  readonly tagSize: number;
  readonly tests: ReadonlyArray<WycheproofTest & { key: string; msg: string; tag: string }>;
}

const macs: ReadonlyArray<{
  file: string;
  fullBytes: number;
  mac: (p: CryptoProvider, k: Uint8Array, m: Uint8Array) => Promise<Uint8Array>;
}> = [
  { file: 'hmac_sha256_test.json', fullBytes: 32, mac: (p, k, m) => p.hmacSha256(k, m) },
  { file: 'hmac_sha512_test.json', fullBytes: 64, mac: (p, k, m) => p.hmacSha512(k, m) },
];

for (const alg of macs) {
  const file = loadWycheproof<MacGroup>(alg.file);
  describe(`wycheproof ${alg.file}`, () => {
    for (const { label, provider } of providersWithoutAeadUse) {
      it(`via ${label}`, async () => {
        const t = new Tally();
        for (const g of file.testGroups) {
          for (const v of g.tests) {
            const full = await alg.mac(provider, hex(v.key), hex(v.msg));
            if (full.length !== alg.fullBytes) t.fail(v.tcId, `output is ${full.length} bytes`);
            // Truncated-tag groups (tagSize < full) compare the leading bytes, as the vectors define.
            const tag = hex(v.tag);
            const matches = tag.length === g.tagSize / 8 && same(full.subarray(0, tag.length), tag);
            if (v.result === 'valid') {
              if (!matches) t.fail(v.tcId, 'valid tag mismatch');
              t.add(`valid:matched(tag ${g.tagSize} bits)`);
            } else {
              if (matches) t.fail(v.tcId, 'invalid tag matched');
              t.add(`invalid:rejected(${v.flags.join('+')})`);
            }
          }
        }
        t.print(`${alg.file} via ${label}`);
        expect(t.failures).toEqual([]);
        expect(t.total).toBe(file.numberOfTests);
      });
    }
  });
}

interface HkdfGroup {
  readonly tests: ReadonlyArray<
    WycheproofTest & { ikm: string; salt: string; info: string; size: number; okm: string }
  >;
}

describe('wycheproof hkdf_sha256_test.json', () => {
  const file = loadWycheproof<HkdfGroup>('hkdf_sha256_test.json');
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`via ${label}`, async () => {
      const t = new Tally();
      for (const g of file.testGroups) {
        for (const v of g.tests) {
          const run = () => provider.hkdfSha256(hex(v.ikm), hex(v.salt), hex(v.info), v.size);
          if (v.result === 'valid') {
            const okm = await run();
            if (!same(okm, hex(v.okm))) t.fail(v.tcId, 'okm mismatch');
            t.add('valid:matched');
          } else {
            // The only invalid kind is an output longer than 255 hash lengths: a RangeError.
            const e = await thrown(run);
            if (!(e instanceof RangeError)) t.fail(v.tcId, `not refused: ${e}`);
            t.add(`invalid:refused(${v.flags.join('+')})`);
          }
        }
      }
      t.print(`hkdf_sha256_test.json via ${label}`);
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
    });
  }

  it('treats an absent salt as 32 zero bytes (RFC 5869 §2.2) on every provider', async () => {
    const v = file.testGroups.flatMap((g) => g.tests).find((x) => x.flags.includes('EmptySalt'));
    expect(v).toBeDefined();
    for (const { provider } of providersWithoutAeadUse) {
      const okm = await provider.hkdfSha256(hex(v!.ikm), undefined, hex(v!.info), v!.size);
      expect(same(okm, hex(v!.okm))).toBe(true);
      const zeros = await provider.hkdfSha256(hex(v!.ikm), new Uint8Array(32), hex(v!.info), v!.size);
      expect(same(zeros, hex(v!.okm))).toBe(true);
    }
  });
});
