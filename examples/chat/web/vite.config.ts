import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The kit's packages are used from their sources (as the tests do), so the example needs no build
// of the packages first.
const pkg = (p: string) => fileURLToPath(new URL(`../../../packages/${p}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  resolve: {
    alias: [
      { find: /^@e2ee-kit\/core$/, replacement: pkg('core/src/index.ts') },
      { find: /^@e2ee-kit\/ratchet$/, replacement: pkg('ratchet/src/index.ts') },
      { find: /^@e2ee-kit\/sender-keys$/, replacement: pkg('sender-keys/src/index.ts') },
      { find: /^@e2ee-kit\/safety-number\/qr$/, replacement: pkg('safety-number/src/qr.ts') },
      { find: /^@e2ee-kit\/safety-number$/, replacement: pkg('safety-number/src/index.ts') },
      { find: /^@e2ee-kit\/backup-kdf$/, replacement: pkg('backup-kdf/src/index.ts') },
    ],
  },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  logLevel: 'warn',
});
