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
  // The 45 KB target is missed: this is the measured size rounded up to the next kB (68.48 kB on
  // 2026-12-02, after the linked-device, lock and delivery work; 70.03 kB after the chain-walk and SPQR
  // speed work of the same day: core's block-by-block HMAC/HKDF on noble's SHA-256 ~1.1 kB, the SPQR
  // state writer and cache ~0.4 kB; 70.5 kB with HealingCipher's SessionCipher.archive and
  // discardUnreadableSession), not a goal. What the bytes are (minified, before gzip), before
  // that: the ratchet's own
  // code ~96 kB (records, pre-keys, handshake, wire, and the SPQR braid: its codec, chain, ML-KEM-768
  // incremental encapsulation and the GF(2^16) erasure code, ~21 kB of it); curve25519 (Edwards for
  // XEdDSA, Montgomery for X25519, field arithmetic) ~28 kB; ML-KEM-1024 for PQXDH and ML-KEM-768 for
  // SPQR (one @noble/post-quantum copy, shared SHA-3) ~13 kB; SHA-2/HMAC/HKDF ~12 kB; core's protobuf,
  // keys and identity ~12 kB; and ~9 kB of AES-GCM and ChaCha20-Poly1305 that the ratchet never calls:
  // the default provider (`platformProvider`) names every primitive, so a bundler cannot drop them
  // (only moving those fallbacks behind a dynamic import could, and that is a provider change).
  check(
    '@e2ee-kit/ratchet: SessionCipher, createPreKeyBundle, PreKeyManager with core and @noble/*',
    'packages/ratchet/dist/index.js',
    '{ SessionCipher, createPreKeyBundle, PreKeyManager }',
    '71 KB',
  ),
  // 41.1 kB on 2026-12-02: +1.1 kB that day for core's block-by-block HMAC/HKDF (sender-key chain
  // steps are short HMACs, which it speeds up by ~1.3×).
  check(
    '@e2ee-kit/sender-keys: GroupCipher with core and @noble/*',
    'packages/sender-keys/dist/index.js',
    '{ GroupCipher, generateDistributionId }',
    '42 KB',
  ),
  // 56.11 kB on 2026-12-02 (+1.1 kB that day: its HKDFs reach core's block-by-block HMAC/HKDF).
  check(
    '@e2ee-kit/backup-kdf: createBackup, openBackup with core, @noble/* and hash-wasm',
    'packages/backup-kdf/dist/index.js',
    '{ createBackup, openBackup }',
    '57 KB',
  ),
  // 42.01 kB on 2026-12-02 (+1.1 kB that day: the block-by-block HMAC/HKDF for short inputs).
  check('@e2ee-kit/core: everything', 'packages/core/dist/index.js', undefined, '43 KB'),
];
