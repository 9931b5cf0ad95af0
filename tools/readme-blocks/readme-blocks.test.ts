// Every TypeScript block of every README (and docs page) compiles against the packages' sources and
// runs; READMEs speak to users only (no internal documents). Blocks are written to `.blocks/` (ignored
// by git) so that type errors point at a real file.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { blockModule, importedModules, type ReadmeBlock, readBlocks } from './blocks.js';

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
    it('imports only published entries — in a package README, only that package', () => {
      const own = /^packages\/([\w-]+)\/README\.md$/.exec(block.readme)?.[1];
      for (const m of importedModules(block.code + block.prelude)) {
        expect(m, `${m} is not something a user can install`).toMatch(/^@e2ee-kit\/[\w-]+(\/[\w-]+)?$/);
        // An app that installs this one package can import nothing else (pnpm's strict layout).
        if (own) expect(m === `@e2ee-kit/${own}` || m.startsWith(`@e2ee-kit/${own}/`), m).toBe(true);
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
