/**
 * Opt-in WebAssembly SHA-512 for safety numbers (`@e2ee-kit/safety-number/wasm`).
 *
 * A safety number is 10,400 one-block SHA-512 calls. In pure JavaScript (noble, and `platform`,
 * since Web Crypto has no synchronous digest) each costs a 64-bit compression emulated on 32-bit
 * halves, about 10× libsignal's native time; hash-wasm's SHA-512 (compiled C) runs the same calls
 * in roughly a quarter of that, on every runtime with WebAssembly. The main entry stays free of
 * WebAssembly: only an app that imports this entry loads hash-wasm.
 *
 *   const provider = await withWasmSha512(platformProvider);
 *   computeSafetyNumber({ local, remote, provider });
 *
 * Only `sha512Sync` changes; the bytes are the same SHA-512 (the libsignal vectors and the live
 * interop test run through this provider too).
 */
import {
  assertBytes,
  type CryptoProvider,
  overrideProvider,
  resolveProvider,
  UnsupportedError,
} from '@e2ee-kit/core';
import { createSHA512 } from 'hash-wasm';

type WasmHasher = Awaited<ReturnType<typeof createSHA512>>;
let hasher: Promise<WasmHasher> | undefined;

/**
 * `base` (default: the default provider) with `sha512Sync` on a WebAssembly SHA-512. The module is
 * compiled once, on the first call, and shared. Where WebAssembly cannot be used (no `WebAssembly`
 * global, or a compilation refused, e.g. by a CSP without `wasm-unsafe-eval`) it rejects with an
 * `UnsupportedError`: fall back to `base`, which gives the same digits. A missing global is looked
 * for again on the next call; a refused compilation is not retried (hash-wasm keeps its outcome), so
 * every later call rejects the same way.
 */
export async function withWasmSha512(base?: CryptoProvider): Promise<CryptoProvider> {
  const provider = resolveProvider(base);
  if (hasher === undefined) {
    hasher = createSHA512();
    hasher.catch(() => {
      hasher = undefined;
    });
  }
  let h: WasmHasher;
  try {
    h = await hasher;
  } catch {
    // A fixed message, and the runtime's error is not kept as a cause (errors carry only ours).
    throw new UnsupportedError(
      'WebAssembly SHA-512 is unavailable here (no WebAssembly, or its compilation was refused)',
    );
  }
  // The base's iterated SHA-512 is its own (pure) hash and is left out: without it, rounds go
  // through the WebAssembly `sha512Sync`.
  return overrideProvider(provider, {
    name: `${provider.name}+wasm-sha512`,
    sha512IterateSync: undefined,
    // Synchronous and never interrupted, so one shared hasher is safe in JavaScript's single thread.
    sha512Sync(...parts: Uint8Array[]): Uint8Array {
      for (const p of parts) assertBytes(p, 'part');
      h.init();
      for (const p of parts) h.update(p);
      return h.digest('binary');
    },
  });
}
