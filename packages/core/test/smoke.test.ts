import { readFileSync } from 'node:fs';
import {
  createPlatformProvider,
  fromHex,
  generateKemKeyPair,
  kemDecapsulate,
  kemEncapsulate,
  nobleProvider,
  PrivateKey,
  platformProvider,
  toHex,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { describe, expect, it } from 'vitest';

const v = JSON.parse(
  readFileSync(new URL('../../../../shared/vectors/libsignal/ratchet-vectors.json', import.meta.url), 'utf8'),
);
describe('smoke', () => {
  for (const p of [
    nobleProvider,
    platformProvider,
    nodeProvider,
    createPlatformProvider({ webCryptoMinBytes: 0 }),
  ]) {
    it(`xeddsa ${p.name}`, async () => {
      const x = v.xeddsaSignature;
      const priv = PrivateKey.deserialize(fromHex(x.privateKeyHex));
      const pub = await priv.publicKey(p);
      expect(toHex(pub.serialize())).toBe(x.publicKeyHex);
      expect(await xeddsaVerify(pub, fromHex(x.messageHex), fromHex(x.signatureHex), p)).toBe(true);
      const sig = xeddsaSign(priv, fromHex(x.messageHex), p);
      expect(await xeddsaVerify(pub, fromHex(x.messageHex), sig, p)).toBe(true);
      sig[5]! ^= 1;
      expect(await xeddsaVerify(pub, fromHex(x.messageHex), sig, p)).toBe(false);
      const kp = generateKemKeyPair(p);
      const e = kemEncapsulate(kp.publicKey, p);
      expect(toHex(kemDecapsulate(e.ciphertext, kp.secretKey))).toBe(toHex(e.sharedSecret));
      const a = PrivateKey.generate(p);
      const b = PrivateKey.generate(p);
      expect(toHex(await a.agree(await b.publicKey(p), p))).toBe(
        toHex(await b.agree(await a.publicKey(p), p)),
      );
    });
  }
});
