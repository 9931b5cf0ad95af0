// Static checks on core's sources: the main entry runs in any JavaScript runtime (no node: module, no
// eval), depends only on @noble/*, and subpath entries share the main entry's classes via the package name.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const srcDir = fileURLToPath(new URL('../src', import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [],
  );
}

const files = walk(srcDir).map((f) => ({ path: relative(srcDir, f), text: readFileSync(f, 'utf8') }));
/** Module specifiers of static imports, re-exports and dynamic imports/requires. */
const specifiers = (text: string) =>
  [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)['"]([^'"]+)['"]/g)].map(
    (m) => m[1]!,
  );
/** Source without comments, so prose in doc comments does not trip the checks. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

describe('core sources', () => {
  it('were found', () => {
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['index.ts', 'node.ts', 'testing/index.ts']),
    );
  });

  it('only node.ts imports node: modules', () => {
    for (const f of files) {
      const nodeImports = specifiers(f.text).filter(
        (s) => s.startsWith('node:') || /^(fs|crypto|path|buffer|util)$/.test(s),
      );
      if (f.path === 'node.ts') expect(nodeImports).toEqual(['node:crypto']);
      else expect(nodeImports, f.path).toEqual([]);
      if (f.path !== 'node.ts')
        expect(code(f.text), f.path).not.toMatch(/\bBuffer\b|\bprocess\.|\brequire\(/);
    }
  });

  it('no eval, no new Function, no WebAssembly', () => {
    for (const f of files) {
      expect(code(f.text), f.path).not.toMatch(/\beval\s*\(|\bnew\s+Function\b|\bFunction\s*\(|WebAssembly/);
    }
  });

  it('bare imports are @noble/* and @e2ee-kit/core only (never interop, never libsignal)', () => {
    for (const f of files) {
      for (const s of specifiers(f.text)) {
        if (s.startsWith('.') || s.startsWith('node:')) continue;
        expect(s, f.path).toMatch(
          /^@noble\/(ciphers|curves|hashes|post-quantum)\/[a-z0-9-]+\.js$|^@e2ee-kit\/core$/,
        );
      }
    }
  });

  it('subpath entries import public classes through @e2ee-kit/core, not relatively', () => {
    for (const f of files) {
      const isSubpath = f.path === 'node.ts' || f.path.startsWith('testing/');
      if (!isSubpath) {
        expect(specifiers(f.text), `${f.path} must not import its own package by name`).not.toContain(
          '@e2ee-kit/core',
        );
        continue;
      }
      for (const s of specifiers(f.text).filter((x) => x.startsWith('.'))) {
        // Relative imports are limited to helpers that define no public class (key-cache's cache class is
        // internal: node.ts keeps its own instances) and the subpath's own files.
        const ok = f.path.startsWith('testing/')
          ? s.startsWith('./')
          : [
              './provider/checks.js',
              './provider/der.js',
              './provider/key-cache.js',
              './provider/one-shot-kdf.js',
            ].includes(s);
        expect(ok, `${f.path} imports ${s}`).toBe(true);
      }
    }
  });
});
