// Size budgets (CI: `pnpm size`). Each check is what an app's bundler ships for that import: the entry
// *with its dependencies* (@e2ee-kit/core, @noble/*, qr, hash-wasm), minified and gzipped, from the
// built ESM. esbuild must not read the repository's tsconfig: its paths map @e2ee-kit/* to sources,
// which an app never sees (the ./qr entry would then pull a second copy of the package).
const asAnApp = (config) => ({ ...config, tsconfigRaw: '{}' });

const check = (name, path, importSpec, limit) => ({
  name,
  path,
  ...(importSpec === undefined ? {} : { import: importSpec }),
  gzip: true,
  limit,
  modifyEsbuildConfig: asAnApp,
});

export default [
  check(
    '@e2ee-kit/safety-number: digits (computeSafetyNumber, aciIdentifier) with core and @noble/*',
    'packages/safety-number/dist/index.js',
    '{ computeSafetyNumber, aciIdentifier }',
    '8 KB',
  ),
  check(
    '@e2ee-kit/safety-number: digits and QR code (./qr) with core, @noble/* and qr',
    'tools/size/safety-number-qr.js',
    undefined,
    '14 KB',
  ),
  check(
    '@e2ee-kit/ratchet: SessionCipher, createPreKeyBundle, PreKeyManager with core and @noble/*',
    'packages/ratchet/dist/index.js',
    '{ SessionCipher, createPreKeyBundle, PreKeyManager }',
    '53 KB',
  ),
  check(
    '@e2ee-kit/sender-keys: GroupCipher with core and @noble/*',
    'packages/sender-keys/dist/index.js',
    '{ GroupCipher, generateDistributionId }',
    '40 KB',
  ),
  check(
    '@e2ee-kit/backup-kdf: createBackup, openBackup with core, @noble/* and hash-wasm',
    'packages/backup-kdf/dist/index.js',
    '{ createBackup, openBackup }',
    '55 KB',
  ),
  check('@e2ee-kit/core: everything', 'packages/core/dist/index.js', undefined, '42 KB'),
];
