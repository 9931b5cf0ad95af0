// Test-only helpers: read the public vectors in ../shared/vectors (beside the checkout).
// Published packages never import this file.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of the shared vectors folder; fails loudly if the checkout has no `../shared`. */
export function vectorsDir(): string {
  const dir = process.env['E2EE_KIT_VECTORS'] ?? join(repoRoot, '..', 'shared', 'vectors');
  if (!existsSync(dir)) throw new Error(`test vectors not found at ${dir} (set E2EE_KIT_VECTORS)`);
  return dir;
}

export function readVectorJson<T = unknown>(relativePath: string): T {
  return JSON.parse(readFileSync(join(vectorsDir(), relativePath), 'utf8')) as T;
}
