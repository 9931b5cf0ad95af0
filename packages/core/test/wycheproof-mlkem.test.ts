// Wycheproof ML-KEM-1024 (FIPS 203) through core's KEM API (type 0x0A) with every provider's randomness slot.
import {
  DecodeError,
  generateKemKeyPair,
  KEM_SECRET_KEY_LENGTH,
  KemSecretKey,
  KemType,
  kemDecapsulate,
  withRandom,
} from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, thrown, type WycheproofTest } from './helpers/wycheproof.js';

interface MlKemGroup {
  readonly parameterSet: string;
  readonly tests: ReadonlyArray<WycheproofTest & { seed: string; ek?: string; c: string; K: string }>;
}

/** A provider whose random draw returns the vector's seed (d ‖ z); withRandom refuses a wrong size. */
const seeded = <P extends Parameters<typeof withRandom>[0]>(p: P, seed: Uint8Array) =>
  withRandom(p, () => seed.slice());

describe('wycheproof mlkem_1024_test.json', () => {
  const file = loadWycheproof<MlKemGroup>('mlkem_1024_test.json');
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`keygen from seed + decapsulation via ${label}`, async () => {
      const t = new Tally();
      for (const g of file.testGroups) {
        expect(g.parameterSet).toBe('ML-KEM-1024');
        for (const v of g.tests) {
          const seed = hex(v.seed);
          if (seed.length !== 64) {
            // "Private key too short/long": the seed is not 64 bytes. Core never accepts a seed of another
            // size: key generation draws exactly 64 bytes, and a secret key is only ever the 3168-byte form.
            const e1 = thrown(() => generateKemKeyPair(seeded(provider, seed), KemType.MlKem1024));
            const e2 = thrown(() => KemSecretKey.deserialize(new Uint8Array([KemType.MlKem1024, ...seed])));
            if (!((await e1) instanceof TypeError)) t.fail(v.tcId, 'seed of wrong size accepted by keygen');
            if (!((await e2) instanceof DecodeError)) t.fail(v.tcId, 'seed accepted as a secret key');
            if (v.result !== 'invalid') t.fail(v.tcId, 'a valid vector has a seed of the wrong size');
            t.add('invalid:refused(seed size)');
            continue;
          }
          const kp = generateKemKeyPair(seeded(provider, seed), KemType.MlKem1024);
          const sk = kp.secretKey.serialize();
          if (sk.length !== KEM_SECRET_KEY_LENGTH + 1) t.fail(v.tcId, 'secret key length');
          if (v.ek !== undefined && !same(kp.publicKey.serialize(), new Uint8Array([0x0a, ...hex(v.ek)])))
            t.fail(v.tcId, 'encapsulation key mismatch');
          const ct = new Uint8Array([KemType.MlKem1024, ...hex(v.c)]);
          if (v.result === 'valid') {
            // Includes implicit-rejection cases (random / bit-flipped ciphertexts): K is then the
            // rejection value, which must match too.
            const k = kemDecapsulate(ct, kp.secretKey);
            if (!same(k, hex(v.K))) t.fail(v.tcId, `shared secret mismatch (${v.comment ?? v.flags})`);
            t.add('valid:matched');
          } else {
            // "Ciphertext too short/long": a DecodeError before any decapsulation.
            const e = await thrown(() => kemDecapsulate(ct, kp.secretKey));
            if (!(e instanceof DecodeError)) t.fail(v.tcId, `ciphertext of ${v.c.length / 2} bytes: ${e}`);
            t.add(`invalid:refused(${v.comment})`);
          }
        }
      }
      t.print(`mlkem_1024_test.json via ${label}`);
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
    });
  }
});
