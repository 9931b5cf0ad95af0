// A backup holds at most 8 slots. Asking for more is misuse (RangeError), and it must be refused
// before any Argon2 run — the creation path says "validate everything before any KDF runs", but
// counted the slots only after deriving every one of them (a 64 MiB Argon2 run for nothing).
import {
  BackupKeyring,
  changeBackupPassword,
  createBackup,
  noAttemptLimit,
  unlockBackup,
} from '@e2ee-kit/backup-kdf';
import { unsafeTestParams } from '@e2ee-kit/backup-kdf/testing';
import { describe, expect, it } from 'vitest';
import { countingArgon2, PASSWORD } from './helpers.js';

const external = (i: number) => ({ type: 0x80 + i, secret: new Uint8Array(32).fill(i + 1) });

describe('more than 8 slots is refused before any KDF runs', () => {
  it('createBackup with a password, a recovery key and 7 external slots (9)', async () => {
    const argon2Provider = countingArgon2();
    const err = await createBackup([new Uint8Array(3)], {
      password: PASSWORD,
      recoveryKey: true,
      external: Array.from({ length: 7 }, (_, i) => external(i)),
      argon2: unsafeTestParams(),
      argon2Provider,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(argon2Provider.calls).toBe(0);
  });

  it('keyring.changePassword adding a password slot to a full keyring', async () => {
    const { keyring } = await BackupKeyring.create({
      external: Array.from({ length: 8 }, (_, i) => external(i)),
    });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    const argon2Provider = countingArgon2();
    const opened = await unlockBackup(
      file,
      { external: async ({ type }) => external(type - 0x80).secret },
      { attempts: noAttemptLimit, argon2Provider },
    );
    await expect(opened.changePassword(PASSWORD, { argon2: unsafeTestParams() })).rejects.toBeInstanceOf(
      RangeError,
    );
    expect(argon2Provider.calls).toBe(0);
    expect(opened.slots).toHaveLength(8);
  });

  it('changeBackupPassword on a file whose 8 slots hold no password: refused before unlocking', async () => {
    const { keyring } = await BackupKeyring.create({
      external: Array.from({ length: 8 }, (_, i) => external(i)),
    });
    const file = await keyring.encrypt([new Uint8Array(3)]).bytes();
    let resolved = 0;
    const argon2Provider = countingArgon2();
    const resolver = async ({ type }: { type: number }) => {
      resolved++;
      return external(type - 0x80).secret;
    };
    const err = await changeBackupPassword(file, { external: resolver }, PASSWORD, {
      attempts: noAttemptLimit,
      argon2Provider,
      argon2: unsafeTestParams(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RangeError);
    expect(resolved).toBe(0);
    expect(argon2Provider.calls).toBe(0);
  });
});
