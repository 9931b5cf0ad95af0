/**
 * A second copy of @e2ee-kit/ratchet as an app gets it from a dependency that `require`s it: the
 * package built as CommonJS the way tools/tsup.base.ts builds its CJS (esbuild, format cjs, es2022)
 * and loaded by Node's `require`, beside the ESM sources the tests import. Built here from the
 * sources, once per test process, into a temporary directory: the tests run before `pnpm build` (CI),
 * so dist/ cannot be relied on. Core is bundled in, so it is a second copy of core too (as two
 * versions of the packages in one app are).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Ratchet = typeof import('@e2ee-kit/ratchet');

const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const requireHere = createRequire(import.meta.url);

interface Esbuild {
  buildSync(options: Record<string, unknown>): unknown;
}

let loaded: Ratchet | undefined;

export function cjsCopy(): Ratchet {
  if (loaded !== undefined) return loaded;
  // esbuild is tsup's (not a direct dependency): the one the package build runs.
  const esbuild = createRequire(requireHere.resolve('tsup'))('esbuild') as Esbuild;
  const dir = mkdtempSync(join(tmpdir(), 'e2ee-kit-ratchet-cjs-'));
  const outfile = join(dir, 'index.cjs');
  try {
    esbuild.buildSync({
      entryPoints: [src('../src/index.ts')],
      bundle: true,
      format: 'cjs',
      platform: 'node',
      target: 'es2022',
      alias: { '@e2ee-kit/core': src('../../core/src/index.ts') },
      outfile,
      logLevel: 'error',
      tsconfigRaw: '{}',
    });
    loaded = requireHere(outfile) as Ratchet;
  } finally {
    rmSync(dir, { recursive: true, force: true }); // loaded: the module stays in require's cache
  }
  return loaded;
}
