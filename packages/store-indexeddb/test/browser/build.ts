/** Bundles page.ts for Chromium with esbuild, resolving the workspace packages to their sources. */
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const entries: Record<string, string> = {
  '@e2ee-kit/core': 'packages/core/src/index.ts',
  '@e2ee-kit/core/testing': 'packages/core/src/testing/index.ts',
  '@e2ee-kit/ratchet': 'packages/ratchet/src/index.ts',
  '@e2ee-kit/ratchet/testing': 'packages/ratchet/src/testing/index.ts',
  '@e2ee-kit/sender-keys': 'packages/sender-keys/src/index.ts',
  '@e2ee-kit/sender-keys/testing': 'packages/sender-keys/src/testing/index.ts',
  '@e2ee-kit/backup-kdf': 'packages/backup-kdf/src/index.ts',
  '@e2ee-kit/store-kv': 'packages/store-kv/src/index.ts',
  '@e2ee-kit/store-kv/testing': 'packages/store-kv/src/testing/index.ts',
  '@e2ee-kit/store-indexeddb': 'packages/store-indexeddb/src/index.ts',
};

export async function bundlePage(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL('./page.ts', import.meta.url))],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'silent',
    plugins: [
      {
        name: 'workspace-sources',
        setup(b) {
          b.onResolve({ filter: /^@e2ee-kit\// }, (args) => {
            const rel = entries[args.path];
            return rel ? { path: `${root}${rel}` } : { errors: [{ text: `no source for ${args.path}` }] };
          });
        },
      },
    ],
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error('esbuild produced no output');
  return out.text;
}
