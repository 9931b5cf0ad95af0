/**
 * `platformProvider`'s X25519 and Ed25519: always Web Crypto where the runtime has it (many times
 * faster than pure JavaScript there), with imported keys cached by content; noble otherwise.
 */
import { assertBytes, copyBytes } from '../bytes.js';
import { checkKey32, ed25519VerifyArgsOk } from './checks.js';
import { pkcs8Ed25519, pkcs8X25519, x25519FromPkcs8 } from './der.js';
import { adoptGeneratedX25519 } from './key-cache.js';
import {
  ed25519PublicKey,
  ed25519Sign,
  ed25519Verify,
  x25519 as nobleX25519,
  x25519PublicKey,
} from './noble-curve25519.js';
import { base64url, buf, owningAll, type PlatformContext } from './platform-context.js';
import { webRandomBytes } from './random.js';

export function platformCurve25519(ctx: PlatformContext) {
  const { support, x25519Priv, x25519Pub, publicOf, edPub, edPriv } = ctx;

  const importX25519Private = async (subtle: SubtleCrypto, privateKey: Uint8Array): Promise<CryptoKey> => {
    const x = publicOf.get(privateKey);
    const d = base64url(privateKey); // before any await: the caller may reuse its buffer
    const pkcs8 = buf(pkcs8X25519(privateKey));
    if (x !== undefined) {
      try {
        const jwk: JsonWebKey = { kty: 'OKP', crv: 'X25519', d, x: base64url(x) };
        return await subtle.importKey('jwk', jwk, { name: 'X25519' }, false, ['deriveBits']);
      } catch {
        // fall through: PKCS#8 is the universally supported form
      }
    }
    try {
      return await subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
    } finally {
      pkcs8.fill(0);
    }
  };

  return owningAll({
    async x25519(privateKey: Uint8Array, publicKey: Uint8Array) {
      checkKey32(privateKey, 'privateKey');
      checkKey32(publicKey, 'publicKey');
      const s = await support();
      if (s.x25519) {
        try {
          const priv = await x25519Priv.getOrSetAsync(privateKey, () =>
            importX25519Private(s.subtle!, privateKey),
          );
          const pub = await x25519Pub.getOrSetAsync(publicKey, () =>
            s.subtle!.importKey('raw', buf(publicKey), { name: 'X25519' }, false, []),
          );
          return new Uint8Array(
            await s.subtle!.deriveBits({ name: 'X25519', public: pub } as EcdhKeyDeriveParams, priv, 256),
          );
        } catch {
          // Web Crypto refuses low-order points (all-zero output); noble gives the RFC 7748 answer.
          return nobleX25519(privateKey, publicKey);
        }
      }
      return nobleX25519(privateKey, publicKey);
    },
    async x25519PublicKey(privateKey: Uint8Array) {
      checkKey32(privateKey, 'privateKey');
      const known = publicOf.get(privateKey);
      if (known !== undefined) return copyBytes(known);
      // A base-point multiplication via Web Crypto needs an import and an export; noble's is as fast.
      const pub = x25519PublicKey(privateKey);
      publicOf.set(privateKey, pub);
      return copyBytes(pub); // the cache keeps `pub`: the caller gets its own copy
    },
    /**
     * Web Crypto's X25519 generator plus a PKCS#8 export of the private key and a raw export of the
     * public key: no base-point multiplication in JavaScript, and the generated `CryptoKey` is cached for
     * the agreements that follow. Only while `randomBytes` is this provider's own (see
     * `CryptoProvider.x25519GenerateKeyPair`).
     *
     * Not a JWK export: in Node 20 `exportKey('jwk')` is a synchronous native export on the main thread,
     * and a garbage collection during it can run the destructor of an earlier key-generation job that
     * takes the mutex the export holds — the process freezes (the node provider's issue, see node.ts).
     * Node runs the PKCS#8 and raw exports as asynchronous jobs off the main thread.
     */
    async x25519GenerateKeyPair(this: unknown) {
      if ((this as { randomBytes?: unknown } | undefined)?.randomBytes !== webRandomBytes) return undefined;
      const s = await support();
      if (!s.x25519) return undefined;
      let d: Uint8Array;
      let x: Uint8Array;
      let key: CryptoKey;
      try {
        const pair = (await s.subtle!.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
        const [pkcs8, raw] = await Promise.all([
          s.subtle!.exportKey('pkcs8', pair.privateKey),
          s.subtle!.exportKey('raw', pair.publicKey),
        ]);
        const der = new Uint8Array(pkcs8);
        d = x25519FromPkcs8(der);
        der.fill(0);
        x = new Uint8Array(raw);
        key = pair.privateKey;
      } catch {
        return undefined;
      }
      return adoptGeneratedX25519(d, x, key, x25519Priv, publicOf);
    },
    async ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) {
      if (!ed25519VerifyArgsOk(publicKey, message, signature)) return false;
      const s = await support();
      if (s.ed25519) {
        try {
          const k = await edPub.getOrSetAsync(publicKey, () =>
            s.subtle!.importKey('raw', buf(publicKey), { name: 'Ed25519' }, false, ['verify']),
          );
          return await s.subtle!.verify({ name: 'Ed25519' }, k, buf(signature), buf(message));
        } catch {
          return false;
        }
      }
      return ed25519Verify(publicKey, message, signature);
    },
    async ed25519Sign(seed: Uint8Array, message: Uint8Array) {
      checkKey32(seed, 'seed');
      assertBytes(message, 'message');
      const s = await support();
      if (s.ed25519) {
        const k = await edPriv.getOrSetAsync(seed, () =>
          s.subtle!.importKey('pkcs8', buf(pkcs8Ed25519(seed)), { name: 'Ed25519' }, false, ['sign']),
        );
        return new Uint8Array(await s.subtle!.sign({ name: 'Ed25519' }, k, buf(message)));
      }
      return ed25519Sign(seed, message);
    },
    async ed25519PublicKey(seed: Uint8Array) {
      return ed25519PublicKey(seed);
    },
  });
}
