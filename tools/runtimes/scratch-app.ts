/**
 * The scratch app every runtime runs in (set up by `run.ts setup`) and what the runtime drivers share:
 * its directory, the tools loaded from it, the bundles esbuild makes of the entries, and the check of
 * a runtime's printed lines against EXPECTED_LINES then DONE_LINE.
 * The directory is $E2EE_KIT_RUNTIMES_DIR, or e2ee-kit-runtimes under the system temp dir.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DONE_LINE, EXPECTED_LINES } from './expected.js';

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, '..', '..');
export const app = process.env['E2EE_KIT_RUNTIMES_DIR'] ?? join(tmpdir(), 'e2ee-kit-runtimes');

/** The repository's tsconfig maps @e2ee-kit/* to sources: never let esbuild read it here. */
export const NO_TSCONFIG = '{}';

// The tools load from the scratch app (not the workspace), so only the few calls used are typed here.
interface Esbuild {
  buildSync(options: Record<string, unknown>): unknown;
}

export const appRequire = () => createRequire(join(app, 'package.json'));
export const esbuild = (): Esbuild => appRequire()('esbuild') as Esbuild;
export const bin = (name: string) => join(app, 'node_modules', '.bin', name);

/** An entry with everything in one file (browser, Hermes, workers): the packages as the app installed them. */
export function bundleAll(options: {
  entry: string;
  outfile: string;
  platform: 'browser' | 'neutral';
  target: string;
  format?: 'iife' | 'esm';
  conditions?: string[];
}): void {
  esbuild().buildSync({
    entryPoints: [join(here, options.entry)],
    bundle: true,
    format: options.format ?? 'iife',
    platform: options.platform,
    target: options.target,
    // Hermes has BigInt but esbuild's es2017 target would refuse the literals.
    supported: { bigint: true },
    mainFields: ['module', 'main'],
    conditions: options.conditions ?? ['import'],
    // The packages as installed in the scratch app (flows.ts lives in the repository).
    nodePaths: [join(app, 'node_modules')],
    outfile: options.outfile,
    logLevel: 'error',
    tsconfigRaw: NO_TSCONFIG,
  });
}

/** True when `output` is exactly EXPECTED_LINES then DONE_LINE (empty lines ignored); says which. */
export function checkOutput(runtime: string, output: string): boolean {
  const lines = output.split('\n').filter((l) => l.length > 0);
  const want = [...EXPECTED_LINES, DONE_LINE];
  const ok = lines.length === want.length && lines.every((l, i) => l === want[i]);
  if (ok) console.log(`runtime ${runtime}: all ${EXPECTED_LINES.length} flow lines as expected`);
  else {
    console.error(`runtime ${runtime}: unexpected output\n--- got\n${output}\n--- want\n${want.join('\n')}`);
  }
  return ok;
}

/** Runs a program in the scratch app and checks what it printed on stdout. */
export function runProcess(runtime: string, cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { cwd: app, encoding: 'utf8', timeout: 300_000 });
  if (r.stderr) process.stderr.write(r.stderr);
  if (r.error) console.error(r.error);
  return checkOutput(runtime, r.stdout ?? '') && r.status === 0;
}

/** Stops waiting for a runtime's lines: the done line, a failure, or an uncaught error. */
export const isLastLine = (line: string) =>
  line === DONE_LINE || line.startsWith('flows: FAILED') || line.startsWith('pageerror');
