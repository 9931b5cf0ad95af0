// Issue 11.1: backup-kdf's byte-taking entries — the plaintext source, the backup file (open, unlock,
// metadata, split and join), external slot data and secrets, resolver answers, the attempt store — on
// every provider with offset views and pooled Node Buffers (what `fs.readFile` and streams hand out).
// The caller's bytes (and the bytes around them) stay untouched and nothing we return aliases them.
import {
  BackupKeyring,
  joinBackupFile,
  MemoryAttemptStore,
  noAttemptLimit,
  openBackup,
  readBackupMetadata,
  splitBackupFile,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf } from '../../../tools/caller-bytes.js';
import { allProviders } from '../../../tools/providers.js';

const PASSWORD = 'caller bytes password';
const EXTERNAL_TYPE = 0x90;

describe.each(allProviders)('provider $label', ({ provider }) => {
  it.each(foreignShapes)('create, open, split and join from $name inputs', async ({ make }) => {
    const plaintext = new Uint8Array(3000).map((_, i) => (i * 29 + 1) & 0xff);
    const externalData = new TextEncoder().encode('server record 42');
    const externalSecret = new Uint8Array(32).map((_, i) => 200 - i);
    const options = { provider, argon2: unsafeTestParams(), password: PASSWORD };
    // The keyring keeps copies of the slot data and secret it was given.
    const { keyring } = await checkCallerBytes(
      make,
      [externalData, externalSecret],
      (data, secret) =>
        BackupKeyring.create({ ...options, external: [{ type: EXTERNAL_TYPE, data, secret }] }),
      (r) => r.keyring.slots.map((s) => (s.type === 'external' ? hexOf(s.data) : s.type)),
    );
    // The plaintext source: several pooled pieces, read after the call returns (a stream).
    const file = await checkCallerBytes(
      make,
      [plaintext.subarray(0, 1000), plaintext.subarray(1000, 1001), plaintext.subarray(1001)],
      (...pieces) => keyring.encrypt(pieces).bytes(),
      hexOf,
    );

    const opened = await checkCallerBytes(
      make,
      [file],
      async (f) => {
        const o = await openBackup([f], { password: PASSWORD }, { provider, attempts: noAttemptLimit });
        return { bytes: await o.plaintext.bytes(), backupId: o.metadata.backupId };
      },
      (o) => [hexOf(o.bytes), hexOf(o.backupId)],
    );
    expect(opened.bytes).toEqual(plaintext);
    await checkCallerBytes(
      make,
      [file],
      (f) => readBackupMetadata(f),
      (m) => [hexOf(m.backupId), m.chunkSize],
    );
    // An external resolver's answer may be a pooled Buffer too.
    await checkCallerBytes(
      make,
      [externalSecret],
      async (secret) => {
        const k = await unlockBackup(
          file,
          { external: async (slot) => (slot.type === EXTERNAL_TYPE ? secret : undefined) },
          { provider, attempts: noAttemptLimit },
        );
        return k.backupId;
      },
      hexOf,
      hexOf(opened.backupId),
    );
    const parts = await checkCallerBytes(
      make,
      [file],
      (f) => splitBackupFile(f),
      (p) => [hexOf(p.slots), hexOf(p.body)],
    );
    await checkCallerBytes(
      make,
      [parts.body, parts.slots],
      (body, slots) => joinBackupFile({ body, slots }),
      hexOf,
      hexOf(file),
    );
  });

  it.each(foreignShapes)('the attempt store keeps a copy of a $name', async ({ make }) => {
    const store = new MemoryAttemptStore();
    const value = new Uint8Array(24).fill(3);
    await checkCallerBytes(
      make,
      [value],
      async (v) => {
        await store.set('k', v);
        return store;
      },
      async (s) => hexOf(await s.get('k')),
      hexOf(value),
    );
  });
});
