// Every TypeScript block of every README (and docs page) compiles against the packages' sources and
// runs; READMEs speak to users only (no internal documents). Blocks are written to `.blocks/` (ignored
// by git) so that type errors point at a real file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  blockModule,
  externalModules,
  importedModules,
  importRule,
  packageOf,
  type ReadmeBlock,
  readBlocks,
  readManifests,
} from './blocks.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const out = join(here, '.blocks');

/** Every README in the repository and every page under docs/ (tracked files only). */
const documents = execFileSync('git', ['ls-files', '*README.md', 'docs/*.md'], {
  cwd: root,
  encoding: 'utf8',
})
  .split('\n')
  .filter((f) => f !== '' && !f.includes('/test/fixtures/') && !f.startsWith('docs/api/'));

const blocks = documents.flatMap((d) => readBlocks(root, d));
const manifests = readManifests(root);

/**
 * The blocks import non-`@e2ee-kit` peers (`better-sqlite3`) and prelude stand-ins (`fake-indexeddb`)
 * that pnpm installs only under the package declaring them: link each (and its `@types`) into
 * `.blocks/node_modules`, so the compiler and Node resolve them as in an app that installed them.
 */
function linkExternals(): void {
  const declaredBy = externalModules(manifests);
  const wanted = new Set(
    blocks
      .flatMap((b) => importedModules(b.code + b.prelude))
      .filter((m) => !m.startsWith('@e2ee-kit/'))
      .map(packageOf),
  );
  for (const name of wanted) {
    const dir = declaredBy.get(name);
    if (dir === undefined) continue; // the import-rule test reports it
    for (const dep of [name, `@types/${name.replace(/^@([^/]+)\//, '$1__')}`]) {
      const target = join(root, 'packages', dir, 'node_modules', dep);
      if (!existsSync(target)) continue;
      const link = join(out, 'node_modules', dep);
      mkdirSync(dirname(link), { recursive: true });
      symlinkSync(target, link, 'dir');
    }
  }
}
const fileOf = (b: ReadmeBlock) => join(out, `${b.readme.replace(/[^A-Za-z0-9]+/g, '-')}-L${b.line}.ts`);

/** Phrases that point at documents a user of the packages does not have. */
const INTERNAL = [
  /\bspec\/[\w-]+\.md/,
  /§\s*\d/,
  /\bDESIGN\.md\b/,
  /shared folder/i,
  /project notes/i,
  /\bthe issue\b|\bissue's\b|\bissue \d+/i,
  /\bthe research\b/i,
  /-requests\.md\b/,
];

let diagnostics = new Map<string, string[]>();

beforeAll(() => {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  linkExternals();
  for (const b of blocks) writeFileSync(fileOf(b), blockModule(b));
  const base = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.base.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    },
  );
  if (!base) throw new Error('cannot read tsconfig.base.json');
  const program = ts.createProgram(blocks.map(fileOf), { ...base.options, noEmit: true, types: [] });
  diagnostics = new Map(blocks.map((b) => [fileOf(b), []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const key = d.file ? d.file.fileName : '';
    const list = diagnostics.get(key) ?? diagnostics.get(key.replaceAll('/', '\\'));
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (list) list.push(text);
    else if (!d.file) throw new Error(`compiler: ${text}`);
  }
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('README code blocks', () => {
  it('there are blocks to check (the extractor finds them)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
  });

  describe.each(blocks.map((b) => [`${b.readme}:${b.line}`, b] as const))('%s', (_label, block) => {
    it('imports only what its app installs — in a package README, that package and its peers', () => {
      // An app that installs this one package (and the peers its README tells it to add) can import
      // nothing else under pnpm's strict layout — not even the package's own dependencies.
      const rule = importRule(manifests, block.readme);
      for (const m of importedModules(block.code)) {
        expect(rule.visible(m), `${m}: not this package, a subpath or a peer dependency`).toBe(true);
      }
      for (const m of importedModules(block.prelude)) {
        expect(rule.prelude(m), `${m} (prelude): not the package, a peer or a dev stand-in`).toBe(true);
      }
    });

    it('compiles', () => {
      expect(diagnostics.get(fileOf(block))).toEqual([]);
    });

    it(block.prints ? 'runs and prints what its <!-- prints --> comment says' : 'runs', async () => {
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(...args.map(String).join(' ').split('\n'));
      });
      try {
        await import(/* @vite-ignore */ `${fileOf(block)}?t=${Date.now()}`);
      } finally {
        log.mockRestore();
      }
      if (block.prints) expect(printed).toEqual(block.prints);
    });
  });
});

describe('READMEs speak to users', () => {
  it.each(documents)('%s cites no internal document', (doc) => {
    const text = ts.sys.readFile(join(root, doc)) ?? '';
    const hits = text
      .split('\n')
      .map((line, i) => ({ line, at: `${doc}:${i + 1}` }))
      .filter(({ line }) => INTERNAL.some((re) => re.test(line)));
    expect(hits.map((h) => `${h.at}: ${h.line.trim()}`)).toEqual([]);
  });

  it('finds every document', () => {
    expect(documents).toEqual(
      expect.arrayContaining(['README.md', 'packages/ratchet/README.md', 'docs/architecture.md']),
    );
    expect(relative(root, here)).toBe(join('tools', 'readme-blocks'));
  });
});
