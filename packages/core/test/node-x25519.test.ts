// The node provider's X25519 key handling (core/src/node.ts): a generated key pair costs one private-key
// import and no `generateKeyPairSync` (its public key is read back from that import), the imported key
// serves the agreements that follow, and `x25519PublicKey` reads the public key back the same way.
// Expected values come from noble and RFC 7748; node:crypto calls are counted through the CommonJS
// module object (the ESM namespace node.ts imports follows it after `syncBuiltinESMExports`).
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { inspect } from 'node:util';
import { fromHex, KeyPair, nobleProvider, PrivateKey, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { same } from './helpers/wycheproof.js';

const rnd = createDeterministicRandom('node-x25519.test');
const nodeCrypto = createRequire(import.meta.url)('node:crypto') as Record<string, unknown>;
const COUNTED = ['createPrivateKey', 'createPublicKey', 'generateKeyPairSync', 'diffieHellman'] as const;
const calls = new Map<string, number>();
const originals = new Map<string, unknown>();

beforeAll(() => {
  for (const name of COUNTED) {
    const original = nodeCrypto[name] as (...args: unknown[]) => unknown;
    originals.set(name, original);
    nodeCrypto[name] = function (this: unknown, ...args: unknown[]) {
      calls.set(name, (calls.get(name) ?? 0) + 1);
      return original.apply(this, args);
    };
  }
  syncBuiltinESMExports();
});

afterAll(() => {
  for (const [name, original] of originals) nodeCrypto[name] = original;
  syncBuiltinESMExports();
});

const counted = async <T>(f: () => Promise<T>): Promise<[T, Record<string, number>]> => {
  calls.clear();
  const out = await f();
  return [out, Object.fromEntries(calls)];
};

// RFC 7748 §6.1: Alice's and Bob's private keys (unclamped as printed) and public keys.
const RFC7748 = [
  [
    '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
    '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
  ],
  [
    '5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb',
    'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
  ],
] as const;

describe('node provider: X25519 keys read back from one import', () => {
  it('x25519PublicKey gives the RFC 7748 public keys and noble’s for random scalars', async () => {
    for (const [priv, pub] of RFC7748) {
      expect(toHex(await nodeProvider.x25519PublicKey(fromHex(priv)))).toBe(pub);
    }
    for (let i = 0; i < 16; i++) {
      const k = rnd(32); // unclamped: OpenSSL and noble both clamp
      expect(same(await nodeProvider.x25519PublicKey(k), await nobleProvider.x25519PublicKey(k))).toBe(true);
    }
  });

  it('x25519PublicKey hands out copies and keeps no view of the caller’s bytes', async () => {
    const k = rnd(32);
    const want = await nobleProvider.x25519PublicKey(k);
    const first = await nodeProvider.x25519PublicKey(k);
    first.fill(0xee); // a caller scribbling on its result must not reach the cache
    expect(same(await nodeProvider.x25519PublicKey(k.slice()), want)).toBe(true);
    const original = k.slice();
    k[5] = (k[5] as number) ^ 0x10; // nor a caller reusing its input buffer
    expect(same(await nodeProvider.x25519PublicKey(original), want)).toBe(true);
    expect(same(await nodeProvider.x25519PublicKey(k), await nobleProvider.x25519PublicKey(k))).toBe(true);
    const peer = await nobleProvider.x25519PublicKey(rnd(32));
    expect(same(await nodeProvider.x25519(original, peer), await nobleProvider.x25519(original, peer))).toBe(
      true,
    );
  });

  it('a derived public key leaves the private key imported: the agreement imports only the peer', async () => {
    const k = rnd(32);
    const [, derive] = await counted(() => nodeProvider.x25519PublicKey(k));
    expect(derive).toEqual({ createPrivateKey: 1, createPublicKey: 1 });
    const peer = await nobleProvider.x25519PublicKey(rnd(32));
    const [shared, agree] = await counted(() => nodeProvider.x25519(k.slice(), peer));
    expect(agree).toEqual({ createPublicKey: 1, diffieHellman: 1 });
    expect(same(shared, await nobleProvider.x25519(k, peer))).toBe(true);
  });

  it('KeyPair.generate: one private-key import, no generateKeyPairSync; agreements reuse the import', async () => {
    const [kp, generate] = await counted(() => KeyPair.generate(nodeProvider));
    expect(generate).toEqual({ createPrivateKey: 1, createPublicKey: 1 });
    const priv = kp.privateKey.serialize();
    expect(same(kp.publicKey.raw(), await nobleProvider.x25519PublicKey(priv))).toBe(true);
    const peer = await KeyPair.generate(nobleProvider);
    // As a session record gives it back: the same bytes in a new array.
    const stored = PrivateKey.deserialize(priv.slice());
    const [shared, agree] = await counted(() => stored.agree(peer.publicKey, nodeProvider));
    expect(agree).toEqual({ createPublicKey: 1, diffieHellman: 1 });
    expect(same(shared, await peer.privateKey.agree(kp.publicKey, nobleProvider))).toBe(true);
  });

  it('generated key pairs are distinct and print no key bytes', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 32; i++) {
      const kp = await KeyPair.generate(nodeProvider);
      const hex = toHex(kp.privateKey.serialize());
      expect(seen.has(hex)).toBe(false);
      seen.add(hex);
      expect(inspect(kp, { depth: 5, showHidden: true })).not.toContain(hex);
    }
  });
});
