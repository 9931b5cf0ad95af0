// Wycheproof AES-GCM and ChaCha20-Poly1305 through every provider.
import { type CryptoProvider, E2eeError, ErrorCode, VerificationError } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, thrown, type WycheproofTest } from './helpers/wycheproof.js';

interface AeadGroup {
  readonly keySize: number;
  readonly ivSize: number;
  readonly tagSize: number;
  readonly tests: ReadonlyArray<
    WycheproofTest & { key: string; iv: string; aad: string; msg: string; ct: string; tag: string }
  >;
}

type Seal = (
  p: CryptoProvider,
  k: Uint8Array,
  n: Uint8Array,
  m: Uint8Array,
  a: Uint8Array,
) => Promise<Uint8Array>;

/** Nonce lengths core's API offers: AES-GCM 8 bytes or more, ChaCha20-Poly1305 exactly 12. */
const algorithms: ReadonlyArray<{
  file: string;
  name: string;
  seal: Seal;
  open: Seal;
  nonceOk: (n: number) => boolean;
}> = [
  {
    file: 'aes_gcm_test.json',
    name: 'AES-256-GCM',
    seal: (p, k, n, m, a) => p.aes256GcmEncrypt(k, n, m, a),
    open: (p, k, n, c, a) => p.aes256GcmDecrypt(k, n, c, a),
    nonceOk: (n) => n >= 8,
  },
  {
    file: 'chacha20_poly1305_test.json',
    name: 'ChaCha20-Poly1305',
    seal: (p, k, n, m, a) => p.chacha20Poly1305Encrypt(k, n, m, a),
    open: (p, k, n, c, a) => p.chacha20Poly1305Decrypt(k, n, c, a),
    nonceOk: (n) => n === 12,
  },
];

const isTagMismatch = (e: unknown) =>
  e instanceof VerificationError && E2eeError.is(e, ErrorCode.AeadTagMismatch);

for (const alg of algorithms) {
  const file = loadWycheproof<AeadGroup>(alg.file);
  describe(`wycheproof ${alg.file}`, () => {
    it('lists its tag sizes (core offers 16-byte tags only; others are checked to be rejected)', () => {
      const sizes = new Map<number, number>();
      for (const g of file.testGroups) sizes.set(g.tagSize, (sizes.get(g.tagSize) ?? 0) + g.tests.length);
      console.log(
        `[wycheproof] ${alg.file}: vectors by tag size (bits): ${[...sizes].map(([k, v]) => `${k}=${v}`).join(', ')}`,
      );
      let total = 0;
      for (const v of sizes.values()) total += v;
      expect(total).toBe(file.numberOfTests);
    });
    for (const { label, provider } of allProviders) {
      it(`${alg.name} via ${label}`, async () => {
        const t = new Tally();
        for (const g of file.testGroups) {
          for (const v of g.tests) {
            const key = hex(v.key);
            const iv = hex(v.iv);
            const aad = hex(v.aad);
            const msg = hex(v.msg);
            const sealed = new Uint8Array([...hex(v.ct), ...hex(v.tag)]);
            if (g.keySize !== 256) {
              // Core offers AES-256 only: a 128/192-bit key must be refused as a programmer error.
              const e = await thrown(() => alg.open(provider, key, iv, sealed, aad));
              if (!(e instanceof RangeError)) t.fail(v.tcId, `${g.keySize}-bit key not refused: ${e}`);
              t.add(`refused:${g.keySize}-bit-key`);
              continue;
            }
            if (g.tagSize !== 128) {
              // Core's AEAD API has 16-byte tags only; a shorter tag must never authenticate.
              const e = await thrown(() => alg.open(provider, key, iv, sealed, aad));
              if (!(e instanceof VerificationError)) t.fail(v.tcId, `${g.tagSize}-bit tag accepted`);
              t.add(`rejected:${g.tagSize}-bit-tag`);
              continue;
            }
            if (!alg.nonceOk(iv.length)) {
              // Nonce sizes the API does not offer are programmer errors (RangeError) in both directions.
              // For AES-GCM that includes valid 1..7-byte nonces (noble, the pure baseline, needs 8+).
              const e1 = await thrown(() => alg.open(provider, key, iv, sealed, aad));
              const e2 = await thrown(() => alg.seal(provider, key, iv, msg, aad));
              if (!(e1 instanceof RangeError) || !(e2 instanceof RangeError))
                t.fail(v.tcId, `nonce of ${iv.length} bytes not refused: ${e1} / ${e2}`);
              t.add(`refused:${v.result}-nonce-${iv.length}B`);
              continue;
            }
            if (v.result === 'valid') {
              const ct = await alg.seal(provider, key, iv, msg, aad);
              if (!same(ct, sealed)) t.fail(v.tcId, 'encrypt mismatch');
              const pt = await thrown(async () => {
                const out = await alg.open(provider, key, iv, sealed, aad);
                if (!same(out, msg)) throw new Error('decrypt mismatch');
              });
              if (pt !== undefined) t.fail(v.tcId, `decrypt failed: ${pt}`);
              // The same bytes with the tag cut to 12 bytes must not authenticate.
              const short = await thrown(() => alg.open(provider, key, iv, sealed.subarray(0, -4), aad));
              if (!isTagMismatch(short)) t.fail(v.tcId, 'truncated tag accepted');
              t.add('valid:matched');
            } else {
              const e = await thrown(() => alg.open(provider, key, iv, sealed, aad));
              if (!isTagMismatch(e)) t.fail(v.tcId, `invalid vector not rejected (${v.flags}): ${e}`);
              t.add(`invalid:rejected(${v.flags.join('+')})`);
            }
          }
        }
        t.print(`${alg.file} via ${label}`);
        expect(t.failures).toEqual([]);
        expect(t.total).toBe(file.numberOfTests);
        expect(t.count('valid:matched')).toBeGreaterThan(0);
      });
    }
  });
}
