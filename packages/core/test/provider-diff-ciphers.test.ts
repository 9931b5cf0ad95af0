// Differential property test: AES-256-CBC, AES-256-GCM and ChaCha20-Poly1305 of every built-in
// provider against @noble/ciphers and node:crypto used directly. Plaintexts cross the platform
// provider's Web Crypto threshold (4096 bytes by default, 0 in platform(webcrypto-all)); GCM nonces
// are 12 bytes (native paths) or any other length from 8 (noble everywhere). Every refusal — a
// tampered body, tag or AAD, a truncated input, a length that is no multiple of the block, bad
// PKCS#7 padding — must be the same typed error on every provider: a VerificationError with the
// contract's code, never a platform DOMException / OperationError or a plaintext.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { E2eeError, ErrorCode, VerificationError } from '@e2ee-kit/core';
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../../tools/providers.js';
import { arrange, expectBytes, filled, type Kind, kinds, lengthNear } from './helpers/diff-inputs.js';
import { thrown } from './helpers/wycheproof.js';

const SIZES = [0, 1, 15, 16, 17, 31, 32, 4079, 4080, 4095, 4096, 4097, 5000];

/** The contract's refusal: a VerificationError (an E2eeError) with exactly this code. */
function expectRefusal(e: unknown, code: string, what: string): void {
  expect(e instanceof VerificationError && E2eeError.is(e, code as never), `${what}: ${String(e)}`).toBe(
    true,
  );
}

/** Node's CBC decryption with OpenSSL's PKCS#7 check: the reference decision. */
function nodeCbcOpen(key: Uint8Array, iv: Uint8Array, ct: Uint8Array): Uint8Array | undefined {
  try {
    const d = createDecipheriv('aes-256-cbc', key, iv);
    return new Uint8Array(Buffer.concat([d.update(ct), d.final()]));
  } catch {
    return undefined;
  }
}

/** `blocks` encrypted without padding: a ciphertext whose last block decrypts to chosen bytes. */
function rawCbc(key: Uint8Array, iv: Uint8Array, blocks: Uint8Array): Uint8Array {
  const c = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
  return new Uint8Array(Buffer.concat([c.update(blocks), c.final()]));
}

describe('AES-256-CBC: same bytes, same refusals', () => {
  for (const { label, provider } of allProviders) {
    it(`via ${label}: encryption, decryption, tampering and truncation`, async () => {
      await fc.assert(
        fc.asyncProperty(
          lengthNear(SIZES, 5000),
          fc.integer({ min: 0, max: 0xffff_ffff }),
          kinds,
          fc.nat(),
          async (size, seed, kind: Kind, flip) => {
            const key = arrange(32, seed, kind);
            const iv = arrange(16, seed ^ 1, kind);
            const pt = arrange(size, seed ^ 2, kind);
            const want = cbc(key.bytes, iv.bytes).encrypt(pt.bytes);
            const c = createCipheriv('aes-256-cbc', key.bytes, iv.bytes);
            expectBytes(new Uint8Array(Buffer.concat([c.update(pt.bytes), c.final()])), want);
            const ct = await provider.aes256CbcEncrypt(key.bytes, iv.bytes, pt.bytes);
            expectBytes(ct, want);
            const ctIn = arrange(ct.length, 0, kind, ct);
            expectBytes(await provider.aes256CbcDecrypt(key.bytes, iv.bytes, ctIn.bytes), pt.plain);
            // A flipped bit: CBC has no MAC, so the decision is the padding's, as OpenSSL takes it.
            const bad = ct.slice();
            const at = flip % (bad.length * 8);
            bad[at >> 3] = (bad[at >> 3] as number) ^ (1 << (at & 7));
            const ref = nodeCbcOpen(key.bytes, iv.bytes, bad);
            const got = await thrown(() => provider.aes256CbcDecrypt(key.bytes, iv.bytes, bad));
            if (ref === undefined) expectRefusal(got, ErrorCode.BadPadding, 'flipped bit');
            else expectBytes(await provider.aes256CbcDecrypt(key.bytes, iv.bytes, bad), ref);
            for (const cut of [ct.subarray(0, ct.length - 1), ct.subarray(1), ct.subarray(0, 0)]) {
              const e = await thrown(() => provider.aes256CbcDecrypt(key.bytes, iv.bytes, cut));
              expectRefusal(e, ErrorCode.BadPadding, `length ${cut.length}`);
            }
            key.unchanged();
            iv.unchanged();
            pt.unchanged();
            ctIn.unchanged();
          },
        ),
        { numRuns: 60 },
      );
    });

    it(`via ${label}: every malformed PKCS#7 padding is refused, every well-formed one accepted`, async () => {
      const key = filled(32, 11);
      const iv = filled(16, 12);
      for (const blocks of [1, 300]) {
        // The last block's padding bytes: pad values 0, 1..16, 17, 255, and one wrong byte inside.
        for (let value = 0; value <= 17; value++)
          for (const spoil of [false, true]) {
            if (spoil && (value < 2 || value > 16)) continue;
            const plain = filled(blocks * 16, value + blocks);
            const end = plain.length;
            for (let i = 1; i <= Math.min(value, 16); i++) plain[end - i] = value;
            if (spoil) plain[end - value] = value ^ 0x40;
            const ct = rawCbc(key, iv, plain);
            const ref = nodeCbcOpen(key, iv, ct);
            const valid = value >= 1 && value <= 16 && !spoil;
            expect(ref !== undefined, `reference pad ${value} spoil ${spoil}`).toBe(valid);
            const what = `${blocks} blocks, pad ${value}${spoil ? ' spoiled' : ''}`;
            if (valid) {
              expectBytes(await provider.aes256CbcDecrypt(key, iv, ct), plain.subarray(0, end - value), what);
            } else {
              expectRefusal(
                await thrown(() => provider.aes256CbcDecrypt(key, iv, ct)),
                ErrorCode.BadPadding,
                what,
              );
            }
          }
        const e = await thrown(() =>
          provider.aes256CbcDecrypt(key, iv, rawCbc(key, iv, filled(16, 1)).fill(0xff, 15)),
        );
        if (e !== undefined) expectRefusal(e, ErrorCode.BadPadding, 'ff tail');
      }
    });
  }
});

type Aead = {
  name: string;
  seal: 'aes256GcmEncrypt' | 'chacha20Poly1305Encrypt';
  open: 'aes256GcmDecrypt' | 'chacha20Poly1305Decrypt';
  nonces: fc.Arbitrary<number>;
  reference: (k: Uint8Array, n: Uint8Array, aad?: Uint8Array) => { encrypt(p: Uint8Array): Uint8Array };
  node: 'aes-256-gcm' | 'chacha20-poly1305';
};

const AEADS: Aead[] = [
  {
    name: 'AES-256-GCM',
    seal: 'aes256GcmEncrypt',
    open: 'aes256GcmDecrypt',
    nonces: fc.oneof(fc.constant(12), fc.integer({ min: 8, max: 64 })),
    reference: gcm,
    node: 'aes-256-gcm',
  },
  {
    name: 'ChaCha20-Poly1305',
    seal: 'chacha20Poly1305Encrypt',
    open: 'chacha20Poly1305Decrypt',
    nonces: fc.constant(12),
    reference: chacha20poly1305,
    node: 'chacha20-poly1305',
  },
];

/** node:crypto's sealing, for the 12-byte nonces every native implementation takes. */
function nodeSeal(
  alg: Aead['node'],
  k: Uint8Array,
  n: Uint8Array,
  p: Uint8Array,
  aad?: Uint8Array,
): Uint8Array {
  const c = createCipheriv(alg as 'aes-256-gcm', k, n, { authTagLength: 16 });
  if (aad !== undefined) c.setAAD(aad, { plaintextLength: p.length });
  return new Uint8Array(Buffer.concat([c.update(p), c.final(), c.getAuthTag()]));
}

for (const aead of AEADS) {
  describe(`${aead.name}: same bytes, same refusals`, () => {
    for (const { label, provider } of allProviders) {
      it(`via ${label}`, async () => {
        const seal = provider[aead.seal].bind(provider);
        const open = provider[aead.open].bind(provider);
        await fc.assert(
          fc.asyncProperty(
            lengthNear(SIZES, 5000),
            aead.nonces,
            fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
            fc.integer({ min: 0, max: 0xffff_ffff }),
            kinds,
            fc.nat(),
            async (size, nonceLength, aadLength, seed, kind: Kind, flip) => {
              const key = arrange(32, seed, kind);
              const nonce = arrange(nonceLength, seed ^ 1, kind);
              const pt = arrange(size, seed ^ 2, kind);
              const aad = aadLength === undefined ? undefined : arrange(aadLength, seed ^ 3, kind);
              const want = aead.reference(key.bytes, nonce.bytes, aad?.bytes).encrypt(pt.bytes);
              if (nonceLength === 12)
                expectBytes(nodeSeal(aead.node, key.bytes, nonce.bytes, pt.bytes, aad?.bytes), want);
              const sealed = await seal(key.bytes, nonce.bytes, pt.bytes, aad?.bytes);
              expectBytes(sealed, want);
              const sealedIn = arrange(sealed.length, 0, kind, sealed);
              expectBytes(await open(key.bytes, nonce.bytes, sealedIn.bytes, aad?.bytes), pt.plain);
              const bad = sealed.slice();
              const at = flip % (bad.length * 8);
              bad[at >> 3] = (bad[at >> 3] as number) ^ (1 << (at & 7));
              const otherAad = aad === undefined ? Uint8Array.of(0) : undefined;
              for (const [what, s, a] of [
                ['flipped bit', bad, aad?.bytes],
                ['truncated', sealed.subarray(0, sealed.length - 1), aad?.bytes],
                ['tag only, cut', sealed.subarray(sealed.length - 15), aad?.bytes],
                ['empty', new Uint8Array(0), aad?.bytes],
                ['other aad', sealed, aadLength === 0 ? Uint8Array.of(1) : otherAad],
              ] as const) {
                // Empty and absent AAD are the same AAD: not a refusal.
                if (what === 'other aad' && aadLength === 0 && a === undefined) continue;
                expectRefusal(
                  await thrown(() => open(key.bytes, nonce.bytes, s, a)),
                  ErrorCode.AeadTagMismatch,
                  what,
                );
              }
              key.unchanged();
              nonce.unchanged();
              pt.unchanged();
              aad?.unchanged();
              sealedIn.unchanged();
            },
          ),
          { numRuns: 40 },
        );
      });
    }
  });
}
