// The opt-in WebAssembly entry where a page refuses WebAssembly compilation (a CSP without
// `wasm-unsafe-eval` makes `WebAssembly.compile` reject with a CompileError). The README promises a
// rejection an app can recognise and fall back from. Its own file, run before anything else here
// compiles hash-wasm's SHA-512: hash-wasm keeps a compilation's outcome for the rest of the process.
import { E2eeError, ErrorCode, UnsupportedError } from '@e2ee-kit/safety-number';
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import { describe, expect, it, vi } from 'vitest';

describe('withWasmSha512 where WebAssembly compilation is refused', () => {
  it('rejects with UnsupportedError (UNSUPPORTED), and so does every later call', async () => {
    const refused = new WebAssembly.CompileError('Refused to compile: wasm-unsafe-eval not allowed');
    const compile = vi.spyOn(WebAssembly, 'compile').mockRejectedValue(refused);
    try {
      for (let i = 0; i < 2; i++) {
        const err = await withWasmSha512().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(UnsupportedError);
        expect(E2eeError.is(err, ErrorCode.Unsupported)).toBe(true);
        // A fixed message of ours; the runtime's error is not passed on as a cause.
        expect((err as Error).message).not.toContain('wasm-unsafe-eval');
        expect((err as Error).cause).toBeUndefined();
      }
      expect(compile).toHaveBeenCalledTimes(1);
    } finally {
      compile.mockRestore();
    }
    // hash-wasm keeps the refused compilation: allowing it now does not help (as the README says).
    await expect(withWasmSha512()).rejects.toThrow(UnsupportedError);
  });
});
