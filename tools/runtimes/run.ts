/**
 * Runs the shared flows (flows.ts) on every runtime we claim, against the packed packages as an app
 * installs them. `tsx tools/runtimes/run.ts setup` packs the five packages (build first) and installs
 * them with the runtimes and tools from npm into a scratch app directory; then one runtime per call:
 *
 *   node · deno · bun   the ESM builds, resolved by the runtime itself from node_modules
 *   jest                Jest 30 in a CommonJS project: require() of every entry, then the flows
 *   chromium            Debian's Chromium (headless, never downloaded), an esbuild bundle, no polyfills
 *   hermes              hermes-engine-cli's VM: an esbuild bundle lowered with Babel as Metro would,
 *                       plus a crypto.getRandomValues polyfill and nothing else
 *   workerd · chromium-worker · node-worker   the flows in workers (workers.ts)
 *
 * Each call exits non-zero unless the runtime printed exactly EXPECTED_LINES and then DONE_LINE.
 * The scratch directory is $E2EE_KIT_RUNTIMES_DIR, or e2ee-kit-runtimes under the system temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runInChromium } from './chromium.js';
import {
  app,
  appRequire,
  bin,
  bundleAll,
  esbuild,
  here,
  NO_TSCONFIG,
  root,
  runProcess,
} from './scratch-app.js';
import { chromiumWorker, nodeWorker, workerd } from './workers.js';

const PACKAGES = ['core', 'ratchet', 'sender-keys', 'safety-number', 'backup-kdf'];

/** Tools installed into the scratch app (exact versions: the runs are reproducible). */
const TOOLS: Record<string, string> = {
  esbuild: '0.28.2',
  'playwright-core': '1.65.1',
  jest: '30.5.2',
  // The newest hermes-engine-cli with a Linux x64 VM binary (Hermes 0.12, React Native 0.70's engine).
  'hermes-engine-cli': '0.12.0',
  '@babel/core': '7.29.16',
  '@babel/plugin-transform-classes': '7.29.11',
  '@babel/plugin-transform-block-scoping': '7.29.15',
  deno: '2.9.6',
  bun: '1.4.5',
  // Cloudflare's Workers runtime; its Linux binary comes in @cloudflare/workerd-linux-64 (same version).
  workerd: '1.20261117.1',
};

function sh(cmd: string, args: string[], cwd: string): void {
  execFileSync(cmd, args, { cwd, stdio: 'inherit' });
}

function setup(): void {
  rmSync(app, { recursive: true, force: true });
  const tarballs = join(app, 'tarballs');
  mkdirSync(tarballs, { recursive: true });
  const deps: Record<string, string> = {};
  for (const p of PACKAGES) {
    const dir = join(root, 'packages', p);
    if (!existsSync(join(dir, 'dist', 'index.js')))
      throw new Error(`packages/${p} is not built (run pnpm build)`);
    sh('npx', ['--yes', 'pnpm@12.4.2', 'pack', '--pack-destination', tarballs], dir);
  }
  for (const file of readdirSync(tarballs)) {
    const name = `@e2ee-kit/${file.replace(/^e2ee-kit-/, '').replace(/-\d+\.\d+\.\d+.*\.tgz$/, '')}`;
    deps[name] = `file:tarballs/${file}`;
  }
  // A CommonJS project (no "type": "module"), as Jest and most React Native apps are.
  const pkg = {
    name: 'e2ee-kit-runtime-app',
    private: true,
    dependencies: deps,
    devDependencies: TOOLS,
    jest: { testEnvironment: 'node', transform: {}, testMatch: ['<rootDir>/jest/*.test.cjs'] },
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  sh('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], app);
}

// The tools load from the scratch app (not the workspace), so only the few calls used are typed here.
interface Babel {
  transformSync(code: string, options: Record<string, unknown>): { code?: string | null } | null;
}

/** main.ts with the packages left to the runtime's own resolution (node, deno, bun). */
function bundleEsmMain(): string {
  const outfile = join(app, 'main.mjs');
  esbuild().buildSync({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    packages: 'external',
    format: 'esm',
    platform: 'neutral',
    outfile,
    logLevel: 'error',
    tsconfigRaw: NO_TSCONFIG,
  });
  return outfile;
}

function jest(): boolean {
  mkdirSync(join(app, 'jest'), { recursive: true });
  // The flows as CommonJS, requiring the packages by name: Jest loads their .cjs builds.
  esbuild().buildSync({
    entryPoints: [join(here, 'flows.ts'), join(here, 'expected.ts')],
    bundle: true,
    packages: 'external',
    format: 'cjs',
    platform: 'node',
    outdir: join(app, 'jest'),
    outExtension: { '.js': '.cjs' },
    logLevel: 'error',
    tsconfigRaw: NO_TSCONFIG,
  });
  writeFileSync(join(app, 'jest', 'runtime.test.cjs'), readFileSync(join(here, 'jest-suite.cjs'), 'utf8'));
  const r = spawnSync(process.execPath, [join(app, 'node_modules', 'jest', 'bin', 'jest.js'), '--ci'], {
    cwd: app,
    encoding: 'utf8',
    timeout: 300_000,
  });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  const ok = r.status === 0;
  console.log(`runtime jest: ${ok ? 'every entry required, flows as expected' : 'FAILED'}`);
  return ok;
}

function chromium(): Promise<boolean> {
  const script = join(app, 'browser.js');
  bundleAll({ entry: 'main.ts', outfile: script, platform: 'browser', target: 'es2022' });
  return runInChromium('chromium', {
    html: '<!doctype html><script src="/browser.js"></script>',
    scripts: { '/browser.js': script },
  });
}

function hermes(): boolean {
  const bundled = join(app, 'hermes-esbuild.js');
  // es2016: esbuild lowers async functions (to generators), class fields, private members, async
  // generators and for-await (Hermes 0.12 parses neither async arrows nor these); Babel then lowers
  // classes and let/const (Hermes 0.12 has no classes and
  // scopes let/const like var), as React Native's Babel preset does for Metro.
  bundleAll({ entry: 'main.ts', outfile: bundled, platform: 'neutral', target: 'es2016' });
  const babel = appRequire()('@babel/core') as Babel;
  const lowered = babel.transformSync(readFileSync(bundled, 'utf8'), {
    babelrc: false,
    configFile: false,
    sourceType: 'script',
    compact: false,
    plugins: [
      appRequire().resolve('@babel/plugin-transform-classes'),
      appRequire().resolve('@babel/plugin-transform-block-scoping'),
    ],
  });
  if (!lowered?.code) throw new Error('babel produced no code');
  const out = join(app, 'hermes.js');
  writeFileSync(out, `${readFileSync(join(here, 'hermes-prelude.js'), 'utf8')}\n${lowered.code}`);
  const vm = join(app, 'node_modules', 'hermes-engine-cli', 'linux64-bin', 'hermes');
  const version = spawnSync(vm, ['-version'], { encoding: 'utf8' }).stdout.match(
    /Hermes release version: (\S+)/,
  );
  console.log(`hermes ${version?.[1] ?? '?'}`);
  return runProcess('hermes', vm, [out]);
}

async function main(): Promise<boolean> {
  const what = process.argv[2];
  switch (what) {
    case 'setup':
      setup();
      return true;
    case 'node':
      return runProcess('node', process.execPath, [bundleEsmMain()]);
    case 'deno':
      return runProcess('deno', bin('deno'), ['run', '--no-prompt', bundleEsmMain()]);
    case 'bun':
      // The platform package's binary itself: bun's own bin is linked by a postinstall we do not run.
      return runProcess('bun', join(app, 'node_modules', '@oven', 'bun-linux-x64', 'bin', 'bun'), [
        bundleEsmMain(),
      ]);
    case 'jest':
      return jest();
    case 'chromium':
      return chromium();
    case 'hermes':
      return hermes();
    case 'workerd':
      return workerd();
    case 'chromium-worker':
      return chromiumWorker();
    case 'node-worker':
      return nodeWorker(bundleEsmMain());
    default:
      console.error(
        'usage: tsx tools/runtimes/run.ts setup|node|deno|bun|jest|chromium|hermes|workerd|chromium-worker|node-worker',
      );
      return false;
  }
}

main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
