import { describe, expect, it } from 'vitest';
import {
  BackupFormatError,
  changeBackupPassword,
  createBackup,
  joinBackupFile,
  MIN_ARGON2_PARAMS,
  openBackup,
  splitBackupFile,
} from '../src/index.js';

describe('splitBackupFile / joinBackupFile', () => {
  it('round-trips, and a password change differs only in the slot section', async () => {
    const data = new Uint8Array(70_000).map((_, i) => i % 251);
    const created = await createBackup(data, { password: 'correct horse', argon2: MIN_ARGON2_PARAMS });
    const file = await created.output.bytes();
    const { slots, body } = splitBackupFile(file);
    expect(slots.length + body.length).toBe(file.length);
    expect(joinBackupFile({ slots, body })).toEqual(file);
    const changed = await changeBackupPassword(file, { password: 'correct horse' }, 'battery staple', {
      argon2: MIN_ARGON2_PARAMS,
    });
    const after = splitBackupFile(await changed.output.bytes());
    expect(after.body).toEqual(body);
    expect(after.slots).not.toEqual(slots);
    const opened = await openBackup(joinBackupFile({ slots: after.slots, body }), {
      password: 'battery staple',
    });
    expect(await opened.plaintext.bytes()).toEqual(data);
  });

  it('refuses bytes that are not a backup or a slot section with extra bytes', async () => {
    expect(() => splitBackupFile(new Uint8Array(100))).toThrow(BackupFormatError);
    const created = await createBackup(new Uint8Array(10), {
      password: 'correct horse',
      argon2: MIN_ARGON2_PARAMS,
    });
    const { slots, body } = splitBackupFile(await created.output.bytes());
    const longer = new Uint8Array(slots.length + 1);
    longer.set(slots);
    expect(() => joinBackupFile({ slots: longer, body })).toThrow(BackupFormatError);
    expect(() => joinBackupFile({ slots, body: body.subarray(0, 50) })).toThrow(BackupFormatError);
  });
});
