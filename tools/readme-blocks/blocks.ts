// Extracts the TypeScript code blocks of a README, with their hidden preludes, so tests can compile
// and run exactly what users read.
//
// Convention (documented in docs/readme-blocks.md):
// - Every fenced block tagged `ts` or `typescript` is compiled and run, including indented ones.
// - Setup a reader does not need to see goes in an HTML comment right before the fence (blank lines
//   allowed in between), and is prepended to the block:
//
//       <!-- prelude
//       const file = await makeBackupFile();
//       -->
//       ```ts
//       await openBackup(file, { password });
//       ```
//
// - What a block prints may be pinned by an HTML comment right after its closing fence; the test
//   compares every `console.log` line with it:
//
//       <!-- prints
//       hello true 4
//       -->
//
// Imports of what the visible code uses belong in the visible block, so that it can be copied as it
// is; a prelude adds values (a store, a file, a stand-in for a native module) and the imports those need.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ReadmeBlock {
  /** README path relative to the repository root. */
  readme: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The visible code. */
  code: string;
  /** The hidden setup from a `<!-- prelude … -->` comment, or ''. */
  prelude: string;
  /** The lines the block must print (`console.log`), from a `<!-- prints … -->` comment after it. */
  prints: string[] | undefined;
}

const FENCE = /^(\s*)(`{3,})(\S*)\s*$/;
const TS_TAGS = new Set(['ts', 'typescript']);

export function extractBlocks(readme: string, text: string): ReadmeBlock[] {
  const lines = text.split('\n');
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] as string);
    if (!open) continue;
    const [, indent = '', ticks = '', tag = ''] = open;
    let end = i + 1;
    while (end < lines.length && (lines[end] as string).trim() !== ticks) end++;
    if (end >= lines.length) throw new Error(`${readme}:${i + 1}: unterminated code block`);
    if (TS_TAGS.has(tag)) {
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
      blocks.push({
        readme,
        line: i + 1,
        code: `${body.join('\n')}\n`,
        prelude: preludeBefore(lines, i),
        prints: printsAfter(lines, end),
      });
    }
    i = end;
  }
  return blocks;
}

/** The `<!-- prelude … -->` comment ending right before line `fence` (blank lines allowed), or ''. */
function preludeBefore(lines: readonly string[], fence: number): string {
  let j = fence - 1;
  while (j >= 0 && (lines[j] as string).trim() === '') j--;
  if (j < 0 || (lines[j] as string).trim() !== '-->') return '';
  let start = j - 1;
  while (start >= 0 && (lines[start] as string).trim() !== '<!-- prelude') start--;
  if (start < 0) return '';
  const indent = /^\s*/.exec(lines[start] as string)?.[0] ?? '';
  return `${lines
    .slice(start + 1, j)
    .map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l))
    .join('\n')}\n`;
}

/** The lines of a `<!-- prints … -->` comment right after the closing fence at `fence`, if any. */
function printsAfter(lines: readonly string[], fence: number): string[] | undefined {
  let j = fence + 1;
  while (j < lines.length && (lines[j] as string).trim() === '') j++;
  if (j >= lines.length || (lines[j] as string).trim() !== '<!-- prints') return undefined;
  const indent = /^\s*/.exec(lines[j] as string)?.[0] ?? '';
  const out: string[] = [];
  for (let k = j + 1; k < lines.length; k++) {
    const l = lines[k] as string;
    if (l.trim() === '-->') return out;
    out.push(l.startsWith(indent) ? l.slice(indent.length) : l);
  }
  throw new Error(`unterminated <!-- prints comment at line ${j + 1}`);
}

/**
 * The module a test compiles and runs: imports first (hoisted from the block), then the prelude, then
 * the rest of the block. `export {}` makes it a module even without imports (top-level await).
 */
export function blockModule(block: ReadmeBlock): string {
  const visible = splitImports(block.code);
  const hidden = splitImports(block.prelude);
  return `${hidden.imports}${visible.imports}${hidden.rest}\n${visible.rest}\nexport {};\n`;
}

/** Leading import declarations (possibly multi-line) and what follows them. */
function splitImports(code: string): { imports: string; rest: string } {
  const lines = code.split('\n');
  let i = 0;
  while (i < lines.length) {
    const l = lines[i] as string;
    if (l.trim() === '' || l.trim().startsWith('//')) {
      i++;
      continue;
    }
    if (!l.startsWith('import ')) break;
    while (
      i < lines.length &&
      !/from\s+['"][^'"]+['"];?\s*$|^import\s+['"][^'"]+['"];?\s*$/.test(lines[i] as string)
    )
      i++;
    i++;
  }
  return { imports: `${lines.slice(0, i).join('\n')}\n`, rest: lines.slice(i).join('\n') };
}

/** Module specifiers a block imports. */
export function importedModules(code: string): string[] {
  return [...code.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s+['"]([^'"]+)['"]/g)].map((m) => m[1] as string);
}

export function readBlocks(root: string, readme: string): ReadmeBlock[] {
  return extractBlocks(readme, readFileSync(`${root}/${readme}`, 'utf8'));
}

/** What a package's `package.json` says about what its users install next to it. */
export interface PackageManifest {
  /** `@e2ee-kit/<dir>`. */
  name: string;
  /** The folder under `packages/`. */
  dir: string;
  private: boolean;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}

/** Every package under `packages/`, by folder name. */
export function readManifests(root: string): Map<string, PackageManifest> {
  const out = new Map<string, PackageManifest>();
  for (const dir of readdirSync(join(root, 'packages'))) {
    const file = join(root, 'packages', dir, 'package.json');
    if (!existsSync(file)) continue;
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    out.set(dir, {
      name: String(json['name']),
      dir,
      private: json['private'] === true,
      peerDependencies: (json['peerDependencies'] ?? {}) as Record<string, string>,
      devDependencies: (json['devDependencies'] ?? {}) as Record<string, string>,
    });
  }
  return out;
}

/** The package a module specifier names: `better-sqlite3/lib` → `better-sqlite3`, `@a/b/c` → `@a/b`. */
export function packageOf(m: string): string {
  return m
    .split('/')
    .slice(0, m.startsWith('@') ? 2 : 1)
    .join('/');
}

/** `m` is `pkg` or one of its subpaths (`@e2ee-kit/ratchet/testing`). */
const isEntryOf = (m: string, pkg: string) => m === pkg || m.startsWith(`${pkg}/`);

/**
 * What a block may import. An app that installs one package under pnpm's strict layout can import
 * that package (and its subpaths) and the peer dependencies the install instructions make it add —
 * nothing else, not even the package's own dependencies. A hidden prelude may also use the package's
 * non-`@e2ee-kit` dev dependencies (stand-ins such as `fake-indexeddb`); `tools/adopt/run.ts`
 * installs those in the throwaway app, and a reader never copies them. A page under `docs/` speaks
 * about several packages: it may import any published one and any of their peers.
 */
export function importRule(
  manifests: ReadonlyMap<string, PackageManifest>,
  readme: string,
): { visible: (m: string) => boolean; prelude: (m: string) => boolean } {
  const own = /^packages\/([\w-]+)\/README\.md$/.exec(readme)?.[1];
  const manifest = own === undefined ? undefined : manifests.get(own);
  const published = [...manifests.values()].filter((p) => !p.private);
  const scope = manifest ? [manifest] : published;
  const allowed = [
    ...(manifest ? [manifest.name] : published.map((p) => p.name)),
    ...scope.flatMap((p) => Object.keys(p.peerDependencies)),
  ];
  const standIns = scope.flatMap((p) =>
    Object.keys(p.devDependencies).filter((d) => !d.startsWith('@e2ee-kit/') && !d.startsWith('@types/')),
  );
  const visible = (m: string) => allowed.some((a) => isEntryOf(m, a));
  return { visible, prelude: (m) => visible(m) || standIns.some((d) => isEntryOf(m, d)) };
}

/** The non-`@e2ee-kit` packages a rule allows, with the folder of a package that declares each. */
export function externalModules(manifests: ReadonlyMap<string, PackageManifest>): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of manifests.values()) {
    if (p.private) continue;
    for (const d of [...Object.keys(p.peerDependencies), ...Object.keys(p.devDependencies)]) {
      if (!d.startsWith('@e2ee-kit/') && !out.has(d)) out.set(d, p.dir);
    }
  }
  return out;
}
