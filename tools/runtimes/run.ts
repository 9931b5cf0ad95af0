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
 *
 * Each call exits non-zero unless the runtime printed exactly EXPECTED_LINES and then DONE_LINE.
 * The scratch directory is $E2EE_KIT_RUNTIMES_DIR, or e2ee-kit-runtimes under the system temp dir.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DONE_LINE, EXPECTED_LINES } from './expected.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const app = process.env['E2EE_KIT_RUNTIMES_DIR'] ?? join(tmpdir(), 'e2ee-kit-runtimes');
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
};

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

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

/** The repository's tsconfig maps @e2ee-kit/* to sources: never let esbuild read it here. */
const NO_TSCONFIG = '{}';

// The tools load from the scratch app (not the workspace), so only the few calls used are typed here.
interface Esbuild {
  buildSync(options: Record<string, unknown>): unknown;
}
interface Route {
  request(): { url(): string };
  fulfill(response: { body: string; contentType: string }): Promise<void>;
}
interface Page {
  on(event: 'console', listener: (message: { text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  route(url: string, handler: (route: Route) => unknown): Promise<void>;
  goto(url: string): Promise<unknown>;
  waitForTimeout(ms: number): Promise<void>;
}
interface Browser {
  newPage(): Promise<Page>;
  version(): string;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(options: { executablePath: string; args: string[] }): Promise<Browser> };
}
interface Babel {
  transformSync(code: string, options: Record<string, unknown>): { code?: string | null } | null;
}

const appRequire = () => createRequire(join(app, 'package.json'));
const esbuild = (): Esbuild => appRequire()('esbuild') as Esbuild;

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

/** Everything in one script (browser, Hermes). */
function bundleAll(platform: 'browser' | 'neutral', target: string, outfile: string): void {
  esbuild().buildSync({
    entryPoints: [join(here, 'main.ts')],
    bundle: true,
    format: 'iife',
    platform,
    target,
    // Hermes has BigInt but esbuild's es2017 target would refuse the literals.
    supported: { bigint: true },
    mainFields: ['module', 'main'],
    conditions: ['import'],
    // The packages as installed in the scratch app (flows.ts lives in the repository).
    nodePaths: [join(app, 'node_modules')],
    outfile,
    logLevel: 'error',
    tsconfigRaw: NO_TSCONFIG,
  });
}

function checkOutput(runtime: string, output: string): boolean {
  const lines = output.split('\n').filter((l) => l.length > 0);
  const want = [...EXPECTED_LINES, DONE_LINE];
  const ok = lines.length === want.length && lines.every((l, i) => l === want[i]);
  if (ok) console.log(`runtime ${runtime}: all ${EXPECTED_LINES.length} flow lines as expected`);
  else {
    console.error(`runtime ${runtime}: unexpected output\n--- got\n${output}\n--- want\n${want.join('\n')}`);
  }
  return ok;
}

function runProcess(runtime: string, cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { cwd: app, encoding: 'utf8', timeout: 300_000 });
  if (r.stderr) process.stderr.write(r.stderr);
  if (r.error) console.error(r.error);
  return checkOutput(runtime, r.stdout ?? '') && r.status === 0;
}

const bin = (name: string) => join(app, 'node_modules', '.bin', name);

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

async function chromium(): Promise<boolean> {
  const executablePath = execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  const script = join(app, 'browser.js');
  bundleAll('browser', 'es2022', script);
  const { chromium: launcher } = appRequire()('playwright-core') as Playwright;
  const browser = await launcher.launch({ executablePath, args: CHROMIUM_FLAGS });
  try {
    const page = await browser.newPage();
    const lines: string[] = [];
    page.on('console', (m) => lines.push(m.text()));
    page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
    // An https origin (a secure context, so Web Crypto is there), served by Playwright: no network.
    const origin = 'https://runtime.e2ee-kit.test';
    await page.route(`${origin}/**`, (route) =>
      route.request().url().endsWith('/browser.js')
        ? route.fulfill({ body: readFileSync(script, 'utf8'), contentType: 'text/javascript' })
        : route.fulfill({
            body: '<!doctype html><script src="/browser.js"></script>',
            contentType: 'text/html',
          }),
    );
    await page.goto(`${origin}/`);
    const deadline = Date.now() + 120_000;
    while (
      !lines.some((l) => l === DONE_LINE || l.startsWith('flows: FAILED') || l.startsWith('pageerror'))
    ) {
      if (Date.now() > deadline) break;
      await page.waitForTimeout(100);
    }
    const version = browser.version();
    console.log(`chromium ${version}`);
    return checkOutput('chromium', lines.join('\n'));
  } finally {
    await browser.close();
  }
}

function hermes(): boolean {
  const bundled = join(app, 'hermes-esbuild.js');
  // es2016: esbuild lowers async functions (to generators), class fields, private members, async
  // generators and for-await (Hermes 0.12 parses neither async arrows nor these); Babel then lowers
  // classes and let/const (Hermes 0.12 has no classes and
  // scopes let/const like var), as React Native's Babel preset does for Metro.
  bundleAll('neutral', 'es2016', bundled);
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
    default:
      console.error('usage: tsx tools/runtimes/run.ts setup|node|deno|bun|jest|chromium|hermes');
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
