// The opt-in WebAssembly SHA-512 entry: the same SHA-512 as the provider it wraps (the libsignal
// vectors and the live interop test also run through it), and only sha512Sync changes (the wrapped
// provider's pure iterated SHA-512 is dropped, so every round goes through WebAssembly).
import {
  type CryptoProvider,
  E2eeError,
  ErrorCode,
  fromHex,
  nobleProvider,
  platformProvider,
  toHex,
  utf8,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { computeSafetyNumber } from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClassProvider } from '../../../tools/providers.js';
import { fingerprintVectors } from './vectors.js';

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

describe('withWasmSha512 over an app provider written as a class', () => {
  // An app's provider may keep its methods on a prototype (and use private fields): a spread of it
  // copies only own properties, which lost every method and made the wrapped provider unusable.

  it('keeps the prototype methods, called on the app provider itself, and the safety number is libsignal’s', async () => {
    const app = new ClassProvider() as unknown as CryptoProvider;
    const p = await withWasmSha512(app);
    expect(p.name).toBe('app+wasm-sha512');
    const ikm = Uint8Array.of(1, 2, 3);
    expect(toHex(await p.hkdfSha256(ikm, undefined, Uint8Array.of(4), 42))).toBe(
      toHex(await nobleProvider.hkdfSha256(ikm, undefined, Uint8Array.of(4), 42)),
    );
    expect(toHex(await p.sha256(ikm))).toBe(toHex(await nobleProvider.sha256(ikm)));
    const pub = fingerprintVectors.publishedVectors;
    const sn = computeSafetyNumber({
      local: { identifier: utf8(pub.aliceIdentifier), identityKey: fromHex(pub.aliceIdentityKeyHex) },
      remote: { identifier: utf8(pub.bobIdentifier), identityKey: fromHex(pub.bobIdentityKeyHex) },
      version: 2,
      iterations: pub.iterations,
      provider: p,
    });
    expect(sn.digits).toBe(pub.displayable);
  });
});

describe('withWasmSha512 where WebAssembly is missing or will not instantiate', () => {
  /** A fresh copy of the entry (its hasher is cached per module instance); core's classes are fresh too. */
  async function freshEntry(): Promise<typeof import('@e2ee-kit/safety-number/wasm')> {
    vi.resetModules();
    return import('@e2ee-kit/safety-number/wasm');
  }
  const rejection = (p: Promise<unknown>) =>
    p.then(
      () => undefined,
      (e: unknown) => e,
    );

  afterEach(() => {
    vi.unstubAllGlobals();
    vi.restoreAllMocks();
  });

  it('no WebAssembly global: UnsupportedError (UNSUPPORTED); the next call, with one, works', async () => {
    const { withWasmSha512: fresh } = await freshEntry();
    vi.stubGlobal('WebAssembly', undefined);
    const err = await rejection(fresh(nobleProvider));
    // By brand and name: the fresh entry loaded its own copy of core's classes.
    expect(E2eeError.is(err, ErrorCode.Unsupported)).toBe(true);
    expect((err as Error).name).toBe('UnsupportedError');
    vi.unstubAllGlobals();
    expect((await fresh(nobleProvider)).name).toBe('noble+wasm-sha512');
  });

  it('instantiation refused: UnsupportedError, without the runtime’s error; the next call retries', async () => {
    const { withWasmSha512: fresh } = await freshEntry();
    const spy = vi
      .spyOn(WebAssembly, 'instantiate')
      .mockRejectedValueOnce(new WebAssembly.LinkError('refused: secret-looking detail'));
    const err = await rejection(fresh());
    expect(E2eeError.is(err, ErrorCode.Unsupported)).toBe(true);
    expect((err as Error).message).not.toContain('secret-looking');
    expect((err as Error).cause).toBeUndefined();
    spy.mockRestore();
    const p = await fresh(nobleProvider);
    expect(toHex(p.sha512Sync(utf8('abc')))).toBe(toHex(nodeProvider.sha512Sync(utf8('abc'))));
  });
});
