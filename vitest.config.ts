import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run from sources: each published package's name resolves to its src/ entry,
// so `pnpm test` needs no build.
const src = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@e2ee-kit\/core\/testing$/, replacement: src('./packages/core/src/testing/index.ts') },
      { find: /^@e2ee-kit\/core\/node$/, replacement: src('./packages/core/src/node.ts') },
      { find: /^@e2ee-kit\/core$/, replacement: src('./packages/core/src/index.ts') },
      { find: /^@e2ee-kit\/ratchet\/testing$/, replacement: src('./packages/ratchet/src/testing/index.ts') },
      { find: /^@e2ee-kit\/ratchet\/node$/, replacement: src('./packages/ratchet/src/node.ts') },
      { find: /^@e2ee-kit\/ratchet$/, replacement: src('./packages/ratchet/src/index.ts') },
      {
        find: /^@e2ee-kit\/sender-keys\/testing$/,
        replacement: src('./packages/sender-keys/src/testing/index.ts'),
      },
      { find: /^@e2ee-kit\/sender-keys\/node$/, replacement: src('./packages/sender-keys/src/node.ts') },
      { find: /^@e2ee-kit\/sender-keys$/, replacement: src('./packages/sender-keys/src/index.ts') },
      { find: /^@e2ee-kit\/safety-number\/qr$/, replacement: src('./packages/safety-number/src/qr.ts') },
      { find: /^@e2ee-kit\/safety-number\/wasm$/, replacement: src('./packages/safety-number/src/wasm.ts') },
      { find: /^@e2ee-kit\/safety-number\/node$/, replacement: src('./packages/safety-number/src/node.ts') },
      { find: /^@e2ee-kit\/safety-number$/, replacement: src('./packages/safety-number/src/index.ts') },
      {
        find: /^@e2ee-kit\/backup-kdf\/testing$/,
        replacement: src('./packages/backup-kdf/src/testing/index.ts'),
      },
      { find: /^@e2ee-kit\/backup-kdf\/node$/, replacement: src('./packages/backup-kdf/src/node.ts') },
      { find: /^@e2ee-kit\/backup-kdf$/, replacement: src('./packages/backup-kdf/src/index.ts') },
      {
        find: /^@e2ee-kit\/sealed-sender\/testing$/,
        replacement: src('./packages/sealed-sender/src/testing/index.ts'),
      },
      { find: /^@e2ee-kit\/sealed-sender\/node$/, replacement: src('./packages/sealed-sender/src/node.ts') },
      { find: /^@e2ee-kit\/sealed-sender$/, replacement: src('./packages/sealed-sender/src/index.ts') },
      {
        find: /^@e2ee-kit\/store-kv\/testing$/,
        replacement: src('./packages/store-kv/src/testing/index.ts'),
      },
      { find: /^@e2ee-kit\/store-kv$/, replacement: src('./packages/store-kv/src/index.ts') },
      { find: /^@e2ee-kit\/store-sqlite$/, replacement: src('./packages/store-sqlite/src/index.ts') },
      { find: /^@e2ee-kit\/store-indexeddb$/, replacement: src('./packages/store-indexeddb/src/index.ts') },
    ],
  },
  test: {
    include: [
      'packages/*/test/**/*.test.ts',
      'interop/test/**/*.test.ts',
      'examples/**/test/**/*.test.ts',
      'tools/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // Vitest's default is one fork fewer than the CPUs: on CI's 2 cores that is one, and the suite ran
    // serially (820 s); two forks measured 473 s there, green. Test files do not share state.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // CI also writes a JSON report so .ci/run can print one summary line with the counts.
    reporters: process.env['E2EE_KIT_VITEST_JSON']
      ? ['default', ['json', { outputFile: process.env['E2EE_KIT_VITEST_JSON'] }]]
      : ['default'],
  },
});
