// `keyring.backupId` is the id every new file of the set is written with. It was the keyring's own
// array: a caller editing what it was given (filling a pooled buffer, XOR-ing it into a map key)
// silently changed the id of every later file, so the files of one set no longer shared it.
import { BackupKeyring, noAttemptLimit, readBackupMetadata, unlockBackup } from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { PASSWORD } from './helpers.js';

describe('keyring.backupId', () => {
  it('is a copy: editing it changes neither the keyring nor the files it writes', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const first = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const id = (await readBackupMetadata(first)).backupId;
    expect(keyring.backupId).toEqual(id);
    keyring.backupId.fill(0);
    keyring.backupId[0]! ^= 1;
    expect(keyring.backupId).toEqual(id);
    expect(keyring.backupId).not.toBe(keyring.backupId);
    const second = await keyring.encrypt([new Uint8Array(3)]).bytes();
    expect((await readBackupMetadata(second)).backupId).toEqual(id);
  });

  it('of an unlocked keyring is a copy too', async () => {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, argon2: unsafeTestParams() });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const unlocked = await unlockBackup(file, { password: PASSWORD }, { attempts: noAttemptLimit });
    unlocked.backupId.fill(0);
    const next = await unlocked.encrypt([new Uint8Array(3)]).bytes();
    expect((await readBackupMetadata(next)).backupId).toEqual(keyring.backupId);
  });
});
