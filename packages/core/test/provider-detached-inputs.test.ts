// A view of a detached ArrayBuffer (its buffer transferred with postMessage / structuredClone) reads
// as zero bytes, as does a view left out of bounds by shrinking its resizable ArrayBuffer. Every provider must refuse it as a wrong argument — the contract's TypeError, the
// same on every provider and for every byte argument — rather than answer for empty bytes: before,
// the node provider signed, MACed and encrypted the empty input in its place (a valid signature over
// the empty message), noble did for some methods, and the platform provider threw V8's own TypeError.
import type { CryptoProvider } from '@e2ee-kit/core';
import { describe, expect, it } from 'vitest';
import { providersWithoutAeadUse } from '../../../tools/providers.js';
import { thrown } from './helpers/wycheproof.js';

/** A Uint8Array whose ArrayBuffer was transferred away. */
function detached(length = 32): Uint8Array {
  const ab = new ArrayBuffer(length);
  const view = new Uint8Array(ab);
  structuredClone(ab, { transfer: [ab] });
  return view;
}

/**
 * A fixed-length view of a resizable ArrayBuffer shrunk below its end: out of bounds, it too reads as
 * zero bytes, and the engine refuses it where it refuses a detached view.
 */
function outOfBounds(shrinkTo: number): Uint8Array {
  const Resizable = ArrayBuffer as unknown as new (
    n: number,
    o: { maxByteLength: number },
  ) => ArrayBuffer & { resize(n: number): void };
  const ab = new Resizable(40, { maxByteLength: 64 });
  const view = new Uint8Array(ab, 4, 32).fill(5);
  ab.resize(shrinkTo);
  return view;
}

const UNREADABLE: ReadonlyArray<[string, () => Uint8Array]> = [
  ['detached', () => detached()],
  ['out of bounds (buffer shrunk to 0)', () => outOfBounds(0)],
  ['out of bounds (buffer shrunk to 10)', () => outOfBounds(10)],
];

const b = (n: number) => new Uint8Array(n).fill(7);

/** Each method with valid arguments; `slots` are the positions of its byte arguments. */
const CALLS: ReadonlyArray<[keyof CryptoProvider, () => unknown[], number[]]> = [
  ['sha256', () => [b(5)], [0]],
  ['sha512', () => [b(5)], [0]],
  ['sha512Sync', () => [b(5), b(3)], [0, 1]],
  ['sha512IterateSync', () => [b(5), b(3), 2], [0, 1]],
  ['hmacSha256', () => [b(32), b(5)], [0, 1]],
  ['hmacSha256Sync', () => [b(32), b(5)], [0, 1]],
  ['hmacSha512', () => [b(32), b(5)], [0, 1]],
  ['hkdfSha256', () => [b(32), b(32), b(5), 32], [0, 1, 2]],
  ['hkdfSha256Sync', () => [b(32), b(32), b(5), 32], [0, 1, 2]],
  ['aes256CbcEncrypt', () => [b(32), b(16), b(5)], [0, 1, 2]],
  ['aes256CbcDecrypt', () => [b(32), b(16), b(16)], [0, 1, 2]],
  ['aes256GcmEncrypt', () => [b(32), b(12), b(5), b(3)], [0, 1, 2, 3]],
  ['aes256GcmDecrypt', () => [b(32), b(12), b(20), b(3)], [0, 1, 2, 3]],
  ['chacha20Poly1305Encrypt', () => [b(32), b(12), b(5), b(3)], [0, 1, 2, 3]],
  ['chacha20Poly1305Decrypt', () => [b(32), b(12), b(20), b(3)], [0, 1, 2, 3]],
  ['x25519', () => [b(32), b(32)], [0, 1]],
  ['x25519PublicKey', () => [b(32)], [0]],
  ['ed25519Sign', () => [b(32), b(5)], [0, 1]],
  ['ed25519Verify', () => [b(32), b(5), b(64)], [0, 1, 2]],
  ['ed25519PublicKey', () => [b(32)], [0]],
];

for (const { label, provider } of providersWithoutAeadUse) {
  describe(`detached inputs via ${label}`, () => {
    it('every byte argument that is a detached or out-of-bounds view is a TypeError naming no bytes', async () => {
      const wrong: string[] = [];
      for (const [what, unreadable] of UNREADABLE)
        for (const [method, args, slots] of CALLS) {
          const f = provider[method] as ((...a: unknown[]) => unknown) | undefined;
          if (typeof f !== 'function') continue;
          // AEAD-less provider: its AEAD methods refuse every call (UnsupportedError) — nothing to compare.
          if (label === 'platform without AEAD' && /Gcm|chacha/.test(method)) continue;
          for (const slot of slots) {
            const a = args();
            a[slot] = unreadable();
            expect((a[slot] as Uint8Array).length).toBe(0);
            const e = await thrown(() => f.apply(provider, a));
            const ok =
              e instanceof TypeError && /detached/.test(e.message) && !/Cannot perform/.test(e.message);
            if (!ok)
              wrong.push(
                `${what} ${method}[${slot}]: ${e instanceof Error ? `${e.name}: ${e.message}` : 'no error'}`,
              );
          }
        }
      expect(wrong).toEqual([]);
    });

    it('an empty array of its own is still empty input, not a refusal', async () => {
      const empty = new Uint8Array(0);
      expect((await provider.sha256(empty)).length).toBe(32);
      expect((await provider.hmacSha256(b(32), empty)).length).toBe(32);
      expect((await provider.hmacSha256(empty, b(3))).length).toBe(32);
      expect((await provider.hkdfSha256(empty, empty, empty, 16)).length).toBe(16);
      expect((await provider.aes256CbcEncrypt(b(32), b(16), empty)).length).toBe(16);
      expect((await provider.ed25519Sign(b(32), empty)).length).toBe(64);
      // An empty view at the end of a live buffer, and of a SharedArrayBuffer, are not detached either.
      expect((await provider.sha256(new Uint8Array(new ArrayBuffer(8), 8))).length).toBe(32);
      expect((await provider.sha256(new Uint8Array(new SharedArrayBuffer(0)))).length).toBe(32);
      // A view that tracks its resizable buffer's length stays in bounds when the buffer shrinks to 0.
      const tracking = new Uint8Array(outOfBounds(40).buffer);
      (tracking.buffer as ArrayBuffer & { resize(n: number): void }).resize(0);
      expect(tracking.length).toBe(0);
      expect((await provider.sha256(tracking)).length).toBe(32);
    });
  });
}
