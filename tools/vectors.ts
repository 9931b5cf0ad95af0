// Test-only helpers: read the public test vectors kept in the repository's own `vectors/` folder
// (sources and licences in vectors/README.md). Published packages never import this file.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Absolute path of the repository's `vectors/` folder. */
export function vectorsDir(): string {
  return join(repoRoot, 'vectors');
}

export function readVectorJson<T = unknown>(relativePath: string): T {
  return JSON.parse(readFileSync(join(vectorsDir(), relativePath), 'utf8')) as T;
}
