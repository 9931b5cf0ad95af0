// What a size-limit check's bytes are: bundles one check of .size-limit.js exactly as `pnpm size` does
// (the same esbuild, the same entry: `import { names } from 'path'; console.log(names)`, the same
// options and `tsconfigRaw`), writes esbuild's metafile, and prints the inputs by minified bytes in
// the output, grouped by package and one by one.
//
//   npx tsx tools/size/inputs.ts <part of a check's name> [--top N] [--metafile out.json]
//
// Bytes per input are minified, before gzip (gzip works on the whole file); the total is given both ways.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';

interface Check {
  name: string;
  path: string;
  import?: string;
  modifyEsbuildConfig?: (config: Record<string, unknown>) => Record<string, unknown>;
}

// Piped into `head`: stop quietly when the reader goes away.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const args = process.argv.slice(2);
const option = (flag: string) => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args.splice(i, 2)[1];
};
const top = Number(option('--top') ?? 40);
const metafileOut = option('--metafile');
const wanted = args.join(' ');

const checks = ((await import(pathToFileURL(join(root, '.size-limit.js')).href)) as { default: Check[] })
  .default;
const check = checks.find((c) => c.name.includes(wanted));
if (!wanted || !check) {
  console.error(
    `usage: inputs.ts <part of a check name>; checks:\n${checks.map((c) => `  ${c.name}`).join('\n')}`,
  );
  process.exit(2);
}

// size-limit's own esbuild (preset-small-lib → @size-limit/esbuild → esbuild), not whichever is hoisted.
const from = (pkg: string, base: string) => createRequire(base).resolve(pkg);
const esbuildMain = from(
  'esbuild',
  from(
    '@size-limit/esbuild/package.json',
    from('@size-limit/preset-small-lib/package.json', import.meta.url),
  ),
);
/** The part of esbuild's API used here (esbuild is not a direct dependency, so it has no types here). */
interface Metafile {
  outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }>;
}
const esbuild = (await import(pathToFileURL(esbuildMain).href)) as {
  build(options: Record<string, unknown>): Promise<{ metafile?: Metafile }>;
};

const dir = mkdtempSync(join(tmpdir(), 'size-inputs-'));
try {
  const target = join(root, check.path);
  let entry = target;
  if (check.import !== undefined) {
    // size-limit's process-import.js, line for line.
    const list = check.import.replace(/}|{/g, '').trim();
    entry = join(dir, 'index.js');
    writeFileSync(entry, `import ${check.import} from ${JSON.stringify(target)}\nconsole.log(${list})\n`);
  }
  // size-limit's @size-limit/esbuild get-config.js, then the check's modifyEsbuildConfig.
  let config: Record<string, unknown> = {
    allowOverwrite: check.import !== undefined,
    bundle: true,
    entryPoints: [entry],
    metafile: true,
    minifyIdentifiers: true,
    minifySyntax: true,
    minifyWhitespace: true,
    outdir: join(dir, 'out'),
    treeShaking: true,
    write: true,
  };
  if (check.modifyEsbuildConfig) config = check.modifyEsbuildConfig(config);
  const result = await esbuild.build(config);
  const metafile = result.metafile!;
  if (metafileOut) writeFileSync(metafileOut, JSON.stringify(metafile));
  const [outPath, output] = Object.entries(metafile.outputs)[0]!;
  const code = readFileSync(resolve(outPath));

  const label = (input: string) =>
    resolve(input) === entry ? '(entry)' : input.replace(/^.*node_modules\//, '').replace(`${root}/`, '');
  const rows = Object.entries(output.inputs)
    .map(([input, v]) => ({ input: label(input), bytes: v.bytesInOutput }))
    .filter((r) => r.bytes > 0)
    .sort((a, b) => b.bytes - a.bytes);
  const groupOf = (input: string) => {
    const parts = input.split('/');
    if (input.startsWith('@')) return parts.slice(0, 2).join('/');
    // packages/<name>/dist/<file>: the package's top-level modules; dist/<folder>/…: that folder.
    if (parts[0] === 'packages')
      return parts.length > 4 ? parts.slice(0, 4).join('/') : `${parts.slice(0, 3).join('/')}/*`;
    return parts[0]!;
  };
  const groups = new Map<string, number>();
  for (const r of rows) groups.set(groupOf(r.input), (groups.get(groupOf(r.input)) ?? 0) + r.bytes);

  console.log(
    `${check.name}\n  ${code.length} bytes minified, ${gzipSync(code).length} gzipped (size-limit subtracts its empty-project bytes)\n`,
  );
  console.log('by package / folder (minified bytes):');
  for (const [g, n] of [...groups].sort((a, b) => b[1] - a[1]))
    console.log(`  ${String(n).padStart(7)}  ${g}`);
  console.log(`\nlargest ${top} inputs (minified bytes):`);
  for (const r of rows.slice(0, top)) console.log(`  ${String(r.bytes).padStart(7)}  ${r.input}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
