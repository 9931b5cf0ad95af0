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
    // 13,966 B (2026-12-08): core's assertBytes refuses a detached or out-of-bounds view (+~60 B on
    // this path), paid for in safety-number (one version check, one `malformed` and match/mismatch
    // result for both compares, one inspect symbol, separators as a string, one digit-count loop).
    '14 KB',
  ),
  // The 45 KB target is missed: this is the measured size rounded up to the next kB (59.36 kB on
  // 2026-12-02; 70.5 kB before that day's cuts: the ratchet's ESM is one file per module, so the device,
  // healing and provisioning modules are dropped, -4.8 kB; its default provider is
  // `defaultProviderWithoutAead`, so no AES-GCM, ChaCha20 or Poly1305 code, -5.5 kB; core's
  // registration-id helpers no longer bring KeyValueIdentityKeyStore, -0.8 kB). What the rest is,
  // minified before gzip (177.4 kB; `npx tsx tools/size/inputs.ts ratchet` lists it): the ratchet's
  // own code 82.9 kB (the SPQR braid's spqr/ folder 26.3 kB: codec, chain, ML-KEM-768 incremental
  // encapsulation, GF(2^16) erasure code; records 18.8 kB; pre-keys, handshake, bundle, wire, cipher
  // 37.8 kB); curve25519 34.1 kB (@noble/curves' Edwards code for XEdDSA, Montgomery for X25519, field
  // arithmetic, with core's keys and XEdDSA); SHA-2/HMAC/HKDF 17.9 kB; ML-KEM-1024 for PQXDH and
  // ML-KEM-768 for SPQR 17.2 kB (one @noble/post-quantum copy, SHA-3, NTT); core's protobuf, errors,
  // bytes, UTF-8 and the rest 12.6 kB; AES-256-CBC 7.8 kB; the provider's Web Crypto probe and key
  // caches 4.2 kB. String literals (mostly error messages) are about 26 kB of it and 9 kB of the
  // gzipped size. What is left is code these three imports reach (their methods include X3DH,
  // archiving and the SPQR braid): 45 kB needs less protocol or shorter messages, not tree-shaking.
  // 60.46 kB later that day (+0.75 kB gzip, budget 60 → 61 kB): the SPQR folder +1.8 kB minified for
  // its speed-ups (Encaps2 computing v alone instead of a second full encapsulation, barycentric erasure
  // weights, the decoder's kept record) and core's provider +0.4 kB for the cofactorless Ed25519
  // verification on noble (a decision fix: it now refuses what libsignal refuses). Removing every
  // string literal would save about 7.5 kB gzipped, so even that would not reach 45 kB.
  // 61.62 kB on 2026-12-04 (+0.7 kB: PreKeyManager.confirmUpload and the re-offer of unconfirmed
  // signed, last-resort and one-time keys, the retired-key cap, the future-timestamp rotation rule).
  check(
    '@e2ee-kit/ratchet: SessionCipher, createPreKeyBundle, PreKeyManager with core and @noble/*',
    'packages/ratchet/dist/index.js',
    '{ SessionCipher, createPreKeyBundle, PreKeyManager }',
    // 61.62 kB after the pre-key work (confirmUpload, capped last-resort markers) and REENTRANT_CALL (2026-12-04): budget 61 → 62 kB.
    // 62.14 kB (+0.2 kB) with deliver-guard.ts, the wait limit that ends a deliver awaiting its own address's lock: 62 → 62.3 kB.
    // 62.32 kB with the DeliverScope (in place of the wait limit) and the lock state shared by two copies (2026-12-07): 62.3 → 62.4 kB.
    // 62.49 kB later that day: the one-minute backstop back beside the DeliverScope, DeviceFanout's
    // approveIdentity / IdentityChangedError / takeUnreported, the conditional identity undo: 62.4 → 62.5 kB.
    // 62.96 kB (+0.47 kB) with records of another copy of the package read through their serialized
    // form (records/own-record.ts, the record and SpqrState brands): 62.5 → 63 kB.
    // 63.21 kB after merging hL/hM the same day (core's protobuf reader skips unknown groups as prost does): 63 → 63.3 kB.
    // 64.08 kB (+0.78 kB, core's +0.46 included) with core's keys, bundles and retry receipts of another copy: 63.3 → 64.1 kB.
    // 64.39 kB after unknown protobuf groups skipped in SignalMessage / PreKeySignalMessage / records as prost does
    // (+0.18 kB) and ten-byte varints with uint32 truncation: 64.1 → 64.4 kB.
    // 64.41 kB (2026-12-08, +6 B): other-copy value classes read through core's ownValue (was a copy here): 64.4 → 64.5 kB.
    // 64.5 kB (+0.1 kB): core's assertBytes refuses a view of a detached ArrayBuffer and noble's CBC plaintext owns its buffer: 64.4 → 64.5 kB.
    // 65.2 kB (2026-12-08, +0.7 kB): PreKeyManager undoes a failed operation (one list of undo steps, maintain under one lock), skips ids still stored, checks its clock; createPreKeyBundle is one operation: 64.5 → 65.3 kB.
    '65.3 KB',
  ),
  // 41.1 kB on 2026-12-02: +1.1 kB that day for core's block-by-block HMAC/HKDF (sender-key chain
  // steps are short HMACs, which it speeds up by ~1.3×).
  // 41.91 kB on 2026-12-03 (+0.15 kB: group-cipher.ts split into modules of one job each — its
  // shared state is a GroupContext object, its membership operations functions over it).
  // 42.27 kB later that day (+0.3 kB, budget 42 → 43 kB): security fixes — a device that asked for
  // a resend, or was listed by prepareSend but never confirmed, stays recorded as handed the chain (a
  // second key-holder list), so its removal still rotates; every writing operation runs in the
  // store's transaction, so another tab's write is refused rather than undone; an over-long device
  // name in a stored list is a DecodeError.
  // 43.13 kB on 2026-12-04 (budget 43 → 44 kB): receivers keep retired-chain markers so an old SKDM
  // cannot revive a dropped chain (→ 42.94 kB), and own states keep prepareSend's rotation reason for its retry (+0.19 kB).
  check(
    '@e2ee-kit/sender-keys: GroupCipher with core and @noble/*',
    'packages/sender-keys/dist/index.js',
    '{ GroupCipher, generateDistributionId }',
    // 44.27 kB on 2026-12-07 (+0.27 kB: core's keys of another copy, KeyPair/PublicKey.from): 44 → 44.3 kB.
    // 44.31 kB with core's one generic other-copy reader (readOtherCopy's options): 44.3 → 44.4 kB.
    // 44.48 kB (2026-12-08): one lock per store across copies, libsignal's distribution id forms: → 44.5 kB.
    // 44.79 kB: REENTRANT_CALL for a call from deliver on its own key (deliver-guard.ts), the per-record holder cap: → 44.8 kB.
    // 44.97 kB (+0.18 kB): the ratchet's one-minute backstop, which ends a call waiting behind a deliver that awaits it: → 45 kB.
    // 45.08 kB (+0.11 kB): distribution and group messages of another copy read through their bytes (brands, caps): → 45.1 kB.
    // 45.17 kB (2026-12-08): the deliver guard moved to core (one mechanism for ratchet and sender keys): 45.1 → 45.2 kB.
    // 45.26 kB (+0.09 kB): core's assertBytes refuses a view of a detached ArrayBuffer and noble's CBC plaintext owns its buffer: 45.2 → 45.3 kB.
    // 45.40 kB (+0.12 kB): without a store transaction a failed operation's landed writes are undone (undo-journal.ts): 45.3 → 45.4 kB.
    // 45.40 kB (2026-12-08): core's ownValue decodes a secret other-copy temporary itself (no second, unwiped copy): 45.4 → 45.5 kB.
    '45.5 KB',
  ),
  // 56.08 kB on 2026-12-02 (+1.1 kB that day: its HKDFs reach core's block-by-block HMAC/HKDF).
  // 57.41 kB on 2026-12-03 (+0.6 kB: each guess is reserved in one compare-and-set with the lockout
  // check before its KDF, and settled after, so contexts sharing an attempt store cannot guess twice).
  // 58.28 kB on 2026-12-04 (+0.35 kB, budget 58 → 59 kB): creation checks the readers' Argon2 caps;
  // rewriteSlots checks the last chunk it copies; decrypt and external slots work from copies.
  check(
    '@e2ee-kit/backup-kdf: createBackup, openBackup with core, @noble/* and hash-wasm',
    'packages/backup-kdf/dist/index.js',
    '{ createBackup, openBackup }',
    '59 KB',
  ),
  // 42.33 kB on 2026-12-02 (+1.1 kB that day: the block-by-block HMAC/HKDF for short inputs; +0.3 kB:
  // `defaultProviderWithoutAead` and the provider's per-family modules).
  // 43.09 kB on 2026-12-04 (+0.08 kB: the platform provider copies its byte arguments at the call, and
  // isTrustedIdentity reads the stored key again before refusing): budget 43 → 43.2 kB. 43.23 kB with
  // saveIdentity's compare-and-set retry over a backend that offers it (+0.14 kB): 43.2 → 43.3 kB.
  // 43.38 kB on 2026-12-07 with restoreIdentityEntry's conditional undo (+0.15 kB): 43.3 → 43.4 kB.
  // 43.62 kB later that day (+0.25 kB: ProtoReader skips unknown groups as prost does): 43.4 → 43.7 kB.
  // 44.16 kB (+0.46 kB: key objects of another copy of core read through their serialized form, the
  // classes' from() and brands, key-brand.ts): 43.7 → 44.2 kB. 44.22 kB (+0.02 kB: a wiped
  // KemSecretKey refuses to decapsulate, in its own copy and through from()): 44.2 → 44.3 kB.
  // 44.68 kB (2026-12-08): core exports the deliver guard the ratchet and sender keys share (was two copies): 44.3 → 44.7 kB.
  // 44.73 kB (2026-12-08): ownValue, the other-copy argument reader three packages had a copy of: 44.7 → 44.8 kB.
  // 44.77 kB (+0.09 kB): core's assertBytes refuses a view of a detached ArrayBuffer and noble's CBC plaintext owns its buffer: 44.7 → 44.8 kB.
  // 44.80 kB: the detached-view refusal in assertBytes and noble's CBC plaintext owning its buffer: 44.8 → 44.9 kB.
  check('@e2ee-kit/core: everything', 'packages/core/dist/index.js', undefined, '44.9 KB'),
];
