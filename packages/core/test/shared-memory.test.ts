// Arrays backed by a SharedArrayBuffer (worker pools, WebAssembly shared memory) are Uint8Arrays like any
// other, and the noble and node providers take them. Web Crypto does not: its BufferSource refuses a
// shared buffer with a TypeError. Every provider must still give the noble provider's answer on the
// same bytes in a plain array (and that answer is checked against the published vectors elsewhere).
import { type CryptoProvider, nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';

type Make = (n: number, seed: number) => Uint8Array;
const fill = (u: Uint8Array, seed: number) => {
  for (let i = 0; i < u.length; i++) u[i] = (i * 7 + seed) & 0xff;
  return u;
};
const plain: Make = (n, seed) => fill(new Uint8Array(n), seed);
const shared: Make = (n, seed) => fill(new Uint8Array(new SharedArrayBuffer(n)), seed);
const into = (make: Make, bytes: Uint8Array) => {
  const u = make(bytes.length, 0);
  u.set(bytes);
  return u;
};

// 5000 bytes: past the platform provider's Web Crypto threshold (4096), so its Web Crypto paths run.
const BIG = 5000;
/** Opens, with `p` and arrays from `m`, what noble sealed from plain arrays. */
async function aeadOpen(
  p: CryptoProvider,
  m: Make,
  seal: 'aes256GcmEncrypt' | 'chacha20Poly1305Encrypt',
  open: 'aes256GcmDecrypt' | 'chacha20Poly1305Decrypt',
): Promise<Uint8Array> {
  const sealed = await nobleProvider[seal](plain(32, 3), plain(12, 7), plain(BIG, 1), plain(9, 8));
  return p[open](m(32, 3), m(12, 7), into(m, sealed), m(9, 8));
}

const ops: Record<string, (p: CryptoProvider, m: Make) => Promise<Uint8Array | boolean> | Uint8Array> = {
  sha256: (p, m) => p.sha256(m(BIG, 1)),
  sha512: (p, m) => p.sha512(m(BIG, 1)),
  sha512Sync: (p, m) => p.sha512Sync(m(100, 1), m(3, 2)),
  hmacSha256: (p, m) => p.hmacSha256(m(32, 3), m(BIG, 1)),
  hmacSha512: (p, m) => p.hmacSha512(m(32, 3), m(BIG, 1)),
  hkdfSha256: (p, m) => p.hkdfSha256(m(BIG, 1), m(32, 4), m(10, 5), 64),
  aes256CbcEncrypt: (p, m) => p.aes256CbcEncrypt(m(32, 3), m(16, 6), m(BIG, 1)),
  aes256CbcDecrypt: async (p, m) => {
    const sealed = await nobleProvider.aes256CbcEncrypt(plain(32, 3), plain(16, 6), plain(BIG, 1));
    return p.aes256CbcDecrypt(m(32, 3), m(16, 6), into(m, sealed));
  },
  aes256GcmEncrypt: (p, m) => p.aes256GcmEncrypt(m(32, 3), m(12, 7), m(BIG, 1), m(9, 8)),
  aes256GcmDecrypt: (p, m) => aeadOpen(p, m, 'aes256GcmEncrypt', 'aes256GcmDecrypt'),
  chacha20Poly1305Encrypt: (p, m) => p.chacha20Poly1305Encrypt(m(32, 3), m(12, 7), m(BIG, 1), m(9, 8)),
  chacha20Poly1305Decrypt: (p, m) => aeadOpen(p, m, 'chacha20Poly1305Encrypt', 'chacha20Poly1305Decrypt'),
  x25519: (p, m) => p.x25519(m(32, 9), m(32, 10)),
  x25519PublicKey: (p, m) => p.x25519PublicKey(m(32, 11)),
  ed25519PublicKey: (p, m) => p.ed25519PublicKey(m(32, 12)),
  ed25519Sign: (p, m) => p.ed25519Sign(m(32, 13), m(100, 1)),
  ed25519Verify: async (p, m) => {
    const seed = plain(32, 14);
    const sig = await nobleProvider.ed25519Sign(seed, plain(100, 1));
    return p.ed25519Verify(into(m, await nobleProvider.ed25519PublicKey(seed)), m(100, 1), into(m, sig));
  },
};

const answer = (r: Uint8Array | boolean) => (typeof r === 'boolean' ? r : Buffer.from(r).toString('hex'));

describe.each(allProviders)('provider $label: SharedArrayBuffer-backed inputs', ({ provider }) => {
  it.each(Object.keys(ops))('%s gives the noble answer on the same bytes in plain arrays', async (name) => {
    const op = ops[name]!;
    const expected = answer(await op(nobleProvider, plain));
    expect(answer(await op(provider, shared))).toBe(expected);
  });

  it('ed25519Verify still refuses a wrong signature', async () => {
    const seed = plain(32, 14);
    const sig = await nobleProvider.ed25519Sign(seed, plain(100, 1));
    sig[0]! ^= 1;
    const pub = await nobleProvider.ed25519PublicKey(seed);
    expect(await provider.ed25519Verify(into(shared, pub), shared(100, 1), into(shared, sig))).toBe(false);
  });
});
