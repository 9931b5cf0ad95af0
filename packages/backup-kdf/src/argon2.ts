/**
 * Argon2id behind a small interface, so each runtime can bring the fastest implementation it has:
 * hash-wasm (WebAssembly: browsers, Node) by default, @noble/hashes (pure JavaScript) where
 * WebAssembly is missing (React Native's Hermes), or a native module through `argon2PackageProvider`
 * or your own adapter.
 */
import { UnsupportedError } from '@e2ee-kit/core';
import { argon2idAsync } from '@noble/hashes/argon2.js';
import { argon2id as wasmArgon2id } from 'hash-wasm';

/** Argon2id cost parameters. Memory in KiB (1024 bytes), as in RFC 9106 and the slot format. */
export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

export interface Argon2Input extends Argon2Params {
  readonly password: Uint8Array;
  readonly salt: Uint8Array;
  /** Output length in bytes (this package always asks for 32). */
  readonly hashLength: number;
  /** Argon2's optional secret input K (unused by the container; for vectors and integrators). */
  readonly secret?: Uint8Array;
  /** Argon2's associated data X. Only providers with `supportsAssociatedData` accept it. */
  readonly associatedData?: Uint8Array;
}

export interface Argon2Provider {
  readonly name: string;
  /** Whether `associatedData` is supported (hash-wasm has no such input). */
  readonly supportsAssociatedData: boolean;
  /** Argon2id version 0x13 (RFC 9106). */
  argon2id(input: Argon2Input): Promise<Uint8Array>;
}

/** RFC 9106's second recommendation (memory-constrained): 64 MiB, 3 passes, 4 lanes. */
export const DEFAULT_ARGON2_PARAMS: Argon2Params = Object.freeze({
  memoryKiB: 64 * 1024,
  iterations: 3,
  parallelism: 4,
});

/** OWASP's floor: creation refuses anything weaker (m = 19 MiB, t = 2, p = 1). */
export const MIN_ARGON2_PARAMS: Argon2Params = Object.freeze({
  memoryKiB: 19 * 1024,
  iterations: 2,
  parallelism: 1,
});

/**
 * What a reader accepts from a header at all (a hostile file cannot ask for more): m ≤ 1 GiB and
 * m ≥ 8·p, t ∈ 1…10, p ∈ 1…16. Creation additionally enforces `MIN_ARGON2_PARAMS`.
 */
export const ARGON2_FORMAT_LIMITS = Object.freeze({
  maxMemoryKiB: 1024 * 1024,
  minIterations: 1,
  maxIterations: 10,
  minParallelism: 1,
  maxParallelism: 16,
});

/**
 * The reader's default cap on Argon2 work, m (KiB) × t: 64 MiB × 10 passes, the most the phone
 * guidance allows (m ≤ 64 MiB for backups phones restore, at calibration's t ≤ 10). Without it a
 * few hundred hostile bytes could ask a phone for 256 MiB × 10 passes per open. `calibrateArgon2`
 * stays within it by default, so what it picks opens everywhere without an opt-in.
 */
export const DEFAULT_MAX_ARGON2_WORK = 64 * 1024 * 10;

/**
 * A work cap option checked (`RangeError` outside 0 … the format's 1 GiB × 10). Unset, it is the
 * default, or `memoryCap` × 10 when a memory cap was given explicitly: that opt-in keeps meaning
 * "this much memory at up to the format's 10 passes".
 */
export function argon2WorkCap(work: number | undefined, memoryCap: number | undefined, name: string): number {
  const L = ARGON2_FORMAT_LIMITS;
  if (work === undefined)
    return memoryCap === undefined ? DEFAULT_MAX_ARGON2_WORK : memoryCap * L.maxIterations;
  if (!Number.isInteger(work) || work < 0 || work > L.maxMemoryKiB * L.maxIterations) {
    throw new RangeError(
      `${name} must be an integer from 0 to ${L.maxMemoryKiB * L.maxIterations} (KiB × passes)`,
    );
  }
  return work;
}

const UNSAFE_TEST_BRAND = Symbol.for('@e2ee-kit/backup-kdf/unsafe-test-params');

/** True for parameters made by `unsafeTestParams` from `@e2ee-kit/backup-kdf/testing`. */
export function isUnsafeTestParams(params: Argon2Params): boolean {
  return (params as { [UNSAFE_TEST_BRAND]?: unknown })[UNSAFE_TEST_BRAND] === true;
}

/** The format's limits (what any reader accepts). Returns the name of the first bad field, or undefined. */
export function argon2FormatViolation(p: Argon2Params): 'm_kib' | 't' | 'p' | undefined {
  const L = ARGON2_FORMAT_LIMITS;
  if (
    !Number.isInteger(p.parallelism) ||
    p.parallelism < L.minParallelism ||
    p.parallelism > L.maxParallelism
  )
    return 'p';
  if (!Number.isInteger(p.iterations) || p.iterations < L.minIterations || p.iterations > L.maxIterations)
    return 't';
  if (!Number.isInteger(p.memoryKiB) || p.memoryKiB > L.maxMemoryKiB || p.memoryKiB < 8 * p.parallelism)
    return 'm_kib';
  return undefined;
}

/**
 * Validates parameters for creating a slot: within the format and not below `MIN_ARGON2_PARAMS`
 * (unless they come from the test-only `unsafeTestParams`). Throws `RangeError`.
 */
export function checkCreationParams(p: Argon2Params): Argon2Params {
  if (p === null || typeof p !== 'object') throw new TypeError('argon2 parameters must be an object');
  const bad = argon2FormatViolation(p);
  if (bad !== undefined) throw new RangeError(`argon2 parameter ${bad} is outside the format's limits`);
  if (!isUnsafeTestParams(p)) {
    const min = MIN_ARGON2_PARAMS;
    if (p.memoryKiB < min.memoryKiB || p.iterations < min.iterations || p.parallelism < min.parallelism) {
      throw new RangeError('argon2 parameters are below the minimum m = 19 MiB, t = 2, p = 1');
    }
  }
  return { memoryKiB: p.memoryKiB, iterations: p.iterations, parallelism: p.parallelism };
}

function checkInput(input: Argon2Input): void {
  if (!(input.password instanceof Uint8Array)) throw new TypeError('password must be a Uint8Array');
  if (!(input.salt instanceof Uint8Array) || input.salt.length < 8)
    throw new RangeError('salt must be ≥ 8 bytes');
  if (!Number.isInteger(input.hashLength) || input.hashLength < 4 || input.hashLength > 1024)
    throw new RangeError('hashLength must be 4…1024');
  const bad = argon2FormatViolation(input);
  if (bad !== undefined) throw new RangeError(`argon2 parameter ${bad} is out of range`);
}

/** hash-wasm (WebAssembly). Fast in browsers and Node; unavailable where WebAssembly is missing. */
export const hashWasmArgon2Provider: Argon2Provider = Object.freeze({
  name: 'hash-wasm',
  supportsAssociatedData: false,
  async argon2id(input: Argon2Input): Promise<Uint8Array> {
    checkInput(input);
    if (input.associatedData !== undefined && input.associatedData.length > 0) {
      throw new UnsupportedError('hash-wasm has no Argon2 associated-data input');
    }
    if (typeof WebAssembly !== 'object') throw new UnsupportedError('WebAssembly is not available');
    return wasmArgon2id({
      password: input.password,
      salt: input.salt,
      ...(input.secret !== undefined ? { secret: input.secret } : {}),
      iterations: input.iterations,
      parallelism: input.parallelism,
      memorySize: input.memoryKiB,
      hashLength: input.hashLength,
      outputType: 'binary',
    });
  },
});

/**
 * @noble/hashes (pure JavaScript): runs everywhere, React Native's Hermes included, about 4–5×
 * slower than hash-wasm on V8 (and slower still without a JIT). Yields to the event loop while it runs.
 */
export const nobleArgon2Provider: Argon2Provider = Object.freeze({
  name: 'noble',
  supportsAssociatedData: true,
  async argon2id(input: Argon2Input): Promise<Uint8Array> {
    checkInput(input);
    return argon2idAsync(input.password, input.salt, {
      t: input.iterations,
      m: input.memoryKiB,
      p: input.parallelism,
      dkLen: input.hashLength,
      maxmem: input.memoryKiB * 1024 + 1024,
      asyncTick: 20,
      ...(input.secret !== undefined ? { key: input.secret } : {}),
      ...(input.associatedData !== undefined ? { personalization: input.associatedData } : {}),
    });
  },
});

// The smallest valid module: 8 bytes of header, no sections.
const EMPTY_WASM_MODULE = new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/**
 * Whether this runtime compiles WebAssembly at run time. `WebAssembly` can exist and still refuse:
 * Cloudflare Workers (workerd) and pages whose Content Security Policy lacks 'wasm-unsafe-eval'
 * throw a `CompileError` from `WebAssembly.compile`, which is what hash-wasm calls.
 */
async function runtimeCompilesWasm(): Promise<boolean> {
  if (typeof WebAssembly !== 'object' || typeof WebAssembly.compile !== 'function') return false;
  try {
    await WebAssembly.compile(EMPTY_WASM_MODULE);
    return true;
  } catch {
    return false;
  }
}

/**
 * The default provider's choice, made on first use (no global is touched at module load) and then
 * kept: hash-wasm where the runtime compiles WebAssembly, noble otherwise. Exported for tests only
 * (a fresh provider probes again); apps use `defaultArgon2Provider`.
 */
export function createDefaultArgon2Provider(): Argon2Provider {
  let choice: Promise<Argon2Provider> | undefined;
  return Object.freeze({
    name: 'default',
    supportsAssociatedData: false,
    async argon2id(input: Argon2Input): Promise<Uint8Array> {
      choice ??= runtimeCompilesWasm().then((ok) => (ok ? hashWasmArgon2Provider : nobleArgon2Provider));
      return (await choice).argon2id(input);
    },
  });
}

/** hash-wasm where the runtime compiles WebAssembly, noble otherwise (probed once, on first use). */
export const defaultArgon2Provider: Argon2Provider = createDefaultArgon2Provider();

/** The subset of the `argon2` npm package (node-argon2, native) used by the adapter. */
export interface Argon2PackageLike {
  readonly argon2id: number;
  hash(
    password: Uint8Array | string,
    options: {
      type: number;
      raw: true;
      memoryCost: number;
      timeCost: number;
      parallelism: number;
      hashLength: number;
      salt: Uint8Array;
      version?: number;
      secret?: Uint8Array;
      associatedData?: Uint8Array;
    },
  ): Promise<Uint8Array>;
}

/**
 * Adapter for the native `argon2` npm package (Node only; runs lanes on worker threads, ≈2× faster
 * than hash-wasm at p = 4). This package does not depend on it: pass the module you imported,
 * e.g. `argon2PackageProvider(await import('argon2'))`.
 */
export function argon2PackageProvider(mod: Argon2PackageLike): Argon2Provider {
  if (
    mod === null ||
    typeof mod !== 'object' ||
    typeof mod.hash !== 'function' ||
    typeof mod.argon2id !== 'number'
  ) {
    throw new TypeError('expected the `argon2` package module');
  }
  return Object.freeze({
    name: 'argon2-native',
    supportsAssociatedData: true,
    async argon2id(input: Argon2Input): Promise<Uint8Array> {
      checkInput(input);
      const out = await mod.hash(input.password, {
        type: mod.argon2id,
        raw: true,
        memoryCost: input.memoryKiB,
        timeCost: input.iterations,
        parallelism: input.parallelism,
        hashLength: input.hashLength,
        salt: input.salt,
        version: 0x13,
        ...(input.secret !== undefined ? { secret: input.secret } : {}),
        ...(input.associatedData !== undefined ? { associatedData: input.associatedData } : {}),
      });
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
    },
  });
}

export interface CalibrateOptions {
  /** Target time for one derivation on this device, in milliseconds (default 750). */
  targetMs?: number;
  /** Highest memory the result may use (default 256 MiB, a safe ceiling for phones). */
  maxMemoryKiB?: number;
  /**
   * Highest work m (KiB) × t the result may need (default `DEFAULT_MAX_ARGON2_WORK`, what readers
   * accept without an opt-in; `maxMemoryKiB` × 10 when `maxMemoryKiB` is given). A result above
   * the default needs `maxArgon2Work` (or `maxArgon2MemoryKiB`) raised the same way to create the
   * backup and to open it.
   */
  maxWork?: number;
  /** Lanes (default 4; use 1 on devices where the provider runs lanes on one thread anyway). */
  parallelism?: number;
  argon2Provider?: Argon2Provider;
  /** Clock in milliseconds (default `performance.now`), injectable for tests. */
  now?: () => number;
}

/**
 * Picks Argon2id parameters for about `targetMs` on this device: starts at the defaults
 * (64 MiB, t = 3), raises t up to 10 and then memory (up to `maxMemoryKiB`) while the measured time
 * stays under the target and m × t within `maxWork`. It never returns less than the creation minimum, however slow the device.
 * Each measurement runs one real derivation, so calibration takes a few times `targetMs`.
 */
export async function calibrateArgon2(options: CalibrateOptions = {}): Promise<Argon2Params> {
  const targetMs = options.targetMs ?? 750;
  const maxMemoryKiB = options.maxMemoryKiB ?? 256 * 1024;
  const maxWork = argon2WorkCap(options.maxWork, options.maxMemoryKiB, 'maxWork');
  const parallelism = options.parallelism ?? DEFAULT_ARGON2_PARAMS.parallelism;
  const provider = options.argon2Provider ?? defaultArgon2Provider;
  const now = options.now ?? (() => performance.now());
  if (!(targetMs > 0)) throw new RangeError('targetMs must be positive');
  if (
    !Number.isInteger(maxMemoryKiB) ||
    maxMemoryKiB < MIN_ARGON2_PARAMS.memoryKiB ||
    maxMemoryKiB > ARGON2_FORMAT_LIMITS.maxMemoryKiB
  )
    throw new RangeError('maxMemoryKiB must be between 19 MiB and 1 GiB');
  const salt = new Uint8Array(16);
  const password = new Uint8Array(16);
  const measure = async (p: Argon2Params): Promise<number> => {
    const start = now();
    await provider.argon2id({ ...p, password, salt, hashLength: 32 });
    return now() - start;
  };
  let p: Argon2Params = {
    memoryKiB: Math.min(DEFAULT_ARGON2_PARAMS.memoryKiB, maxMemoryKiB),
    iterations: DEFAULT_ARGON2_PARAMS.iterations,
    parallelism,
  };
  if (p.memoryKiB * p.iterations > maxWork)
    throw new RangeError('maxWork is below the starting point (m × 3)');
  let ms = await measure(p);
  if (ms > targetMs) {
    // Slow device: step down towards the floor (memory first, then passes), never below it.
    while (ms > targetMs) {
      let next: Argon2Params;
      if (p.memoryKiB > MIN_ARGON2_PARAMS.memoryKiB) {
        next = { ...p, memoryKiB: Math.max(MIN_ARGON2_PARAMS.memoryKiB, Math.floor(p.memoryKiB / 2)) };
      } else if (p.iterations > MIN_ARGON2_PARAMS.iterations) {
        next = { ...p, iterations: p.iterations - 1 };
      } else break;
      p = next;
      ms = await measure(p);
    }
    return checkCreationParams(p);
  }
  // Fast device: more passes first (time scales linearly with t), then more memory.
  const perPass = ms / p.iterations;
  const t = Math.min(
    ARGON2_FORMAT_LIMITS.maxIterations,
    Math.floor(maxWork / p.memoryKiB),
    Math.max(p.iterations, Math.floor(targetMs / perPass)),
  );
  p = { ...p, iterations: t };
  if (t === ARGON2_FORMAT_LIMITS.maxIterations) {
    ms = await measure(p);
    while (ms * 2 <= targetMs && p.memoryKiB * 2 <= maxMemoryKiB && p.memoryKiB * 2 * t <= maxWork) {
      p = { ...p, memoryKiB: p.memoryKiB * 2 };
      ms = await measure(p);
    }
  }
  return checkCreationParams(p);
}
