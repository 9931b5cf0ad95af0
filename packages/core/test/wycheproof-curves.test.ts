// Wycheproof X25519 and Ed25519 through every provider, plus libsignal's all-zero rule in agree().
import { E2eeError, ErrorCode, InvalidKeyError, PrivateKey, PublicKey } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { hex, loadWycheproof, same, Tally, thrown, type WycheproofTest } from './helpers/wycheproof.js';

interface XdhGroup {
  readonly curve: string;
  readonly tests: ReadonlyArray<WycheproofTest & { public: string; private: string; shared: string }>;
}

describe('wycheproof x25519_test.json', () => {
  const file = loadWycheproof<XdhGroup>('x25519_test.json');
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`via ${label}`, async () => {
      const t = new Tally();
      for (const g of file.testGroups) {
        expect(g.curve).toBe('curve25519');
        for (const v of g.tests) {
          const priv = hex(v.private);
          const pub = hex(v.public);
          const expected = hex(v.shared);
          // The provider is raw RFC 7748 X25519: every vector (valid and "acceptable") has one answer.
          const out = await provider.x25519(priv, pub);
          if (!same(out, expected)) t.fail(v.tcId, `x25519 mismatch (${v.flags})`);
          // PrivateKey.agree adds libsignal's rule: an all-zero secret is refused.
          const zero = expected.every((b) => b === 0);
          const agreed = await thrown(async () => {
            const s = await PrivateKey.deserialize(priv).agree(PublicKey.fromRaw(pub), provider);
            if (!same(s, expected)) throw new Error('agree mismatch');
          });
          if (zero) {
            if (!(agreed instanceof InvalidKeyError && E2eeError.is(agreed, ErrorCode.InvalidKeyAgreement)))
              t.fail(v.tcId, `all-zero secret not refused by agree: ${agreed}`);
            t.add(`${v.result}:matched+agree-refused-zero`);
          } else {
            if (agreed !== undefined) t.fail(v.tcId, `agree: ${agreed}`);
            t.add(`${v.result}:matched`);
          }
        }
      }
      t.print(`x25519_test.json via ${label}`);
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
      expect(t.count('acceptable:matched+agree-refused-zero')).toBeGreaterThan(0);
    });
  }
});

interface EddsaGroup {
  readonly publicKey: { readonly curve: string; readonly pk: string };
  readonly tests: ReadonlyArray<WycheproofTest & { msg: string; sig: string }>;
}

describe('wycheproof ed25519_test.json', () => {
  const file = loadWycheproof<EddsaGroup>('ed25519_test.json');
  for (const { label, provider } of providersWithoutAeadUse) {
    it(`ed25519Verify via ${label}`, async () => {
      const t = new Tally();
      for (const g of file.testGroups) {
        expect(g.publicKey.curve).toBe('edwards25519');
        const pk = hex(g.publicKey.pk);
        for (const v of g.tests) {
          const ok = await provider.ed25519Verify(pk, hex(v.msg), hex(v.sig));
          if (v.result === 'valid') {
            if (ok !== true) t.fail(v.tcId, `valid signature refused (${v.flags})`);
            t.add('valid:verified');
          } else {
            if (ok !== false) t.fail(v.tcId, `invalid signature accepted (${v.flags})`);
            t.add(`invalid:rejected(${v.flags.join('+')})`);
          }
        }
      }
      t.print(`ed25519_test.json via ${label}`);
      expect(t.failures).toEqual([]);
      expect(t.total).toBe(file.numberOfTests);
    });
  }
});
