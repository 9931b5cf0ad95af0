// The opt-in WebAssembly SHA-512 entry: the same SHA-512 as the provider it wraps (the libsignal
// vectors and the live interop test also run through it), and only sha512Sync changes (the wrapped
// provider's pure iterated SHA-512 is dropped, so every round goes through WebAssembly).
import { nobleProvider, platformProvider, toHex } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

describe('withWasmSha512', () => {
  it('sha512Sync equals node:crypto SHA-512 for any split of any input, without touching the parts', async () => {
    const p = await withWasmSha512(nobleProvider);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 5 }), (parts) => {
        const before = parts.map((x) => toHex(x));
        const joined = new Uint8Array(parts.reduce((n, x) => n + x.length, 0));
        let at = 0;
        for (const x of parts) {
          joined.set(x, at);
          at += x.length;
        }
        const got = p.sha512Sync(...parts);
        expect(toHex(got)).toBe(toHex(nodeProvider.sha512Sync(joined)));
        expect(parts.map((x) => toHex(x))).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('returns a fresh array per call (the next call does not overwrite the previous digest)', async () => {
    const p = await withWasmSha512();
    const a = p.sha512Sync(Uint8Array.of(1));
    const copy = toHex(a);
    p.sha512Sync(Uint8Array.of(2));
    expect(toHex(a)).toBe(copy);
  });

  it('keeps every other operation of the wrapped provider and refuses non-bytes', async () => {
    const p = await withWasmSha512(platformProvider);
    expect(p.name).toBe('platform+wasm-sha512');
    expect(p.hmacSha256).toBe(platformProvider.hmacSha256);
    expect(p.ed25519Verify).toBe(platformProvider.ed25519Verify);
    expect(Object.isFrozen(p)).toBe(true);
    expect(platformProvider.sha512IterateSync).toBeTypeOf('function');
    expect(p.sha512IterateSync).toBeUndefined();
    expect(() => p.sha512Sync('abc' as unknown as Uint8Array)).toThrow(TypeError);
  });
});
