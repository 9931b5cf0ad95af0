/**
 * The one tsup setup every package builds with (each package's tsup.config.ts names only its entries).
 *
 * - ESM keeps every dependency external: an app's bundler dedupes @noble/*, hash-wasm and qr with the
 *   rest of the app and tree-shakes them. `modules: true` (core, ratchet) emits one file per source module
 *   instead of one bundle per entry, so with `"sideEffects": false` a bundler drops every module an
 *   app does not reach (safety-number's digits path never loads AES, ChaCha or Edwards code).
 * - CJS inlines the ESM-only dependencies (@noble/*, qr; hash-wasm for uniformity), so `require()`
 *   works in CommonJS runners that cannot load ES modules from CommonJS (Jest 30, Node < 20.19).
 *   `@e2ee-kit/*` stays external in both formats, so an entry shares its package's classes
 *   (`instanceof` and error brands keep working across entries).
 */
import { rmSync } from 'node:fs';
import { defineConfig, type Options } from 'tsup';

/** Dependencies some of which ship ESM only: external in ESM, bundled into CJS. */
const THIRD_PARTY: (string | RegExp)[] = [/^@noble\//, 'hash-wasm', 'qr'];
const OWN: (string | RegExp)[] = [/^@e2ee-kit\//];

export interface PackageBuild {
  /** Entry name (dist path without extension) → source file. */
  readonly entry: Record<string, string>;
  /** ESM as one file per module under dist/ (tree-shakable by module). Default: one bundle per entry. */
  readonly modules?: boolean;
}

export function packageConfig(build: PackageBuild) {
  // Two configs build in parallel into one dist/: clean once, here, before either starts.
  rmSync('dist', { recursive: true, force: true });
  const common: Options = {
    dts: true,
    sourcemap: true,
    clean: false,
    target: 'es2022',
    treeshake: !build.modules,
    splitting: false,
    tsconfig: 'tsconfig.build.json',
    // `node:` specifiers stay as written (core's ./node entry imports node:crypto).
    removeNodeProtocol: false,
  };
  const esm: Options = build.modules
    ? {
        ...common,
        format: ['esm'],
        // Every module of src/ except tests; the public entries are among them.
        entry: ['src/**/*.ts', '!src/**/*.test.ts'],
        bundle: false,
        // Declarations per public entry only (dist/<entry>.d.ts); module files need none.
        dts: { entry: build.entry },
      }
    : { ...common, format: ['esm'], entry: build.entry, external: [...THIRD_PARTY, ...OWN] };
  const cjs: Options = {
    ...common,
    format: ['cjs'],
    entry: build.entry,
    treeshake: true,
    external: OWN,
    noExternal: THIRD_PARTY,
  };
  return defineConfig([esm, cjs]);
}
