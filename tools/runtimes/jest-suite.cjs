// Copied into the scratch app as jest/runtime.test.cjs by run.ts (named so no repository test runner picks it up).
// Jest 30 in a CommonJS project: every published entry loads with require() (no ESM-only dependency is
// required from CommonJS), the ./node subpaths hand out core's node provider, and the shared flows run.
const { EXPECTED_LINES } = require('./expected.cjs');
const { runFlows } = require('./flows.cjs');

const ENTRIES = [
  '@e2ee-kit/core',
  '@e2ee-kit/core/node',
  '@e2ee-kit/core/testing',
  '@e2ee-kit/ratchet',
  '@e2ee-kit/ratchet/node',
  '@e2ee-kit/ratchet/testing',
  '@e2ee-kit/sender-keys',
  '@e2ee-kit/sender-keys/node',
  '@e2ee-kit/sender-keys/testing',
  '@e2ee-kit/safety-number',
  '@e2ee-kit/safety-number/node',
  '@e2ee-kit/safety-number/qr',
  '@e2ee-kit/backup-kdf',
  '@e2ee-kit/backup-kdf/node',
  '@e2ee-kit/backup-kdf/testing',
];

test('every entry loads with require()', () => {
  for (const entry of ENTRIES) {
    const mod = require(entry);
    expect(Object.keys(mod).length).toBeGreaterThan(0);
    expect(require.resolve(entry)).toMatch(/\.cjs$/);
  }
  const { nodeProvider } = require('@e2ee-kit/core/node');
  expect(nodeProvider.name).toBe('node');
  for (const pkg of ['ratchet', 'sender-keys', 'safety-number', 'backup-kdf']) {
    expect(require(`@e2ee-kit/${pkg}/node`).nodeProvider).toBe(nodeProvider);
  }
});

test('the shared flows', async () => {
  expect(await runFlows()).toEqual(EXPECTED_LINES);
}, 120000);
