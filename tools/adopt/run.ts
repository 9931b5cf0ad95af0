// Adopt each feature package the way a new user does, one at a time: `pnpm pack` it (after
// `pnpm build`), make a throwaway app that depends on that tarball and its peer dependencies alone
// (our packages as tarballs through pnpm's overrides, since they are not on the registry; others,
// such as better-sqlite3, from the registry), install it with pnpm's default isolated
// layout, then type-check every TypeScript block of the package's README against the published
// declarations and run each with plain Node. Also checks that the app cannot import
// `@e2ee-kit/core` (the layout really is strict) and that errors from the ESM and the CommonJS copy
// recognise each other and print their own class names.
//
//   npx tsx tools/adopt/run.ts [--keep] [package ...]   (default: every feature package; --keep
//   leaves the temporary apps on disk)
//
// Exits non-zero, with the failing step's output, if anything does not hold.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import {
  blockModule,
  importedModules,
  importRule,
  packageOf,
  readBlocks,
  readManifests,
} from '../readme-blocks/blocks.js';
import { DUAL_CHECK } from './dual-check.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every published package but core, which apps do not depend on directly. */
const FEATURES = readdirSync(join(root, 'packages')).filter((d) => {
  const manifest = join(root, 'packages', d, 'package.json');
  return d !== 'core' && existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).private !== true;
});
const PNPM = ['--yes', 'pnpm@12.4.2'];
const MANIFESTS = readManifests(root);

const failures: string[] = [];
const fail = (what: string, detail = '') => {
  failures.push(what);
  console.error(`\n!!! ADOPT FAILED: ${what}\n${detail}`);
};

/** Runs a command; returns its output, or records a failure (with the output) and returns undefined. */
function run(what: string, cmd: string, args: string[], cwd: string): string | undefined {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) {
    fail(what, `$ ${cmd} ${args.join(' ')}  (in ${cwd}, exit ${r.status ?? r.signal})\n${output}`);
    return undefined;
  }
  return output;
}

function packAll(into: string): Map<string, string> {
  const tarballs = new Map<string, string>();
  for (const pkg of ['core', ...FEATURES]) {
    const dir = join(root, 'packages', pkg);
    if (!existsSync(join(dir, 'dist', 'index.js')) || !existsSync(join(dir, 'dist', 'index.cjs'))) {
      fail(`${pkg}: no dist build`, 'run `npx --yes pnpm@12.4.2 build` first');
      continue;
    }
    const before = new Set(readdirSync(into));
    if (run(`${pkg}: pnpm pack`, 'npx', [...PNPM, 'pack', '--pack-destination', into], dir) === undefined)
      continue;
    const made = readdirSync(into).filter((f) => f.endsWith('.tgz') && !before.has(f));
    if (made.length !== 1) fail(`${pkg}: pnpm pack made ${made.length} tarballs`, made.join('\n'));
    else tarballs.set(pkg, join(into, made[0] as string));
  }
  return tarballs;
}

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: [],
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    noEmit: true,
    skipLibCheck: false,
  },
  include: ['*.ts'],
};

function adopt(pkg: string, tarballs: Map<string, string>, work: string): void {
  const name = `@e2ee-kit/${pkg}`;
  const tarball = tarballs.get(pkg);
  const core = tarballs.get('core');
  if (!tarball || !core) return;
  const app = join(work, `app-${pkg}`);
  mkdirSync(app);
  const own = MANIFESTS.get(pkg);
  const blocks = readBlocks(root, `packages/${pkg}/README.md`);
  // What the README's install line adds: the package and its peer dependencies — ours as tarballs,
  // others (better-sqlite3) from the registry at the peer range. A prelude's dev stand-in
  // (fake-indexeddb) becomes a devDependency at the version the package tests with.
  const dependencies: Record<string, string> = { [name]: `file:${tarball}` };
  for (const [peer, range] of Object.entries(own?.peerDependencies ?? {})) {
    const dir = peer.startsWith('@e2ee-kit/') ? peer.slice('@e2ee-kit/'.length) : undefined;
    const peerTarball = dir === undefined ? undefined : tarballs.get(dir);
    if (dir !== undefined && !peerTarball) fail(`${pkg}: no tarball for its peer ${peer}`);
    dependencies[peer] = peerTarball ? `file:${peerTarball}` : range;
  }
  const devDependencies: Record<string, string> = {};
  // A TypeScript app also installs a registry peer's types (@types/better-sqlite3), at the version the
  // package itself is typed against.
  for (const peer of Object.keys(own?.peerDependencies ?? {})) {
    const types = `@types/${peer.replace(/^@([^/]+)\//, '$1__')}`;
    const version = own?.devDependencies[types];
    if (!peer.startsWith('@e2ee-kit/') && version !== undefined) devDependencies[types] = version;
  }
  for (const b of blocks) {
    for (const m of importedModules(b.prelude)) {
      const dep = packageOf(m);
      const version = own?.devDependencies[dep];
      if (!(dep in dependencies) && version !== undefined && !dep.startsWith('@e2ee-kit/'))
        devDependencies[dep] = version;
    }
  }
  // Our packages are not on the registry: every internal dependency resolves to its tarball.
  const overrides = Object.fromEntries([...tarballs].map(([p, t]) => [`@e2ee-kit/${p}`, `file:${t}`]));
  const manifest = {
    name: `adopt-${pkg}`,
    private: true,
    type: 'module',
    dependencies,
    devDependencies,
    pnpm: { overrides },
  };
  writeFileSync(join(app, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(app, 'pnpm-workspace.yaml'),
    `overrides:\n${Object.entries(overrides)
      .map(([p, t]) => `  '${p}': '${t}'\n`)
      .join('')}allowBuilds:\n  better-sqlite3: true\n`,
  );
  console.log(`\n=== ${name}: throwaway app in ${app}`);
  if (run(`${pkg}: pnpm install`, 'npx', [...PNPM, 'install', '--no-frozen-lockfile'], app) === undefined)
    return;

  // Strict layout: only the dependency itself is importable, not core.
  const core404 = spawnSync('node', ['--input-type=module', '-e', "await import('@e2ee-kit/core')"], {
    cwd: app,
    encoding: 'utf8',
  });
  if (core404.status === 0 || !core404.stderr.includes('ERR_MODULE_NOT_FOUND')) {
    fail(`${pkg}: the app can import @e2ee-kit/core — the layout is not strict, this test proves nothing`);
  }

  if (blocks.length === 0) fail(`${pkg}: README has no TypeScript block`);
  const rule = importRule(MANIFESTS, `packages/${pkg}/README.md`);
  const files: string[] = [];
  for (const b of blocks) {
    const foreign = [
      ...importedModules(b.code).filter((m) => !rule.visible(m)),
      ...importedModules(b.prelude).filter((m) => !rule.prelude(m)),
    ];
    if (foreign.length > 0) {
      fail(
        `${pkg}: README block at line ${b.line} imports ${foreign.join(', ')}`,
        'an app of this package has only it, its peers and (in a prelude) its dev stand-ins',
      );
    }
    const file = join(app, `readme-L${b.line}.ts`);
    writeFileSync(file, blockModule(b));
    files.push(file);
  }
  writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(TSCONFIG, null, 2)}\n`);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (
    run(`${pkg}: README blocks type-check against the published .d.ts`, 'node', [tsc, '-p', app], app) !==
    undefined
  ) {
    console.log(`  ${blocks.length} README block(s) type-check`);
  }
  for (const file of files) {
    const js = ts.transpileModule(ts.sys.readFile(file) ?? '', {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: false,
      },
    }).outputText;
    const mjs = file.replace(/\.ts$/, '.mjs');
    writeFileSync(mjs, js);
    const label = file.slice(app.length + 1);
    const r = spawnSync('node', [mjs], { cwd: app, encoding: 'utf8' });
    const expected = blocks[files.indexOf(file)]?.prints;
    const out = r.status === 0 ? r.stdout : undefined;
    if (out === undefined) fail(`${pkg}: ${label} runs with plain Node`, `${r.stdout}${r.stderr}`);
    else if (expected && out.replace(/\n$/, '') !== expected.join('\n')) {
      fail(`${pkg}: ${label} prints what its README says`, `expected:\n${expected.join('\n')}\ngot:\n${out}`);
    }
    if (out !== undefined) {
      const lines = out.split('\n').filter((l) => l.trim() !== '').length;
      console.log(`  ran ${label} (${lines} line(s) of output${expected ? ', as the README says' : ''})`);
    }
  }

  writeFileSync(join(app, 'dual.cjs'), DUAL_CHECK);
  const storage = pkg.startsWith('store-') ? ['--storage'] : [];
  const dual = run(`${pkg}: ESM and CommonJS copies`, 'node', ['dual.cjs', name, ...storage], app);
  if (dual !== undefined) console.log(`  ${dual.trim()}`);
}

const keep = process.argv.includes('--keep');
const wanted = process.argv.slice(2).filter((a) => a !== '--keep');
const unknown = wanted.filter((p) => !FEATURES.includes(p));
if (unknown.length > 0) {
  console.error(`adopt: no such feature package: ${unknown.join(', ')} (have ${FEATURES.join(', ')})`);
  process.exit(2);
}
const packages = wanted.length === 0 ? FEATURES : FEATURES.filter((p) => wanted.includes(p));
const work = mkdtempSync(join(tmpdir(), 'e2ee-kit-adopt-'));
try {
  const tarballDir = join(work, 'tarballs');
  mkdirSync(tarballDir);
  const tarballs = packAll(tarballDir);
  for (const pkg of packages) adopt(pkg, tarballs, work);
} finally {
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work}`);
}
console.log(`\nnode ${execFileSync('node', ['--version'], { encoding: 'utf8' }).trim()}`);
if (failures.length > 0) {
  console.error(`\nadopt: ${failures.length} failure(s):\n  ${failures.join('\n  ')}`);
  process.exit(1);
}
console.log(`adopt: ${packages.join(', ')} each work alone under pnpm's strict layout`);
