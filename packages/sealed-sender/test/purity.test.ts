// Static checks on the package's sources: the main entry runs in any JavaScript runtime (no node:
// module, no Buffer or process), depends on @e2ee-kit/core and @noble/ciphers only (never on another
// feature package), ./testing shares the main entry's classes via the package name, ./node (src/node.ts)
// only re-exports core's node provider and no other module reaches it, and loading the package adds
// nothing to the global object.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = fileURLToPath(new URL('../src', import.meta.url));
const walk = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
const files = walk(srcDir).map((f) => ({ path: relative(srcDir, f), text: readFileSync(f, 'utf8') }));
const specifiers = (text: string) =>
  [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

describe('sealed-sender sources', () => {
  it('import only core, @noble/ciphers, their own modules (and the package itself from ./testing)', () => {
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['index.ts', 'node.ts', 'testing/index.ts']),
    );
    for (const f of files) {
      for (const s of specifiers(f.text)) {
        const ok =
          s.startsWith('./') ||
          s === '@e2ee-kit/core' ||
          s === '@noble/ciphers/aes.js' ||
          (f.path.startsWith('testing/') &&
            (s === '@e2ee-kit/sealed-sender' || s === '@e2ee-kit/core/testing')) ||
          (f.path === 'node.ts' && s === '@e2ee-kit/core/node');
        expect(ok, `${f.path}: ${s}`).toBe(true);
        // The ./node entry is reached through its subpath only, never from another module.
        expect(/(^|\/)node(\.js)?$/.test(s) && s.startsWith('.'), `${f.path}: ${s}`).toBe(false);
      }
      expect(code(f.text), f.path).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(|\beval\(|new Function/);
    }
    const nodeEntry = files.find((f) => f.path === 'node.ts')!;
    expect(specifiers(nodeEntry.text), 'node.ts').toEqual(['@e2ee-kit/core/node']);
    for (const f of files.filter((x) => x.path.startsWith('testing/')))
      expect(
        specifiers(f.text).filter((s) => s.startsWith('../')),
        f.path,
      ).toEqual([]);
  });

  it('loading the package touches no global', async () => {
    const before = new Set(Reflect.ownKeys(globalThis));
    await import('@e2ee-kit/sealed-sender');
    await import('@e2ee-kit/sealed-sender/testing');
    expect(Reflect.ownKeys(globalThis).filter((k) => !before.has(k))).toEqual([]);
  });
});
