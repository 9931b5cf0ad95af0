// Wycheproof AES-CBC with PKCS#5/7 padding through every provider (core offers AES-256 only).
import { E2eeError, ErrorCode, VerificationError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, thrown, type WycheproofTest } from './helpers/wycheproof.js';

interface CbcGroup {
  readonly keySize: number;
  readonly ivSize: number;
  readonly tests: ReadonlyArray<WycheproofTest & { key: string; iv: string; msg: string; ct: string }>;
}

describe('wycheproof aes_cbc_pkcs5_test.json', () => {
  const file = loadWycheproof<CbcGroup>('aes_cbc_pkcs5_test.json');
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`via ${label}`, async () => {
      const t = new Tally();
      for (const g of file.testGroups) {
        for (const v of g.tests) {
          const key = hex(v.key);
          const iv = hex(v.iv);
          const ct = hex(v.ct);
          if (g.keySize !== 256) {
            // AES-128/192 is not offered: the key length is a programmer error in both directions.
            const e1 = await thrown(() => provider.aes256CbcDecrypt(key, iv, ct));
            const e2 = await thrown(() => provider.aes256CbcEncrypt(key, iv, hex(v.msg)));
            if (!(e1 instanceof RangeError) || !(e2 instanceof RangeError))
              t.fail(v.tcId, `${g.keySize}-bit key not refused`);
            t.add(`refused:${g.keySize}-bit-key`);
            continue;
          }
          if (v.result === 'valid') {
            const enc = await provider.aes256CbcEncrypt(key, iv, hex(v.msg));
            if (!same(enc, ct)) t.fail(v.tcId, 'encrypt mismatch');
            const dec = await provider.aes256CbcDecrypt(key, iv, ct);
            if (!same(dec, hex(v.msg))) t.fail(v.tcId, 'decrypt mismatch');
            t.add('valid:matched');
          } else {
            const e = await thrown(() => provider.aes256CbcDecrypt(key, iv, ct));
            if (!(e instanceof VerificationError && E2eeError.is(e, ErrorCode.BadPadding)))
              t.fail(v.tcId, `not rejected as BAD_PADDING: ${e}`);
            t.add(`invalid:rejected(${v.flags.join('+')})`);
          }
        }
      }
      t.print(`aes_cbc_pkcs5_test.json via ${label}`);
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
      expect(t.count('valid:matched')).toBe(24);
    });
  }
});
