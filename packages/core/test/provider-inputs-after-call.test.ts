// A caller may reuse its buffer as soon as a provider call has returned its promise: a pooled Node
// Buffer is refilled by the next socket read, an ArrayBuffer is transferred to a worker. Whatever
// happens to the caller's bytes then, the answer is the one for the bytes passed at the call (noble's
// answer on untouched plain arrays; noble's answers are checked against the published vectors in the
// wycheproof and sha tests). The platform provider awaits its Web Crypto probe and key imports before
// reading its inputs: it hashed the refilled bytes, or an empty array once the buffer was transferred.
import { type CryptoProvider, nobleProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';

type Make = (n: number, seed: number) => Uint8Array;
const plain: Make = (n, seed) => {
  const u = new Uint8Array(n);
  for (let i = 0; i < n; i++) u[i] = (i * 7 + seed) & 0xff;
  return u;
};
const into = (m: Make, bytes: Uint8Array) => {
  const u = m(bytes.length, 0);
  u.set(bytes);
  return u;
};

// 5000 bytes: past the platform provider's Web Crypto threshold (4096), so its Web Crypto paths run.
const BIG = 5000;
const CBC_SEALED = await nobleProvider.aes256CbcEncrypt(plain(32, 3), plain(16, 6), plain(BIG, 1));
const SEED = plain(32, 14);
const SIGNATURE = await nobleProvider.ed25519Sign(SEED, plain(100, 1));
const SIGNER = await nobleProvider.ed25519PublicKey(SEED);
const ops: Record<string, (p: CryptoProvider, m: Make) => Promise<Uint8Array | boolean>> = {
  sha256: (p, m) => p.sha256(m(BIG, 1)),
  sha512: (p, m) => p.sha512(m(BIG, 1)),
  hmacSha256: (p, m) => p.hmacSha256(m(32, 3), m(BIG, 1)),
  hmacSha512: (p, m) => p.hmacSha512(m(32, 3), m(BIG, 1)),
  hkdfSha256: (p, m) => p.hkdfSha256(m(BIG, 1), m(32, 4), m(10, 5), 64),
  aes256CbcEncrypt: (p, m) => p.aes256CbcEncrypt(m(32, 3), m(16, 6), m(BIG, 1)),
  aes256CbcDecrypt: (p, m) => p.aes256CbcDecrypt(m(32, 3), m(16, 6), into(m, CBC_SEALED)),
  aes256GcmEncrypt: (p, m) => p.aes256GcmEncrypt(m(32, 3), m(12, 7), m(BIG, 1), m(9, 8)),
  aes256GcmEncryptSmall: (p, m) => p.aes256GcmEncrypt(m(32, 3), m(12, 7), m(40, 1), m(9, 8)),
  chacha20Poly1305Encrypt: (p, m) => p.chacha20Poly1305Encrypt(m(32, 3), m(12, 7), m(BIG, 1), m(9, 8)),
  x25519: (p, m) => p.x25519(m(32, 9), m(32, 10)),
  ed25519Sign: (p, m) => p.ed25519Sign(m(32, 13), m(100, 1)),
  ed25519Verify: (p, m) => p.ed25519Verify(into(m, SIGNER), m(100, 1), into(m, SIGNATURE)),
};

const answer = (r: Uint8Array | boolean) => (typeof r === 'boolean' ? r : Buffer.from(r).toString('hex'));

/** Runs `op` with arrays that `after` spoils once the call has returned (before its promise settles). */
async function spoiledAfterCall(
  p: CryptoProvider,
  op: (p: CryptoProvider, m: Make) => Promise<Uint8Array | boolean>,
  after: (u: Uint8Array) => void,
) {
  const given: Uint8Array[] = [];
  const tracked: Make = (n, seed) => {
    const u = plain(n, seed);
    given.push(u);
    return u;
  };
  const pending = op(p, tracked);
  for (const u of given) after(u);
  return answer(await pending);
}

describe.each(allProviders)(
  'provider $label: caller bytes changed once the call returned',
  ({ provider }) => {
    it.each(Object.keys(ops))('%s answers for the bytes passed, not a refilled buffer', async (name) => {
      const op = ops[name]!;
      const expected = answer(await op(nobleProvider, plain));
      await op(provider, plain); // the Web Crypto probe and key caches warmed: the common case
      expect(await spoiledAfterCall(provider, op, (u) => u.fill(0xaa))).toBe(expected);
    });

    it.each(Object.keys(ops))(
      '%s answers for the bytes passed, not a transferred (empty) buffer',
      async (name) => {
        const op = ops[name]!;
        const expected = answer(await op(nobleProvider, plain));
        const transfer = (u: Uint8Array) =>
          void structuredClone(u.buffer, { transfer: [u.buffer as ArrayBuffer] });
        expect(await spoiledAfterCall(provider, op, transfer)).toBe(expected);
      },
    );
  },
);
